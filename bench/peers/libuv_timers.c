/* bench/peers/libuv_timers.c: the peer of timers.c and timer_heap.c: a million
 * uv_timer_t armed with random timeouts and all fired.
 *
 * Same draws as cora's side (BENCH_SEED, [0, 1 s)), cut to libuv's millisecond
 * resolution. The timer records are allocated inside the timed part, as cora's are.
 * The figure is CPU time (user + system) from the first uv_timer_start to uv_run
 * returning, which it does once no timer is left active; the CPU time to arm them
 * all is printed too.
 *
 *     libuv_timers [n]
 */
#include "../bench.h"

#include <uv.h>

static long fired;

static void on_timer(uv_timer_t *t)
{
    (void)t;
    fired++;
}

int main(int argc, char **argv)
{
    long n = bench_arg(argc, argv, 1, 1000000);
    int64_t *delay_ns = malloc((size_t)n * sizeof *delay_ns);
    if (!delay_ns) return 1;
    uint64_t seed = BENCH_SEED;
    for (long i = 0; i < n; i++)
        delay_ns[i] = (int64_t)(bench_rand(&seed) % 1000000000);

    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) return 1;
    int64_t cpu0 = bench_cpu_ns(), wall0 = bench_now_ns();
    uv_timer_t *tm = malloc((size_t)n * sizeof *tm);
    if (!tm) return 1;
    uv_update_time(&loop); /* timeouts count from now, not from uv_loop_init */
    for (long i = 0; i < n; i++) {
        uv_timer_init(&loop, &tm[i]);
        uv_timer_start(&tm[i], on_timer, (uint64_t)(delay_ns[i] / 1000000), 0);
    }
    int64_t cpu_armed = bench_cpu_ns();
    uv_run(&loop, UV_RUN_DEFAULT);
    int64_t cpu1 = bench_cpu_ns(), wall1 = bench_now_ns();
    if (fired != n) {
        fprintf(stderr, "libuv_timers: %ld of %ld fired\n", fired, n);
        return 1;
    }

    /* Closing is libuv's bookkeeping for handles, not part of a timer's life here. */
    for (long i = 0; i < n; i++)
        uv_close((uv_handle_t *)&tm[i], NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    free(tm);
    free(delay_ns);

    double cpu = (double)(cpu1 - cpu0) / 1e9, wall = (double)(wall1 - wall0) / 1e9;
    printf("%ld uv_timer_t (libuv %s), timeouts in [0, 1000) ms: %.3f s CPU, %.3f s wall\n", n,
           uv_version_string(), cpu, wall);
    bench_result("libuv_timers_cpu", cpu, "s");
    bench_result("libuv_timers_arm_cpu", (double)(cpu_armed - cpu0) / 1e9, "s");
    bench_result("libuv_timers_wall", wall, "s");
    return 0;
}

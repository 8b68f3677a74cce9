/* bench/timer_heap.c: a million timers through cora's timer heap and the loop's
 * firing rule alone, without tasks: the like-for-like peer of libuv's uv_timer
 * (peers/libuv_timers.c), whose timers are callbacks, not tasks.
 *
 * Uses the internal heap (src/core/timer.c) the way src/core/loop.c does each round:
 * read the clock, pop and fire every timer whose deadline has passed, then block
 * until the next deadline (clock_nanosleep here; the backend's timed poll in the
 * loop). Deadlines are the same draws as timers.c and peers/libuv_timers.c. The
 * figure is CPU time (user + system) from arming the first timer to firing the last;
 * the CPU time to arm them all is printed too, the heap's share without the sleeps.
 *
 *     timer_heap [n]
 */
#include "../src/core/internal.h"
#include "bench.h"

static long fired;

static void on_fire(cora__timer *t)
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

    /* The timer records are allocated inside the timed part, as libuv's are. */
    int64_t cpu0 = bench_cpu_ns(), wall0 = bench_now_ns();
    cora__timer *tm = malloc((size_t)n * sizeof *tm);
    if (!tm) return 1;
    cora__heap heap;
    cora__heap_init(&heap);
    int64_t base = bench_now_ns();
    for (long i = 0; i < n; i++) {
        tm[i].deadline = base + delay_ns[i];
        tm[i].fire = on_fire;
        if (cora__heap_push(&heap, &tm[i]) < 0) return 1;
    }
    int64_t cpu_armed = bench_cpu_ns();
    cora__timer *top;
    while ((top = cora__heap_top(&heap))) {
        int64_t now = bench_now_ns();
        while ((top = cora__heap_top(&heap)) && top->deadline <= now) {
            cora__heap_remove(&heap, top);
            top->fire(top);
        }
        if (top) {
            struct timespec ts = {.tv_sec = top->deadline / 1000000000,
                                  .tv_nsec = top->deadline % 1000000000};
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
        }
    }
    cora__heap_free(&heap);
    free(tm);
    int64_t cpu1 = bench_cpu_ns(), wall1 = bench_now_ns();
    free(delay_ns);
    if (fired != n) return 1;

    double cpu = (double)(cpu1 - cpu0) / 1e9, wall = (double)(wall1 - wall0) / 1e9;
    printf("%ld timers through cora's heap, deadlines in [0, 1 s): %.3f s CPU, %.3f s wall\n", n,
           cpu, wall);
    bench_result("cora_timers_heap_cpu", cpu, "s");
    bench_result("cora_timers_heap_arm_cpu", (double)(cpu_armed - cpu0) / 1e9, "s");
    bench_result("cora_timers_heap_wall", wall, "s");
    return 0;
}

/* bench/timers.c: a million timers armed with random deadlines and all fired, as
 * cora programs arm them: one task per timer, each in cora_sleep_ns.
 *
 * Every deadline is drawn in [0, 1 s) from BENCH_SEED, the same draws as
 * peers/libuv_timers.c (which uses them at libuv's millisecond resolution) and
 * timer_heap.c. The wall time is about one second whatever the implementation, so
 * the figure that tells them apart is the process's CPU time (user + system) from
 * the first spawn to the last task awaited. It includes what a timer costs a cora
 * program beyond the timer heap: a task record, a stack (mapped, its first page
 * touched, unmapped: the pool keeps only a thousand), two switches; timer_heap.c
 * measures the heap and loop alone.
 *
 *     timers [n]
 */
#include <cora.h>

#include "bench.h"

static long n_timers, fired;
static int64_t *delay_ns;

static void *sleeper(void *arg)
{
    int r = cora_sleep_ns(*(const int64_t *)arg);
    if (r < 0) return cora_fail(r);
    fired++;
    return NULL;
}

static void *amain(void *arg)
{
    (void)arg;
    cora_task **t = malloc((size_t)n_timers * sizeof *t);
    if (!t) return cora_fail(-ENOMEM);
    memset(t, 0, (size_t)n_timers * sizeof *t);

    int64_t cpu0 = bench_cpu_ns(), wall0 = bench_now_ns();
    for (long i = 0; i < n_timers; i++) {
        int r = cora_spawn_ex(&t[i], sleeper, &delay_ns[i], NULL);
        if (r < 0) return cora_fail(r);
    }
    for (long i = 0; i < n_timers; i++)
        if (cora_await(t[i], NULL) < 0) return cora_fail(-EIO);
    int64_t cpu1 = bench_cpu_ns(), wall1 = bench_now_ns();
    free(t);
    if (fired != n_timers) return cora_fail(-EIO);

    double cpu = (double)(cpu1 - cpu0) / 1e9, wall = (double)(wall1 - wall0) / 1e9;
    printf("%ld sleeping tasks, random deadlines in [0, 1 s): %.3f s CPU, %.3f s wall\n", n_timers,
           cpu, wall);
    bench_result("cora_timers_tasks_cpu", cpu, "s");
    bench_result("cora_timers_tasks_wall", wall, "s");
    return NULL;
}

int main(int argc, char **argv)
{
    n_timers = bench_arg(argc, argv, 1, 1000000);
    delay_ns = malloc((size_t)n_timers * sizeof *delay_ns);
    if (!delay_ns) return 1;
    uint64_t seed = BENCH_SEED;
    for (long i = 0; i < n_timers; i++)
        delay_ns[i] = (int64_t)(bench_rand(&seed) % 1000000000);
    int r = cora_run(amain, NULL, NULL);
    free(delay_ns);
    if (r < 0) {
        fprintf(stderr, "timers: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

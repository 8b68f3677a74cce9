/* bench/yield.c: a task switch through the scheduler, with the public API.
 *
 * Two tasks take turns with cora_yield(). One cora_yield() is: the task switches to
 * the scheduler (one raw switch), the scheduler takes the next ready task off the run
 * queue and switches to it (a second raw switch). Each round of the loop (every task
 * ready at its start runs once; docs/loop.md) also reads the clock, looks at the
 * timers and, when something is in flight, polls the backend; with two tasks a round
 * holds two yields, which share that work. The figure is ns per cora_yield(): from
 * one task leaving to the other one running. ctx_switch.c times the raw switch alone.
 *
 *     yield [yields-per-task [repeats]]
 */
#include <cora.h>

#include "bench.h"

static long per_task;

static void *yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_task; i++)
        if (cora_yield() < 0) return cora_fail(-ECANCELED);
    return NULL;
}

/* Spawns two yielders and awaits them; returns ns per yield. */
static double one_run(void)
{
    int64_t t0 = bench_now_ns();
    cora_task *a = cora_spawn(yielder, NULL);
    cora_task *b = cora_spawn(yielder, NULL);
    if (!a || !b) return -1;
    if (cora_await(a, NULL) < 0 || cora_await(b, NULL) < 0) return -1;
    return (double)(bench_now_ns() - t0) / (2.0 * (double)per_task);
}

static long repeats;

static void *amain(void *arg)
{
    (void)arg;
    long want = per_task;
    per_task = 1000; /* warm: stacks in the pool, caches, the backend's first rounds */
    one_run();
    per_task = want;
    double best = 0;
    for (long r = 0; r < repeats; r++) {
        double ns = one_run();
        if (ns < 0) return cora_fail(-EIO);
        if (r == 0 || ns < best) best = ns;
    }
    if (repeats > 0 && per_task > 0) {
        printf("cora_yield, 2 tasks (%s): %.2f ns per yield (best of %ld runs of %ld yields)\n",
               cora_loop_backend(cora_loop_current()), best, repeats, 2 * per_task);
        bench_result("cora_yield", best, "ns/yield");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    per_task = bench_arg(argc, argv, 1, 2000000);
    repeats = bench_arg(argc, argv, 2, 5);
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "yield: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

/* bench/lock.c: a cora_lock taken in turn by many tasks, with the public API.
 *
 * `tasks` tasks (100) each loop {cora_lock_acquire; critical section; release}, `n`
 * acquisitions in all. The critical section counts the acquisition and notes when
 * the lock changed hands (the holder differs from the previous one). Two variants:
 *   contended  the holder calls cora_yield() inside the critical section, so every
 *              other task gets to run, finds the lock taken and queues on it. Each
 *              release then hands the lock to the first waiter (FIFO), and every
 *              acquisition is a hand-over to another task: the figure is the
 *              hand-over rate asked for. Go's peer calls runtime.Gosched() at the same
 *              place (peers/go/lock.go), for the same reason: with one thread nothing
 *              else would run while the lock is held.
 *   no yield   nothing suspends inside: the lock is always free when asked for, so a
 *              task runs its whole loop once it starts. This is the lock's fast path
 *              (acquire + release with nobody waiting), not a hand-over.
 * The figure is wall ns per acquisition (acquire, critical section, release, and for
 * the contended variant the yield and the switch to the next holder); acquisitions
 * per second is 1e9 over it. Each program also prints the share of acquisitions that
 * changed hands, which shows whether the lock was handed over (1.00) or kept.
 *
 *     lock [acquisitions [repeats [contended|noyield|all [tasks]]]]
 */
#include <cora.h>
#include <stdbool.h>

#include "bench.h"

static long n_acq, n_tasks, repeats;

static cora_lock lock;
static bool yield_inside;
static long per_task;
static long counter, handovers;
static intptr_t last_holder;

static void *worker(void *arg)
{
    intptr_t me = (intptr_t)arg;
    for (long i = 0; i < per_task; i++) {
        if (cora_lock_acquire(&lock) < 0) return cora_fail(-EIO);
        if (last_holder != me) {
            handovers++;
            last_holder = me;
        }
        counter++;
        if (yield_inside && cora_yield() < 0) return cora_fail(-EIO);
        if (cora_lock_release(&lock) < 0) return cora_fail(-EIO);
    }
    return NULL;
}

/* One run of per_task acquisitions by each task: ns per acquisition, or -1. The
 * tasks are spawned before the clock starts (spawning is spawn.c's figure) and start
 * running when the main task parks in gather. */
static double one_run(cora_task **t, double *share)
{
    cora_lock_init(&lock);
    counter = handovers = 0;
    last_holder = -1;
    for (long i = 0; i < n_tasks; i++)
        if (!(t[i] = cora_spawn(worker, (void *)(intptr_t)i))) return -1;
    int64_t t0 = bench_now_ns();
    if (cora_gather((size_t)n_tasks, t, NULL, 0) < 0) return -1;
    int64_t t1 = bench_now_ns();
    if (counter != per_task * n_tasks) return -1;
    *share = (double)handovers / (double)counter;
    return (double)(t1 - t0) / (double)counter;
}

static int measure(bool yield, const char *what, const char *key)
{
    cora_task **t = malloc((size_t)n_tasks * sizeof *t);
    if (!t) return -ENOMEM;
    yield_inside = yield;
    double share, best = 0, best_share = 0;
    per_task = 100; /* warm: stacks in the pool */
    if (one_run(t, &share) < 0) return -EIO;
    per_task = n_acq / n_tasks;
    for (long r = 0; r < repeats; r++) {
        double ns = one_run(t, &share);
        if (ns < 0) return -EIO;
        if (r == 0 || ns < best) {
            best = ns;
            best_share = share;
        }
    }
    free(t);
    printf("%s, %ld tasks: %.2f ns per acquisition, %.2f M acquisitions/s, %.2f of them "
           "hand-overs (best of %ld runs of %ld)\n",
           what, n_tasks, best, 1e3 / best, best_share, repeats, per_task * n_tasks);
    char name[64];
    bench_result(key, best, "ns/acq");
    snprintf(name, sizeof name, "%s_rate", key);
    bench_result(name, 1e9 / best, "acq/s");
    snprintf(name, sizeof name, "%s_share", key);
    bench_result(name, best_share, "handovers/acq");
    return 0;
}

static const char *mode;

static void *amain(void *arg)
{
    (void)arg;
    bool all = strcmp(mode, "all") == 0;
    if ((all || strcmp(mode, "contended") == 0) &&
        measure(true, "cora_lock, cora_yield inside (contended)", "cora_lock_contended") < 0)
        return cora_fail(-EIO);
    if ((all || strcmp(mode, "noyield") == 0) &&
        measure(false, "cora_lock, nothing inside (fast path)", "cora_lock_noyield") < 0)
        return cora_fail(-EIO);
    return NULL;
}

int main(int argc, char **argv)
{
    n_acq = bench_arg(argc, argv, 1, 1000000);
    repeats = bench_arg(argc, argv, 2, 3);
    mode = argc > 3 ? argv[3] : "all";
    n_tasks = bench_arg(argc, argv, 4, 100);
    if (n_tasks < 1 || n_acq < n_tasks || repeats < 1 ||
        (strcmp(mode, "all") && strcmp(mode, "contended") && strcmp(mode, "noyield"))) {
        fprintf(stderr, "usage: lock [acquisitions [repeats [contended|noyield|all [tasks]]]]\n"
                        "with acquisitions >= tasks >= 1\n");
        return 2;
    }
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "lock: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

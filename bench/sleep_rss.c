/* bench/sleep_rss.c: resident memory per sleeping task, with the public API.
 *
 * Spawns n tasks that each sleep for an hour, yields once so that every one of them
 * has run and is asleep, and reads VmRSS from /proc/self/status before and after:
 * the difference over n is what one sleeping task costs (its task record, the one
 * stack page it touched, its timer heap slot). The handle array is allocated and
 * touched before the first reading, since it is this program's memory, not cora's.
 * Then every task is cancelled and awaited, so the run also shows they all come back.
 *
 * VmRSS does not count page tables. Each stack is its own mapping, so the touched
 * pages of neighbouring stacks are a stack's reservation apart and need page-table
 * pages of their own; VmPTE shows that cost, printed beside it and in run.sh's table.
 *
 *     sleep_rss [n]
 */
#include <cora.h>

#include "bench.h"

static long n_tasks;

static void *sleeper(void *arg)
{
    (void)arg;
    int r = cora_sleep(3600);
    return r == -ECANCELED ? NULL : cora_fail(-EIO); /* only a cancel may end it */
}

static void *amain(void *arg)
{
    (void)arg;
    cora_task **t = malloc((size_t)n_tasks * sizeof *t);
    if (!t) return cora_fail(-ENOMEM);
    memset(t, 0, (size_t)n_tasks * sizeof *t); /* commit the array before measuring */

    long rss0 = bench_status_kib("VmRSS"), pte0 = bench_status_kib("VmPTE");
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n_tasks; i++) {
        int r = cora_spawn_ex(&t[i], sleeper, NULL, NULL);
        if (r < 0) {
            fprintf(stderr, "sleep_rss: spawn %ld failed: %s\n", i, cora_strerror(r));
            return cora_fail(r);
        }
    }
    cora_yield(); /* each task runs once, to its cora_sleep */
    int64_t t1 = bench_now_ns();
    long rss1 = bench_status_kib("VmRSS"), pte1 = bench_status_kib("VmPTE");

    for (long i = 0; i < n_tasks; i++)
        cora_cancel(t[i]);
    long cancelled = 0;
    for (long i = 0; i < n_tasks; i++)
        if (cora_await(t[i], NULL) == -ECANCELED) cancelled++;
    int64_t t2 = bench_now_ns();
    free(t);
    if (cancelled != n_tasks) {
        fprintf(stderr, "sleep_rss: only %ld of %ld tasks ended cancelled\n", cancelled, n_tasks);
        return cora_fail(-EIO);
    }

    double rss = (double)(rss1 - rss0) / (double)n_tasks;
    double pte = (double)(pte1 - pte0) / (double)n_tasks;
    printf("%ld sleeping tasks: %.3f KiB RSS per task, plus %.3f KiB of page tables; "
           "spawned and asleep in %.2f s, cancelled and awaited in %.2f s\n",
           n_tasks, rss, pte, (double)(t1 - t0) / 1e9, (double)(t2 - t1) / 1e9);
    char name[64];
    snprintf(name, sizeof name, "cora_sleep_rss_%ld", n_tasks);
    bench_result(name, rss, "KiB/task");
    snprintf(name, sizeof name, "cora_sleep_pte_%ld", n_tasks);
    bench_result(name, pte, "KiB/task");
    return NULL;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 100000);
    if (n_tasks < 1) return 2;
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "sleep_rss: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

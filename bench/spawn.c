/* bench/spawn.c: spawn + await of a trivial task, with the public API.
 *
 * Two shapes, each over `n` tasks in all:
 *   serial  cora_spawn(trivial) then cora_await it, n times: one task alive at a time,
 *           so every spawn reuses a pooled stack and every await parks and resumes
 *           the caller;
 *   batch   spawn `batch` tasks, then await them in spawn order, n/batch times: the
 *           shape of Go's WaitGroup (peers/go/spawn.go) and of asyncio's create_task
 *           + gather (peers/python/spawn.py).
 * The figure is wall ns per task (spawn, run, finish, await, release).
 *
 *     spawn [n [batch]]
 */
#include <cora.h>

#include "bench.h"

static long n_tasks, batch;

static void *trivial(void *arg)
{
    return arg;
}

static double run_serial(long n)
{
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        cora_task *t = cora_spawn(trivial, NULL);
        if (!t || cora_await(t, NULL) < 0) return -1;
    }
    return (double)(bench_now_ns() - t0) / (double)n;
}

static double run_batch(long n, long b, cora_task **t)
{
    int64_t t0 = bench_now_ns();
    for (long done = 0; done < n; done += b) {
        for (long i = 0; i < b; i++)
            if (!(t[i] = cora_spawn(trivial, NULL))) return -1;
        for (long i = 0; i < b; i++)
            if (cora_await(t[i], NULL) < 0) return -1;
    }
    return (double)(bench_now_ns() - t0) / (double)(n / b * b);
}

static void *amain(void *arg)
{
    (void)arg;
    cora_task **t = malloc((size_t)batch * sizeof *t);
    if (!t) return cora_fail(-ENOMEM);
    /* Warm: fill the stack pool and grow the loop's structures before timing. */
    if (run_serial(10000) < 0 || run_batch(10 * batch, batch, t) < 0) return cora_fail(-EIO);

    double serial = run_serial(n_tasks);
    double batched = run_batch(n_tasks, batch, t);
    free(t);
    if (serial < 0 || batched < 0) return cora_fail(-EIO);
    printf("spawn+await, serial: %.1f ns per task (%ld tasks)\n", serial, n_tasks);
    printf("spawn+await, batches of %ld: %.1f ns per task (%ld tasks)\n", batch, batched,
           n_tasks / batch * batch);
    bench_result("cora_spawn_serial", serial, "ns/task");
    bench_result("cora_spawn_batch", batched, "ns/task");
    return NULL;
}

int main(int argc, char **argv)
{
    n_tasks = bench_arg(argc, argv, 1, 1000000);
    batch = bench_arg(argc, argv, 2, 1000);
    if (n_tasks < batch || batch < 1) {
        fprintf(stderr, "usage: spawn [n [batch]] with n >= batch >= 1\n");
        return 2;
    }
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "spawn: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

/* bench/http_client.c: cora's side of the HTTP client benchmark, with the public
 * client API (cora/http.h): N GET requests over C keep-alive connections to one
 * server (nginx, started by bench/run.sh).
 *
 * One cora_http_client with max_idle_per_host = C and max_concurrent = C; C tasks
 * each loop {cora_http_get; check the status is 200; cora_http_response_free} until N
 * requests have been made in all (one loop, one thread: a plain counter shares the
 * work). The same shape as the peers: Go's C goroutines over one http.Client
 * (peers/go/http_client.go) and libcurl's C easy handles in one multi handle
 * (peers/http_client_curl.c).
 *
 * One warm-up round of C x 10 requests opens the connections; then `rounds` rounds of
 * N requests each are timed. Printed: the best round's requests per second, the
 * median round's, and the process's CPU time (user + system) per request over the
 * timed rounds. A request that fails or answers other than 200 is counted as an error
 * and makes the program exit 1. CORA_BACKEND=uring|epoll picks the backend; the one
 * in use is printed.
 *
 *     http_client URL [requests [conns [rounds]]]
 */
#include <cora.h>
#include <cora/http.h>

#include "bench.h"

static const char *url;
static long requests, conns, rounds;
static cora_http_client *client;

/* The current round: requests handed out, and errors seen. */
static long total, next, errors;

static void *worker(void *arg)
{
    (void)arg;
    while (next < total) {
        next++;
        cora_http_response resp;
        int r = cora_http_get(client, url, &resp);
        if (r < 0) {
            if (errors++ < 5) fprintf(stderr, "cora_http_get: %s\n", cora_strerror(r));
            continue;
        }
        if (resp.status != 200 && errors++ < 5) fprintf(stderr, "status %d\n", resp.status);
        cora_http_response_free(&resp);
    }
    return NULL;
}

/* Runs one round of n requests over `conns` tasks; returns its errors, or a negative
 * errno if the tasks could not be run. */
static long round_of(long n)
{
    total = n, next = 0, errors = 0;
    cora_task **tasks = calloc((size_t)conns, sizeof *tasks);
    if (!tasks) return -ENOMEM;
    for (long i = 0; i < conns; i++) {
        tasks[i] = cora_spawn(worker, NULL);
        if (!tasks[i]) {
            for (long j = 0; j < i; j++)
                cora_cancel(tasks[j]);
            cora_gather((size_t)i, tasks, NULL, 0);
            free(tasks);
            return -ENOMEM;
        }
    }
    int r = cora_gather((size_t)conns, tasks, NULL, 0);
    free(tasks);
    return r < 0 ? r : errors;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void *amain(void *arg)
{
    (void)arg;
    cora_http_client_opts opts = {
        .max_idle_per_host = (size_t)conns,
        .max_concurrent = (size_t)conns,
    };
    int r = cora_http_client_new(&client, &opts);
    if (r < 0) return cora_fail(r);
    fprintf(stderr, "cora http client, backend %s\n", cora_loop_backend(cora_loop_current()));

    long e = round_of(conns * 10);
    if (e != 0) {
        fprintf(stderr, "warm-up: %s\n", e < 0 ? cora_strerror((int)e) : "errors");
        cora_http_client_free(client);
        return cora_fail(e < 0 ? (int)e : -EPROTO);
    }
    double rates[100];
    long errs = 0;
    int64_t cpu0 = bench_cpu_ns();
    for (long i = 0; i < rounds; i++) {
        int64_t t0 = bench_now_ns();
        e = round_of(requests);
        if (e < 0) {
            fprintf(stderr, "round: %s\n", cora_strerror((int)e));
            cora_http_client_free(client);
            return cora_fail((int)e);
        }
        errs += e;
        rates[i] = (double)requests * 1e9 / (double)(bench_now_ns() - t0);
    }
    double cpu_us = (double)(bench_cpu_ns() - cpu0) / 1e3 / ((double)requests * rounds);
    cora_http_client_free(client);
    qsort(rates, (size_t)rounds, sizeof rates[0], cmp_double);
    double best = rates[rounds - 1], median = rates[rounds / 2];
    printf("cora http client (%s): %ld x %ld GET over %ld conns: best %.0f req/s, median %.0f, "
           "%.2f us CPU/req, %ld errors\n",
           cora_loop_backend(cora_loop_current()), rounds, requests, conns, best, median, cpu_us,
           errs);
    bench_result("cora_http_client_rate", best, "req/s");
    bench_result("cora_http_client_median", median, "req/s");
    bench_result("cora_http_client_cpu", cpu_us, "us");
    return errs ? cora_fail(-EPROTO) : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: http_client URL [requests [conns [rounds]]]\n");
        return 2;
    }
    url = argv[1];
    requests = bench_arg(argc, argv, 2, 10000);
    conns = bench_arg(argc, argv, 3, 64);
    rounds = bench_arg(argc, argv, 4, 5);
    if (requests < 1 || conns < 1 || rounds < 1 || rounds > 100) return 2;
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "http_client: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

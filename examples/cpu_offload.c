/* examples/cpu_offload.c: CPU-heavy work on every core while the loop keeps
 * answering on a socket.
 *
 * The seed says async is a bad fit for CPU-heavy work and sends you to
 * multiprocessing. In C, threads run in parallel, so cora's answer is the thread
 * pool: the counting below is split into chunks that run on worker threads (all
 * cores), while the loop thread stays free to serve a small echo server, which a
 * pinger task measures as it goes.
 *
 *     cpu_offload [LIMIT]     count the primes below LIMIT (default 20,000,000)
 */
#include <cora.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct chunk {
    long from, to, primes;
};

/* Plain CPU work: runs on a worker thread, in parallel with the others. */
static void *count_primes(void *arg)
{
    struct chunk *c = arg;
    for (long n = c->from; n < c->to; n++) {
        if (n < 2 || (n > 2 && n % 2 == 0)) continue;
        int prime = 1;
        for (long d = 3; d * d <= n; d += 2)
            if (n % d == 0) {
                prime = 0;
                break;
            }
        c->primes += prime;
        /* A long job polls for cancellation (Ctrl-C), so it can stop early. */
        if ((n & 0xffff) == 0 && cora_thread_cancelled()) break;
    }
    return NULL;
}

static void *run_chunk(void *arg)
{
    int err = cora_to_thread(count_primes, arg, NULL);
    return err < 0 ? cora_fail(err) : NULL;
}

/* ---- the socket side: an echo server and a task pinging it ---------------------- */

static void *echo(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[64];
    ssize_t n;
    while ((n = cora_recv(fd, buf, sizeof buf, 0)) > 0) cora_send_all(fd, buf, (size_t)n, NULL);
    close(fd);
    return NULL;
}

static void *server(void *arg)
{
    int lfd = *(int *)arg, c;
    cora_group g;
    cora_group_init(&g);
    while ((c = cora_accept(lfd, NULL, NULL)) >= 0)
        cora_group_spawn(&g, echo, (void *)(intptr_t)c, NULL);
    cora_group_cancel(&g);
    cora_group_wait(&g);
    cora_group_destroy(&g);
    return NULL;
}

struct pings {
    int port;
    long answered;
    double worst_ms;
};

static void *pinger(void *arg)
{
    struct pings *p = arg;
    int fd = cora_tcp_connect("127.0.0.1", p->port);
    if (fd < 0) return cora_fail(fd);
    cora_tcp_nodelay(fd, 1);
    char b;
    while (cora_sleep(0.01) == 0) {
        int64_t t0 = cora_now_ns();
        if (cora_send(fd, "p", 1, 0) != 1 || cora_recv(fd, &b, 1, 0) != 1) break;
        double ms = (double)(cora_now_ns() - t0) / 1e6;
        if (ms > p->worst_ms) p->worst_ms = ms;
        p->answered++;
    }
    close(fd);
    return NULL;
}

static void *amain(void *arg)
{
    long limit = *(long *)arg;
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1) threads = 1;
    int lfd = cora_tcp_listen("127.0.0.1", 0, NULL);
    if (lfd < 0) return cora_fail(lfd);
    struct pings p = {.port = cora_socket_port(lfd)};
    cora_task *srv = cora_spawn(server, &lfd), *ping = cora_spawn(pinger, &p);

    /* Four chunks per core, so the cores stay busy while the last chunks finish. */
    enum { MAX_CHUNKS = 256 };
    long n = threads * 4 > MAX_CHUNKS ? MAX_CHUNKS : threads * 4;
    struct chunk chunks[MAX_CHUNKS];
    int64_t t0 = cora_now_ns();
    for (long i = 0; i < n; i++) chunks[i] = (struct chunk){limit * i / n, limit * (i + 1) / n, 0};
    /* cora_to_thread suspends the task that calls it, so each chunk gets its own task,
     * all in one group: every chunk is in flight at once, the pool runs as many as
     * there are cores, and the loop thread only waits. */
    cora_group g;
    cora_group_init(&g);
    for (long i = 0; i < n; i++) cora_group_spawn(&g, run_chunk, &chunks[i], NULL);
    int err = cora_group_wait(&g);
    cora_group_destroy(&g);
    long primes = 0;
    for (long i = 0; i < n; i++) primes += chunks[i].primes;
    double secs = (double)(cora_now_ns() - t0) / 1e9;

    cora_cancel(ping);
    cora_await(ping, NULL);
    cora_cancel(srv);
    cora_await(srv, NULL);
    close(lfd);
    if (err < 0) return cora_fail(err);
    printf("%ld primes below %ld in %.2f s, %ld chunks on up to %ld cores\n", primes, limit, secs,
           n, threads);
    printf("meanwhile the loop answered %ld pings, the slowest in %.2f ms\n", p.answered,
           p.worst_ms);
    return NULL;
}

int main(int argc, char **argv)
{
    long limit = argc > 1 ? atol(argv[1]) : 20000000;
    if (limit < 1 || limit > 2000000000) {
        fprintf(stderr, "usage: %s [LIMIT]\n", argv[0]);
        return 2;
    }
    int err = cora_run(amain, &limit, NULL);
    if (err < 0) {
        fprintf(stderr, "cpu_offload: %s\n", cora_strerror(err));
        return 1;
    }
    return 0;
}

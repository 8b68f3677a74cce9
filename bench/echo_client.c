/* bench/echo_client.c: the one load client of the echo benchmark, for every server
 * (cora's on both backends, libuv, Go, uvloop). Plain C over epoll, no cora, so each
 * server faces the same client.
 *
 * `conns` connections to 127.0.0.1:port; each sends a `size`-byte message, waits for
 * all of it to come back, checks it, and sends the next: one message in flight per
 * connection, so the rate is set by the round trip through the server. The run lasts
 * `warmup` + `seconds`; only the last `seconds` are counted. Over that window it
 * reads the server's CPU time (utime + stime of /proc/PID/stat) at both ends, and
 * reports the server's CPU per message: on a two-core machine, with the client
 * pinned to one core and the server to the other, the client saturates its core
 * first, so the rate alone does not tell good servers apart and CPU per message
 * does (DESIGN.md section 6).
 *
 *     echo_client port conns size warmup seconds server-pid label
 *
 * RESULT lines: <label>_echo_rate (messages/s), <label>_echo_cpu (server CPU us per
 * message), <label>_echo_util (server CPU, % of one core), <label>_echo_client_util
 * (this client's CPU, % of one core). A message is one request and its echo.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "bench_net.h"

#define MAX_SIZE 65536

typedef struct conn {
    int fd;
    uint64_t seq;  /* messages this connection has completed */
    size_t got;    /* bytes of the current echo received */
    char *out, *in;
} conn;

static size_t size;

/* The message is the connection's number and its sequence number, repeated: a
 * server that mixed connections up, or replayed an old message, fails the check. */
static void fill(conn *c, int i)
{
    for (size_t k = 0; k < size; k++) c->out[k] = (char)(i * 131 + c->seq * 7 + k);
}

static int send_msg(conn *c)
{
    /* A message of at most 64 KiB into an empty socket buffer goes at once. */
    ssize_t n = send(c->fd, c->out, size, MSG_NOSIGNAL);
    if (n != (ssize_t)size) {
        fprintf(stderr, "echo_client: short or failed send (%zd): %s\n", n, strerror(errno));
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: echo_client port conns size warmup seconds server-pid label\n");
        return 2;
    }
    int port = atoi(argv[1]), nconns = atoi(argv[2]);
    size = (size_t)atol(argv[3]);
    double warmup = atof(argv[4]), seconds = atof(argv[5]);
    int pid = atoi(argv[6]);
    const char *label = argv[7];
    if (port <= 0 || nconns <= 0 || size == 0 || size > MAX_SIZE || seconds <= 0 || warmup < 0) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }

    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc((size_t)nconns, sizeof *cs);
    if (ep < 0 || !cs) return 1;
    for (int i = 0; i < nconns; i++) {
        conn *c = &cs[i];
        c->fd = bench_connect_local(port);
        c->out = malloc(size);
        c->in = malloc(size);
        if (c->fd < 0 || !c->out || !c->in) return 1;
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        /* Level-triggered and registered once: the client's own cost per message is
         * one send, one recv and a share of an epoll_wait. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) return 1;
    }
    for (int i = 0; i < nconns; i++) {
        fill(&cs[i], i);
        if (send_msg(&cs[i]) < 0) return 1;
    }

    int64_t start = bench_now_ns();
    int64_t t_count = start + (int64_t)(warmup * 1e9);
    int64_t t_end = t_count + (int64_t)(seconds * 1e9);
    int64_t t0 = 0, t1 = 0, cpu0 = -1, cpu1 = -1, self0 = 0, self1 = 0;
    uint64_t total = 0, at_count = 0;
    bool counting = false;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return 1;
        }
        for (int e = 0; e < n; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t r = recv(c->fd, c->in + c->got, size - c->got, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fprintf(stderr, "echo_client: connection %d: %s\n", (int)(c - cs),
                        r == 0 ? "closed by the server" : strerror(errno));
                return 1;
            }
            c->got += (size_t)r;
            if (c->got < size) continue;
            if (memcmp(c->in, c->out, size) != 0) {
                fprintf(stderr, "echo_client: connection %d: wrong bytes echoed\n", (int)(c - cs));
                return 1;
            }
            c->got = 0;
            c->seq++;
            total++;
            fill(c, (int)(c - cs));
            if (send_msg(c) < 0) return 1;
        }
        int64_t now = bench_now_ns();
        if (!counting && now >= t_count) {
            counting = true;
            t0 = now;
            at_count = total;
            cpu0 = pid > 0 ? bench_proc_cpu_ns(pid) : -1;
            self0 = bench_cpu_ns();
        }
        if (counting && now >= t_end) {
            t1 = now;
            cpu1 = pid > 0 ? bench_proc_cpu_ns(pid) : -1;
            self1 = bench_cpu_ns();
            break;
        }
    }
    /* Closing ends each connection's task in the server. */
    for (int i = 0; i < nconns; i++) close(cs[i].fd);

    double secs = (double)(t1 - t0) / 1e9;
    double msgs = (double)(total - at_count);
    double rate = msgs / secs;
    char name[128];
    printf("%s: %.0f messages/s (%d connections, %zu-byte messages, %.0f messages in %.2f s "
           "after %.1f s of warm-up); client CPU %.0f%% of a core",
           label, rate, nconns, size, msgs, secs, warmup, 100.0 * (double)(self1 - self0) / (double)(t1 - t0));
    if (cpu0 >= 0 && cpu1 >= 0) {
        double cpu_us = (double)(cpu1 - cpu0) / 1e3 / msgs;
        printf("; server CPU %.2f us per message, %.0f%% of a core\n", cpu_us,
               100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0));
        snprintf(name, sizeof name, "%s_echo_cpu", label);
        bench_result(name, cpu_us, "us/msg");
        snprintf(name, sizeof name, "%s_echo_util", label);
        bench_result(name, 100.0 * (double)(cpu1 - cpu0) / (double)(t1 - t0), "%");
    } else {
        printf("\n");
    }
    snprintf(name, sizeof name, "%s_echo_rate", label);
    bench_result(name, rate, "msg/s");
    snprintf(name, sizeof name, "%s_echo_client_util", label);
    bench_result(name, 100.0 * (double)(self1 - self0) / (double)(t1 - t0), "%");
    snprintf(name, sizeof name, "%s_echo_total", label);
    bench_result(name, (double)total, "msgs");
    return 0;
}

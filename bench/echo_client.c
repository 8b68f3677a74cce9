/* bench/echo_client.c: the one load client of the echo benchmark, for every server
 * (cora's on both backends, libuv, Go, uvloop). Plain C over epoll, no cora, so each
 * server faces the same client.
 *
 * A round against one server: `conns` connections to 127.0.0.1:port; each sends a
 * `size`-byte message, waits for all of it to come back, checks it, and sends the
 * next: one message in flight per connection. The round lasts `warmup` + `seconds`;
 * only the last `seconds` are counted. Over that window it reads the server's CPU
 * time (utime + stime of /proc/PID/stat) at both ends, for the server's CPU per
 * message: on a two-core machine, with the client pinned to one core and the server
 * to the other, whichever saturates its core first sets the rate, so the rate alone
 * may not tell good servers apart and CPU per message does (DESIGN.md section 6).
 * Then it closes the connections, which ends their tasks in the server.
 *
 * Several servers, all started beforehand, are measured in the same invocation:
 * `rounds` rounds, each visiting every server in turn (the order reversed every other
 * round), so that whatever else the machine is doing falls on all of them alike. Each
 * server's figures are those of its best round (highest rate): the work is the same
 * every round, so the fastest is the least disturbed.
 *
 *     echo_client conns size warmup seconds rounds label=port:pid...
 *
 * RESULT lines for each label: <label>_echo_rate (messages/s), <label>_echo_cpu
 * (server CPU us per message), <label>_echo_util (server CPU, % of one core),
 * <label>_echo_client_util (this client's CPU, % of one core), <label>_echo_other (the
 * rest of the machine's busy CPU over the window, % of one core: work that had nothing
 * to do with the benchmark shows here), <label>_echo_total
 * (messages over the whole of the best round, warm-up included, for callgrind). A
 * message is one request and its echo.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/epoll.h>

#include "bench_net.h"

#define MAX_SIZE 65536

typedef struct conn {
    int fd;
    uint64_t seq; /* messages this connection has completed */
    size_t got;   /* bytes of the current echo received */
    char *out, *in;
} conn;

static size_t size;

/* The message is the connection's number and its sequence number, repeated: a
 * server that mixed connections up, or replayed an old message, fails the check. */
static void fill(conn *c, int i)
{
    for (size_t k = 0; k < size; k++)
        c->out[k] = (char)(i * 131 + c->seq * 7 + k);
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

typedef struct result {
    double rate;      /* messages per second */
    double cpu_us;    /* server CPU per message, us; < 0 if unreadable */
    double util;      /* server CPU, % of one core */
    double self_util; /* this client's CPU, % of one core */
    double other;     /* the rest of the machine's busy CPU, % of one core */
    uint64_t total;   /* messages in the round, warm-up included */
} result;

static int nconns;
static double warmup, seconds;

/* One round against the server on `port` (pid for its CPU time, 0: none). */
static int run_round(int port, int pid, result *out)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn *cs = calloc((size_t)nconns, sizeof *cs);
    if (ep < 0 || !cs) return -1;
    for (int i = 0; i < nconns; i++) {
        conn *c = &cs[i];
        c->fd = bench_connect_local(port);
        c->out = malloc(size);
        c->in = malloc(size);
        if (c->fd < 0 || !c->out || !c->in) return -1;
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        /* Level-triggered and registered once: the client's own cost per message is
         * one send, one recv and a share of an epoll_wait. */
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) return -1;
    }
    for (int i = 0; i < nconns; i++) {
        fill(&cs[i], i);
        if (send_msg(&cs[i]) < 0) return -1;
    }

    int64_t start = bench_now_ns();
    int64_t t_count = start + (int64_t)(warmup * 1e9);
    int64_t t_end = t_count + (int64_t)(seconds * 1e9);
    int64_t t0 = 0, t1 = 0, cpu0 = -1, cpu1 = -1, self0 = 0, self1 = 0, busy0 = 0, busy1 = 0;
    uint64_t total = 0, at_count = 0;
    bool counting = false;
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, 100);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            return -1;
        }
        for (int e = 0; e < n; e++) {
            conn *c = evs[e].data.ptr;
            ssize_t r = recv(c->fd, c->in + c->got, size - c->got, 0);
            if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (r <= 0) {
                fprintf(stderr, "echo_client: connection %d: %s\n", (int)(c - cs),
                        r == 0 ? "closed by the server" : strerror(errno));
                return -1;
            }
            c->got += (size_t)r;
            if (c->got < size) continue;
            if (memcmp(c->in, c->out, size) != 0) {
                fprintf(stderr, "echo_client: connection %d: wrong bytes echoed\n", (int)(c - cs));
                return -1;
            }
            c->got = 0;
            c->seq++;
            total++;
            fill(c, (int)(c - cs));
            if (send_msg(c) < 0) return -1;
        }
        int64_t now = bench_now_ns();
        if (!counting && now >= t_count) {
            counting = true;
            t0 = now;
            at_count = total;
            cpu0 = pid > 0 ? bench_proc_cpu_ns(pid) : -1;
            self0 = bench_cpu_ns();
            busy0 = bench_machine_busy_ns();
        }
        if (counting && now >= t_end) {
            t1 = now;
            cpu1 = pid > 0 ? bench_proc_cpu_ns(pid) : -1;
            self1 = bench_cpu_ns();
            busy1 = bench_machine_busy_ns();
            break;
        }
    }
    for (int i = 0; i < nconns; i++) {
        close(cs[i].fd);
        free(cs[i].out);
        free(cs[i].in);
    }
    free(cs);
    close(ep);

    double msgs = (double)(total - at_count), wall = (double)(t1 - t0);
    out->rate = msgs / (wall / 1e9);
    out->cpu_us = cpu0 >= 0 && cpu1 >= 0 ? (double)(cpu1 - cpu0) / 1e3 / msgs : -1;
    out->util = cpu0 >= 0 && cpu1 >= 0 ? 100.0 * (double)(cpu1 - cpu0) / wall : -1;
    out->self_util = 100.0 * (double)(self1 - self0) / wall;
    out->total = total;
    int64_t server = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : 0;
    out->other = 100.0 * (double)((busy1 - busy0) - (self1 - self0) - server) / wall;
    return 0;
}

typedef struct target {
    char label[64];
    int port, pid;
    result best;
    char rounds[256]; /* each round's rate, for the log */
} target;

int main(int argc, char **argv)
{
    if (argc < 7) {
        fprintf(stderr, "usage: echo_client conns size warmup seconds rounds label=port:pid...\n");
        return 2;
    }
    nconns = atoi(argv[1]);
    size = (size_t)atol(argv[2]);
    warmup = atof(argv[3]);
    seconds = atof(argv[4]);
    int rounds = atoi(argv[5]), ntargets = argc - 6;
    if (nconns <= 0 || size == 0 || size > MAX_SIZE || seconds <= 0 || warmup < 0 || rounds < 1) {
        fprintf(stderr, "echo_client: bad arguments\n");
        return 2;
    }
    target *ts = calloc((size_t)ntargets, sizeof *ts);
    if (!ts) return 1;
    for (int i = 0; i < ntargets; i++) {
        char *eq = strchr(argv[6 + i], '=');
        if (!eq || eq - argv[6 + i] >= (long)sizeof ts[i].label ||
            sscanf(eq + 1, "%d:%d", &ts[i].port, &ts[i].pid) != 2 || ts[i].port <= 0) {
            fprintf(stderr, "echo_client: bad target %s (label=port:pid)\n", argv[6 + i]);
            return 2;
        }
        memcpy(ts[i].label, argv[6 + i], (size_t)(eq - argv[6 + i]));
    }

    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < ntargets; k++) {
            target *t = &ts[r % 2 ? ntargets - 1 - k : k];
            result res;
            if (run_round(t->port, t->pid, &res) < 0) {
                fprintf(stderr, "echo_client: %s failed\n", t->label);
                return 1;
            }
            size_t len = strlen(t->rounds);
            snprintf(t->rounds + len, sizeof t->rounds - len, "%s%.0fk", len ? " " : "",
                     res.rate / 1e3);
            if (r == 0 || res.rate > t->best.rate) t->best = res;
        }

    for (int i = 0; i < ntargets; i++) {
        target *t = &ts[i];
        result *b = &t->best;
        char name[128];
        char server[96] = "server CPU not read";
        if (b->cpu_us >= 0)
            snprintf(server, sizeof server, "server CPU %.2f us per message, %.0f%% of a core",
                     b->cpu_us, b->util);
        printf("%-12s %7.0f messages/s; %s; client %.0f%%, other work %.0f%% (best of %d "
               "rounds: %s msg/s; %d connections, %zu-byte messages, %.2g s + %.2g s "
               "warm-up each)\n",
               t->label, b->rate, server, b->self_util, b->other, rounds, t->rounds, nconns, size,
               seconds, warmup);
        if (b->cpu_us >= 0) {
            snprintf(name, sizeof name, "%s_echo_cpu", t->label);
            bench_result(name, b->cpu_us, "us/msg");
            snprintf(name, sizeof name, "%s_echo_util", t->label);
            bench_result(name, b->util, "%");
        }
        snprintf(name, sizeof name, "%s_echo_rate", t->label);
        bench_result(name, b->rate, "msg/s");
        snprintf(name, sizeof name, "%s_echo_client_util", t->label);
        bench_result(name, b->self_util, "%");
        snprintf(name, sizeof name, "%s_echo_other", t->label);
        bench_result(name, b->other, "%");
        snprintf(name, sizeof name, "%s_echo_total", t->label);
        bench_result(name, (double)b->total, "msgs");
    }
    return 0;
}

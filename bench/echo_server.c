/* bench/echo_server.c: cora's TCP server for the echo and bulk benchmarks, with the
 * public API: an accept loop and one task per connection.
 *
 *   echo  each connection's task reads up to 64 KiB and writes it all back, until
 *         the peer closes: the server that bench/echo_client.c loads;
 *   sink  each connection's task reads 64 KiB at a time and drops the bytes until
 *         the peer closes, then closes: the receiver of bench/bulk_client.c. Every
 *         receiver reads 64 KiB at a time (libuv's suggested size); bench/README.md
 *         says why not more.
 *
 * It listens on 127.0.0.1 only (port 0: a free port the kernel picks) and prints
 * "listening <port>" once it accepts, which is what bench/run.sh waits for. With
 * `conns` > 0 it serves that many connections, waits for them to end and exits 0
 * (so that callgrind sees a normal exit and prints its totals); otherwise it runs
 * until killed. CORA_BACKEND=uring|epoll picks the backend; the backend in use is
 * printed on stderr.
 *
 *     echo_server [port [echo|sink [conns]]]
 */
#include <cora.h>
#include <stdbool.h>
#include <unistd.h>

#include "bench.h"

#define ECHO_BUF (64 * 1024)
#define SINK_BUF (64 * 1024)

static bool sink;
static long max_conns;

/* Each connection is a cora_stream, as in a program written for cora: the stream
 * owns its fd, so the epoll backend keeps it registered across waits (src/io/epoll.c),
 * as libuv does for its handles. A read with nothing buffered goes straight into the
 * caller's buffer, so the stream's own input buffer stays small.
 *
 * The buffer lives on the task's stack: stacks are committed page by page, so the
 * pages a 64-byte message never reaches cost nothing. */
static const cora_stream_opts conn_opts = {.read_limit = 4096, .write_limit = ECHO_BUF};

static void *echo_conn(void *arg)
{
    cora_stream *s;
    if (cora_stream_new(&s, (int)(intptr_t)arg, &conn_opts) < 0) return NULL;
    char buf[ECHO_BUF];
    ssize_t n;
    while ((n = cora_stream_read(s, buf, sizeof buf)) > 0)
        if (cora_stream_write(s, buf, (size_t)n) < n || cora_stream_drain(s) < 0) break;
    cora_stream_close(s);
    return NULL;
}

static void *sink_conn(void *arg)
{
    cora_stream *s;
    if (cora_stream_new(&s, (int)(intptr_t)arg, &conn_opts) < 0) return NULL;
    char buf[SINK_BUF];
    while (cora_stream_read(s, buf, sizeof buf) > 0) {
    }
    cora_stream_close(s);
    return NULL;
}

static void *amain(void *arg)
{
    int port = (int)(intptr_t)arg;
    int lfd = cora_tcp_listen("127.0.0.1", port, NULL);
    if (lfd < 0) return cora_fail(lfd);
    fprintf(stderr, "cora %s server, backend %s\n", sink ? "sink" : "echo",
            cora_loop_backend(cora_loop_current()));
    printf("listening %d\n", cora_socket_port(lfd));
    fflush(stdout);
    /* With a connection count the handles are kept and awaited, so the program ends
     * when the last connection does; otherwise each task is detached. */
    cora_task **kept = max_conns > 0 ? calloc((size_t)max_conns, sizeof *kept) : NULL;
    if (max_conns > 0 && !kept) return cora_fail(-ENOMEM);
    for (long i = 0; max_conns <= 0 || i < max_conns; i++) {
        int c = cora_accept(lfd, NULL, NULL);
        if (c < 0) return cora_fail(c);
        /* Every server in the comparison turns Nagle off (Go and uvloop do so by
         * default): an echo must not wait for an ACK. */
        cora_tcp_nodelay(c, 1);
        cora_task *t = cora_spawn(sink ? sink_conn : echo_conn, (void *)(intptr_t)c);
        if (!t) return cora_fail(-ENOMEM);
        if (kept)
            kept[i] = t;
        else
            cora_detach(t);
    }
    for (long i = 0; i < max_conns; i++)
        cora_await(kept[i], NULL);
    free(kept);
    close(lfd);
    return NULL;
}

int main(int argc, char **argv)
{
    long port = bench_arg(argc, argv, 1, 0);
    const char *mode = argc > 2 ? argv[2] : "echo";
    max_conns = bench_arg(argc, argv, 3, 0);
    sink = strcmp(mode, "sink") == 0;
    if (port < 0 || port > 65535 || (!sink && strcmp(mode, "echo") != 0)) {
        fprintf(stderr, "usage: echo_server [port [echo|sink [conns]]]\n");
        return 2;
    }
    int r = cora_run(amain, (void *)(intptr_t)port, NULL);
    if (r < 0) {
        fprintf(stderr, "echo_server: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

/* tests/http_util.h: what the HTTP tests share: a server of cora_tool-like routes run
 * in a task, a program run as a peer with its output collected, and raw exchanges
 * over a plain socket for the inputs no polite client sends. */
#ifndef CORA_TEST_HTTP_UTIL_H
#define CORA_TEST_HTTP_UTIL_H

#include "harness.h"

#include <sys/resource.h>

typedef struct test_server {
    cora_http_server *srv;
    cora_task *task;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
} test_server;

static void *test_server_run(void *arg)
{
    test_server *ts = arg;
    int r = cora_http_server_serve(ts->srv);
    return r < 0 ? cora_fail(r) : NULL;
}

/* Starts srv (routes already added) on a free loopback port in its own task. */
static inline void test_server_start(test_server *ts, cora_http_server *srv)
{
    ts->srv = srv;
    ts->port = cora_http_server_listen(srv, "127.0.0.1", 0);
    assert_true(ts->port > 0);
    snprintf(ts->base, sizeof ts->base, "http://127.0.0.1:%d", ts->port);
    ts->task = cora_spawn(test_server_run, ts);
    assert_non_null(ts->task);
}

/* Graceful shutdown; asserts serve() returned 0, then frees the server. */
static inline void test_server_stop(test_server *ts)
{
    cora_http_server_shutdown(ts->srv, 5.0);
    assert_int_equal(cora_await(ts->task, NULL), 0);
    cora_http_server_free(ts->srv);
}

/* Runs argv with input on stdin; returns its exit status with stdout in *out (free
 * it) and stderr discarded (or, with err, in *err). */
static inline int test_run(const char *const argv[], const char *input, size_t inlen,
                           cora_output *out, cora_output *err)
{
    cora_process *p;
    cora_process_opts o = {.stdin_mode = input ? CORA_PIPE : CORA_DEVNULL,
                           .stdout_mode = CORA_PIPE,
                           .stderr_mode = err ? CORA_PIPE : CORA_DEVNULL};
    int r = cora_process_spawn(&p, argv, &o);
    if (r < 0) {
        fprintf(stderr, "cannot start %s: %s\n", argv[0], cora_strerror(r));
        return -1;
    }
    int rc = -1;
    r = cora_process_communicate(p, input, inlen, out, err, 0, &rc);
    cora_process_free(p);
    return r < 0 ? r : rc;
}

/* Sends raw bytes on a new connection and reads until the server closes it (or
 * `seconds` pass). Returns what came back (NUL-terminated, malloc'd); *closed tells
 * whether the server closed the connection. */
static inline char *test_raw(int port, const char *data, size_t len, double seconds, int *closed)
{
    int fd = cora_tcp_connect("127.0.0.1", port);
    assert_true(fd >= 0);
    if (len) assert_int_equal(cora_send_all(fd, data, len, NULL), (ssize_t)len);
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    cora_scope sc;
    cora_move_on_after(&sc, seconds);
    *closed = 0;
    for (;;) {
        if (n + 1 == cap) buf = realloc(buf, cap *= 2);
        ssize_t k = cora_recv(fd, buf + n, cap - n - 1, 0);
        if (k == 0 || k == -ECONNRESET) *closed = 1;
        if (k <= 0) break;
        n += (size_t)k;
    }
    cora_scope_exit(&sc);
    close(fd);
    buf[n] = '\0';
    return buf;
}

/* Raises the open-file limit to its hard maximum (thousands of sockets). */
static inline void test_more_fds(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
}

#endif

/* tests/test_fault.c: out of memory at every allocation, and every I/O operation
 * failing.
 *
 * Allocations. A scenario that touches most of cora (tasks, stacks, timers, gather, groups,
 * scopes, locals, queues, channels, select, streams and TLS, the thread pool,
 * cross-thread calls, pipes) is run again
 * and again; run N makes the Nth allocation fail (cora__fail_alloc_at, see
 * src/core/internal.h). Every run must end with a clean error or success, never a
 * crash or hang, and the harness's leak and liveness check runs after the sweep
 * while LeakSanitizer checks the heap at exit. The sweep ends when a run finishes
 * before its Nth allocation: every allocation has then failed once.
 *
 * System calls. A client and a server talk over TCP streams, plain and TLS; run N
 * makes the Nth I/O operation of the thread fail (cora__fail_io_at, with the errno
 * in cora__fail_io_err and optionally only some kinds of operation in
 * cora__fail_io_kinds; see src/core/internal.h). An operation is each one submitted
 * to the backend (recv, send, connect, accept, poll...) and each read or write
 * OpenSSL makes on a TLS socket. The sweeps use -ECONNRESET and -EIO on every
 * operation and -EPIPE on sends; not -EAGAIN, which no backend ever completes an
 * operation with. Each run must end with a clean error or success on each side (the
 * section below says which errors are sensible), no fd, task, stack or operation
 * left, and the failure must reach the caller of the operation that failed.
 *
 * Runs once per backend (see harness.h). */
#include "harness.h"
#include "certs.h"

#include <fcntl.h>

#include "../src/io/backend.h"

#define P(i) ((void *)(intptr_t)(i))

static cora_local key;

static void *child(void *arg)
{
    int r = cora_sleep(0.0001 * (intptr_t)arg);
    if (r < 0) return cora_fail(r);
    if (cora_local_get(&key) != P(5)) return cora_fail(-EINVAL);
    return arg;
}

static void *consumer(void *arg)
{
    void *v;
    int r, n = 0;
    while ((r = cora_queue_get(arg, &v)) == 0) n++;
    return r == -ESHUTDOWN ? P(n) : cora_fail(r);
}

static void *chan_echo(void *arg)
{
    cora_chan **ch = arg;
    int v, r;
    while ((r = cora_chan_recv(ch[0], &v)) == 1)
        if ((r = cora_chan_send(ch[1], &v)) < 0) break;
    return r < 0 ? cora_fail(r) : NULL;
}

static void from_thread(void *arg)
{
    cora_event_set(arg);
}

static void *poke_loop(void *arg)
{
    void **a = arg;
    *(int *)a[2] = cora_call_soon_threadsafe(a[0], from_thread, a[1]);
    return NULL;
}

static test_certs certs;

/* A TLS server for one connection: handshake, echo a line, close. */
static void *tls_echo_once(void *arg)
{
    void **a = arg;
    int c = cora_accept((int)(intptr_t)a[0], NULL, NULL);
    if (c < 0) return cora_fail(c);
    cora_stream *s;
    int r = cora_tls_accept(&s, c, a[1]);
    if (r < 0) return cora_fail(r);
    const char *line;
    ssize_t n = cora_stream_readline(s, &line);
    if (n > 0 && cora_stream_write(s, line, (size_t)n) == n) r = cora_stream_drain(s);
    cora_stream_close(s);
    return n < 0 ? cora_fail((int)n) : r < 0 ? cora_fail(r) : NULL;
}

/* Streams and TLS: a line each way through a TLS connection. */
static int stream_and_tls(void)
{
    cora_tls *srv = NULL, *cli = NULL;
    int err = cora_tls_server(&srv, &(cora_tls_opts){.cert_file = certs.crt, .key_file = certs.key});
    if (!err) err = cora_tls_client(&cli, &(cora_tls_opts){.ca_file = certs.ca});
    int lfd = err ? -1 : cora_tcp_listen("127.0.0.1", 0, NULL);
    if (!err && lfd < 0) err = lfd;
    cora_task *t = NULL;
    void *a[2] = {(void *)(intptr_t)lfd, srv};
    if (!err && !(t = cora_spawn(tls_echo_once, a))) err = -ENOMEM;
    cora_stream *s = NULL;
    if (!err) err = cora_tls_connect(&s, "localhost", cora_socket_port(lfd), cli);
    if (!err) {
        ssize_t w = cora_stream_write(s, "ping\n", 5);
        err = w < 0 ? (int)w : w != 5 ? -EIO : cora_stream_drain(s);
    }
    const char *line;
    if (!err) {
        /* The server may have failed (its allocation): then the connection ends. */
        ssize_t n = cora_stream_readline(s, &line);
        err = n < 0 ? (int)n : n == 0 ? -ECONNRESET : n != 5 ? -EIO : 0;
    }
    cora_stream_close(s);
    if (t) {
        if (err) cora_cancel(t);
        int terr = cora_await(t, NULL);
        if (!err && terr < 0) err = terr;
    }
    if (lfd >= 0) close(lfd);
    cora_tls_free(cli);
    cora_tls_free(srv);
    /* OpenSSL reports its own allocation failures as handshake errors. */
    return err == -EPROTO || err == -ECONNRESET || err == -EPIPE ? -ENOMEM : err;
}

static void *double_it(void *arg)
{
    return (void *)((intptr_t)arg * 2);
}

/* Returns 0, or the first error; on any path releases what it made. */
static void *scenario(void *arg)
{
    int err = cora_local_set(&key, P(5));
    if (err < 0) return cora_fail(err);

    /* Tasks, stacks, timers, gather. */
    cora_task *t[4] = {0};
    for (int i = 0; i < 4; i++) {
        if (!(t[i] = cora_spawn(child, P(i + 1)))) {
            for (int k = 0; k < i; k++) cora_cancel(t[k]);
            if (i) cora_gather((size_t)i, t, NULL, 0);
            return cora_fail(-ENOMEM);
        }
    }
    if ((err = cora_gather(4, t, NULL, 0)) < 0) return cora_fail(err);

    /* A group, and a timeout scope. */
    cora_group g;
    cora_group_init(&g);
    for (int i = 0; i < 3; i++)
        if ((err = cora_group_spawn(&g, child, P(i + 1), NULL)) < 0) break;
    int gerr = cora_group_wait(&g);
    cora_group_destroy(&g);
    if (err < 0 || gerr < 0) return cora_fail(err < 0 ? err : gerr);
    cora_scope s;
    if ((err = cora_move_on_after(&s, 0.0002)) < 0) return cora_fail(err);
    cora_sleep(1);
    cora_scope_exit(&s);

    /* A queue with a consumer. */
    cora_queue *q;
    if ((err = cora_queue_new(&q, &(cora_queue_opts){.maxsize = 2})) < 0) return cora_fail(err);
    cora_task *c = cora_spawn(consumer, q);
    for (int i = 0; c && i < 40 && err == 0; i++) err = cora_queue_put(q, P(i));
    cora_queue_shutdown(q);
    int cerr = c ? cora_await(c, NULL) : -ENOMEM;
    cora_queue_shutdown_now(q, NULL, NULL);
    cora_queue_free(q);
    if (err < 0 || cerr < 0) return cora_fail(err < 0 ? err : cerr);

    /* Channels and select. */
    cora_chan *ch[2] = {0};
    if ((err = cora_chan_new(&ch[0], sizeof(int), 0)) < 0) return cora_fail(err);
    if ((err = cora_chan_new(&ch[1], sizeof(int), 1)) < 0) {
        cora_chan_free(ch[0]);
        return cora_fail(err);
    }
    cora_task *e = cora_spawn(chan_echo, ch);
    for (int i = 0; e && i < 20 && err >= 0; i++) {
        int v = i, back = -1;
        cora_case cs[1] = {{CORA_SEND, ch[0], &v, 0}};
        err = cora_select(cs, 1, -1);
        if (err >= 0) err = cora_chan_recv(ch[1], &back);
    }
    cora_chan_close(ch[0]);
    int eerr = e ? cora_await(e, NULL) : -ENOMEM;
    cora_chan_free(ch[0]);
    cora_chan_free(ch[1]);
    if (err < 0 || eerr < 0) return cora_fail(err < 0 ? err : eerr);

    if ((err = stream_and_tls()) < 0) return cora_fail(err);

    /* A job on the thread pool. */
    void *doubled = NULL;
    if ((err = cora_to_thread(double_it, P(21), &doubled)) < 0) return cora_fail(err);
    if (doubled != P(42)) return cora_fail(-EINVAL);

    /* A call from another thread, and a pipe. */
    cora_event ev;
    cora_event_init(&ev);
    pthread_t th;
    int queued = -1;
    void *a[3] = {cora_loop_current(), &ev, &queued};
    if (pthread_create(&th, NULL, poke_loop, a) != 0) return cora_fail(-EAGAIN);
    pthread_join(th, NULL);
    /* The call itself may fail (ENOMEM). Once queued it will set ev, which lives on
     * this stack: wait for it however long that takes (a timeout here let the task
     * return first under valgrind, and the call then wrote to a freed stack). */
    err = queued == 0 ? cora_event_wait(&ev) : 0;
    int p[2];
    if (cora_pipe(p) == 0) {
        char x = 'x';
        if (cora_write(p[1], &x, 1) == 1) cora_read(p[0], &x, 1);
        close(p[0]);
        close(p[1]);
    }
    return err < 0 ? cora_fail(err) : NULL;
}

/* Runs scenario with the Nth allocation failing, for N = 1, 2, ... until a run needs
 * fewer than N; every run must end cleanly, then one run with memory to spare must
 * succeed. */
static void sweep(cora_fn scenario)
{
    long n;
    for (n = 1; n < 100000; n++) {
        cora__fail_alloc_at = n;
        int r = cora_run(scenario, NULL, NULL);
        long left = cora__fail_alloc_at;
        cora__fail_alloc_at = 0;
        if (!(r == 0 || r == -ENOMEM || r == -ECANCELED))
            fprintf(stderr, "allocation %ld failing: %s (%s)\n", n, cora_err_name(r), cora_tls_errstr());
        assert_true(r == 0 || r == -ENOMEM || r == -ECANCELED);
        assert_null(cora_loop_current());
        assert_int_equal(cora__census_now.tasks, 0);
        assert_int_equal(cora__census_now.stacks, 0);
        assert_int_equal(cora__census_now.ops, 0);
        if (left > 0) break; /* the run needed fewer than n allocations: all swept */
    }
    assert_true(n > 20); /* the scenario really does allocate */
    print_message("swept %ld allocation points\n", n - 1);
    assert_int_equal(cora_run(scenario, NULL, NULL), 0);
}

static void every_allocation_fails_once(void **state)
{
    assert_int_equal(test_certs_make(&certs, "fault"), 0);
    sweep(scenario);
    assert_int_equal(test_certs_remove(&certs), 0);
}

/* ---- HTTP: a server and a client, every allocation failing once ------------------ */

static int h_echo(cora_http_req *req, void *arg)
{
    const char *body;
    ssize_t n = cora_http_req_body(req, &body);
    if (n < 0) return (int)n;
    cora_http_set_header(req, "X-Seen", "yes");
    return cora_http_respond(req, 200, "text/plain", body, (size_t)n);
}

static int h_stream(cora_http_req *req, void *arg)
{
    int r = cora_http_begin(req, 200, "text/plain", -1);
    for (int i = 0; r == 0 && i < 3; i++) r = cora_http_write(req, "abc", 3) == 3 ? 0 : -EIO;
    return r ? r : cora_http_end(req);
}

static void *http_serve(void *srv)
{
    int r = cora_http_server_serve(srv);
    return r < 0 ? cora_fail(r) : NULL;
}

/* Failures of the exchange itself (a connection the server dropped for want of
 * memory, a 500) count as the injected -ENOMEM. */
static int http_exchange(cora_http_client *c, const char *base)
{
    char url[96];
    snprintf(url, sizeof url, "%s/echo", base);
    cora_http_request_opts rq = {.url = url, .body = "payload", .body_len = 7};
    cora_http_response r;
    int err = cora_http_request(c, &rq, &r);
    if (err == 0) {
        if (r.status != 200 || strcmp(r.body, "payload") != 0) err = -ENOMEM;
        cora_http_response_free(&r);
    }
    snprintf(url, sizeof url, "%s/stream", base);
    if (err == 0 && (err = cora_http_get(c, url, &r)) == 0) {
        if (r.status != 200 || strcmp(r.body, "abcabcabc") != 0) err = -ENOMEM;
        cora_http_response_free(&r);
    }
    return err == -ECONNRESET || err == -EPROTO || err == -EPIPE || err == -ETIMEDOUT ? -ENOMEM
                                                                                      : err;
}

static void *http_scenario(void *arg)
{
    cora_http_server *srv;
    int err = cora_http_server_new(&srv, NULL);
    if (err < 0) return cora_fail(err);
    if ((err = cora_http_server_route(srv, "POST", "/echo", h_echo, NULL)) < 0 ||
        (err = cora_http_server_route(srv, "GET", "/stream", h_stream, NULL)) < 0) {
        cora_http_server_free(srv);
        return cora_fail(err);
    }
    int port = cora_http_server_listen(srv, "127.0.0.1", 0);
    cora_task *t = port > 0 ? cora_spawn(http_serve, srv) : NULL;
    if (!t) {
        cora_http_server_free(srv);
        return cora_fail(port < 0 ? port : -ENOMEM);
    }
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    cora_http_client *c;
    /* A deadline, so a server that could not start its acceptor fails the run
     * instead of leaving the request waiting in the backlog. */
    err = cora_http_client_new(&c, &(cora_http_client_opts){.total_timeout = 2});
    if (err == 0) {
        err = http_exchange(c, base);
        cora_http_client_free(c);
    }
    cora_http_server_shutdown(srv, 1);
    int serr = cora_await(t, NULL);
    cora_http_server_free(srv);
    if (err == 0 && serr < 0) err = serr;
    return err < 0 ? cora_fail(err) : NULL;
}

static void http_allocation_fails_once(void **state)
{
    sweep(http_scenario);
}

/* ---- System calls: the Nth I/O operation failing ---------------------------------
 *
 * A client and a server talk over a TCP stream, plain or TLS: connect and accept (and
 * the handshake), small writes, drain, writev, sendfile, a write larger than the
 * output buffer, read_exactly, readline, data the other way, a half-close each way
 * and reads to the end. Run N makes the Nth I/O operation of the thread fail with one
 * errno (cora__fail_io_at, see src/core/internal.h); the sweep ends when a run
 * finishes before its Nth operation. Each side must end with success, the injected
 * error, or what the other side's failure looks like from here (the connection
 * refused or reset, a broken pipe, the stream ending early, a half-close finding the
 * connection gone; for TLS, the peer gone without close_notify, -EPROTO). Corrupted
 * data (-EBADMSG) and a side stuck until its deadline (-ETIMEDOUT) are bugs. Each run
 * must leave no fd, task, stack or operation behind; LeakSanitizer checks the heap at
 * exit. */

enum { BLOB = 100000 }; /* more than a stream's 64 KiB output buffer */
static char blob[BLOB];

typedef struct io_pair {
    int lfd, port, file_fd;
    bool tls;
    bool accepted;  /* the server's accept returned */
    bool cancelled; /* the client failed first and the server, still accepting, was cancelled */
    bool s_shut, c_shut; /* the side got as far as its half-close */
    cora_tls *srv, *cli;
    int serr, cerr; /* each side's outcome */
} io_pair;

/* Writes all of buf: a short count (an error after some bytes were accepted) is
 * followed by another write, as a caller must, which then sees the error if it
 * lasts. */
static int put(cora_stream *s, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t w = cora_stream_write(s, (const char *)buf + done, len - done);
        if (w < 0) return (int)w;
        if (w == 0) return -EIO; /* no progress and no error: nonsense */
        done += (size_t)w;
    }
    return 0;
}

/* Reads len bytes and checks they are want's: -ENODATA if the stream ended first,
 * -EBADMSG if they differ. */
static int expect(cora_stream *s, const char *want, size_t len)
{
    char buf[16384];
    for (size_t done = 0; done < len;) {
        size_t k = len - done < sizeof buf ? len - done : sizeof buf;
        ssize_t n = cora_stream_read_exactly(s, buf, k, NULL);
        if (n < 0) return (int)n;
        if (memcmp(buf, want + done, k) != 0) return -EBADMSG;
        done += k;
    }
    return 0;
}

static int expect_line(cora_stream *s, const char *want)
{
    const char *line;
    ssize_t n = cora_stream_readline(s, &line);
    if (n < 0) return (int)n;
    if (n == 0 || line[n - 1] != '\n') return -ENODATA; /* the stream ended */
    return (size_t)n == strlen(want) && memcmp(line, want, (size_t)n) == 0 ? 0 : -EBADMSG;
}

static int expect_eof(cora_stream *s)
{
    char c;
    ssize_t n = cora_stream_read(s, &c, 1);
    return n < 0 ? (int)n : n > 0 ? -EBADMSG : 0;
}

static int server_talk(io_pair *x, cora_stream *s)
{
    int r;
    if ((r = expect(s, "hello", 5)) < 0) return r;
    if ((r = expect_line(s, "line one\n")) < 0) return r;
    if ((r = expect_line(s, "iov-a iov-b\n")) < 0) return r;
    if ((r = expect(s, blob, BLOB)) < 0) return r; /* sendfile's */
    if ((r = expect(s, blob, BLOB)) < 0) return r;
    if ((r = put(s, "reply\n", 6)) < 0 || (r = put(s, blob, BLOB)) < 0) return r;
    if ((r = cora_stream_drain(s)) < 0) return r;
    if ((r = expect_eof(s)) < 0) return r; /* the client's half-close */
    if ((r = put(s, "bye\n", 4)) < 0) return r;
    x->s_shut = true;
    return cora_stream_write_eof(s);
}

static int client_talk(io_pair *x, cora_stream *s)
{
    int r;
    if ((r = put(s, "hello", 5)) < 0 || (r = put(s, "line one\n", 9)) < 0) return r;
    if ((r = cora_stream_drain(s)) < 0) return r;
    struct iovec iov[2] = {{"iov-a ", 6}, {"iov-b\n", 6}};
    ssize_t w = cora_stream_writev(s, iov, 2);
    if (w < 0) return (int)w;
    if (w < 12 && (r = put(s, "iov-a iov-b\n" + w, 12 - (size_t)w)) < 0) return r;
    size_t sent = 0;
    ssize_t n = cora_stream_sendfile(s, x->file_fd, 0, BLOB, &sent);
    if (n < 0) return (int)n;
    if (n != BLOB || sent != BLOB) return -EBADMSG;
    if ((r = put(s, blob, BLOB)) < 0 || (r = cora_stream_drain(s)) < 0) return r;
    if ((r = expect_line(s, "reply\n")) < 0 || (r = expect(s, blob, BLOB)) < 0) return r;
    x->c_shut = true;
    if ((r = cora_stream_write_eof(s)) < 0) return r;
    if ((r = expect_line(s, "bye\n")) < 0) return r;
    return expect_eof(s);
}

/* A side runs under a deadline far beyond what it needs, so a side left waiting
 * forever fails the sweep with -ETIMEDOUT and the failing N instead of a CTest
 * timeout. */
static void *server_side(void *arg)
{
    io_pair *x = arg;
    cora_scope sc;
    int r = cora_fail_after(&sc, 10);
    if (r < 0) return cora_fail(r);
    int c = cora_accept(x->lfd, NULL, NULL);
    x->accepted = true;
    close(x->lfd); /* and with it any connection still in the backlog */
    x->lfd = -1;
    cora_stream *s = NULL;
    r = c;
    if (c >= 0) r = x->tls ? cora_tls_accept(&s, c, x->srv) : cora_stream_new(&s, c, NULL);
    if (r >= 0) r = server_talk(x, s);
    cora_stream_close(s);
    int e = cora_scope_exit(&sc);
    x->serr = e < 0 ? e : r;
    return NULL;
}

static void *client_side(void *arg)
{
    io_pair *x = arg;
    cora_scope sc;
    int r = cora_fail_after(&sc, 10);
    if (r < 0) return cora_fail(r);
    cora_stream *s = NULL;
    r = x->tls ? cora_tls_connect(&s, "localhost", x->port, x->cli)
               : cora_stream_connect(&s, "127.0.0.1", x->port);
    /* A small send buffer, as the server's receive buffer (io_scenario). */
    if (r >= 0) r = setsockopt(cora_stream_fd(s), SOL_SOCKET, SO_SNDBUF, &(int){8192}, sizeof(int));
    if (r >= 0) r = client_talk(x, s);
    cora_stream_close(s);
    int e = cora_scope_exit(&sc);
    x->cerr = e < 0 ? e : r;
    return NULL;
}

static void *io_scenario(void *arg)
{
    io_pair *x = arg;
    x->serr = x->cerr = 1; /* "did not run" */
    x->accepted = x->cancelled = x->s_shut = x->c_shut = false;
    x->lfd = cora_tcp_listen("127.0.0.1", 0, NULL); /* no I/O operation */
    if (x->lfd < 0) return cora_fail(x->lfd);
    x->port = cora_socket_port(x->lfd);
    /* Small socket buffers (the accepted socket inherits this one), so that sends
     * and sendfile find the socket full and wait, and reads come in pieces. */
    assert_int_equal(setsockopt(x->lfd, SOL_SOCKET, SO_RCVBUF, &(int){8192}, sizeof(int)), 0);
    cora_task *t[2] = {cora_spawn(server_side, x), cora_spawn(client_side, x)};
    assert_non_null(t[0]);
    assert_non_null(t[1]);
    /* A client whose connect failed leaves the server waiting for a connection that
     * will never come, as a server should: stop it. */
    assert_int_equal(cora_await(t[1], NULL), 0);
    if (x->cerr != 0 && !x->accepted) {
        x->cancelled = true;
        cora_cancel(t[0]);
    }
    int r = cora_await(t[0], NULL);
    assert_int_equal(r, x->cancelled ? -ECANCELED : 0);
    assert_int_equal(x->lfd, -1);
    return NULL;
}

/* What one side may end with when the injected error is err: nothing else is
 * sensible. */
static bool sensible(const io_pair *x, bool server, int err)
{
    int side = server ? x->serr : x->cerr;
    if (side == -ECANCELED) return x->cancelled && server;
    /* A half-close after the peer reset the connection: shutdown(2) says the socket
     * is not connected any more (asyncio's write_eof raises the same). */
    if (side == -ENOTCONN) return server ? x->s_shut : x->c_shut;
    return side == 0 || side == err || side == -ECONNRESET || side == -EPIPE || side == -ENODATA ||
           side == -ECONNREFUSED || (x->tls && side == -EPROTO);
}

/* Runs io_scenario with the Nth I/O operation (of the kinds in mask, 0: all) failing
 * with err, for N = 1, 2, ... until a run needs fewer than N; then a run with no
 * failure must succeed on both sides. Returns how many operations were swept. */
static long io_sweep(io_pair *x, int err, unsigned kinds)
{
    long n;
    int both_ok = 0;
    for (n = 1; n < 100000; n++) {
        int fds = harness_count_fds();
        cora__fail_io_at = n;
        cora__fail_io_err = err;
        cora__fail_io_kinds = kinds;
        int r = cora_run(io_scenario, x, NULL);
        long left = cora__fail_io_at;
        cora__fail_io_at = 0;
        cora__fail_io_err = 0;
        cora__fail_io_kinds = 0;
        if (r != 0 || !sensible(x, true, err) || !sensible(x, false, err))
            fprintf(stderr,
                    "%s, operation %ld failing with %s: run %s, server %s, client %s (%s)\n",
                    x->tls ? "TLS" : "TCP", n, cora_err_name(err), cora_err_name(r),
                    cora_err_name(x->serr), cora_err_name(x->cerr), cora_tls_errstr());
        assert_int_equal(r, 0);
        assert_true(sensible(x, true, err));
        assert_true(sensible(x, false, err));
        assert_null(cora_loop_current());
        assert_int_equal(cora__census_now.tasks, 0);
        assert_int_equal(cora__census_now.stacks, 0);
        assert_int_equal(cora__census_now.ops, 0);
        assert_int_equal(harness_count_fds(), fds);
        if (left > 0) break; /* the run needed fewer than n operations: all swept */
        if (x->serr == 0 && x->cerr == 0) both_ok++;
        /* The failure reached the caller of the operation that failed: one side
         * reports the injected error itself, except
         *   - an error that does not end the connection (-EIO) in a send that a
         *     stream write had already accepted bytes for: the write returns its
         *     short count, the caller writes the rest and it goes through, with no
         *     byte lost (the peer checks them all): both sides succeed;
         *   - TLS 1.3, a reset or broken pipe while the server sends its session
         *     tickets at the end of the handshake: OpenSSL ignores those two errors
         *     there on purpose (the client may have closed already) and the
         *     handshake succeeds; the dead connection then fails both sides later. */
        bool seen = x->serr == err || x->cerr == err;
        bool ends = err == -ECONNRESET || err == -EPIPE;
        bool explained = ends ? x->tls && (x->serr || x->cerr) : !x->serr && !x->cerr;
        if (!seen && !explained)
            fprintf(stderr, "%s, operation %ld failing with %s: server %s, client %s\n",
                    x->tls ? "TLS" : "TCP", n, cora_err_name(err), cora_err_name(x->serr),
                    cora_err_name(x->cerr));
        assert_true(seen || explained);
    }
    print_message("%s, %s: swept %ld operations (%d runs unharmed)\n", x->tls ? "TLS" : "TCP",
                  cora_err_name(err), n - 1, both_ok);
    assert_int_equal(cora_run(io_scenario, x, NULL), 0);
    assert_int_equal(x->serr, 0);
    assert_int_equal(x->cerr, 0);
    return n - 1;
}

static const unsigned sends = 1u << CORA__OP_SEND | 1u << CORA__OP_SENDMSG | 1u << CORA__OP_WRITE;

static void io_sweeps(bool tls)
{
    for (int i = 0; i < BLOB; i++)
        blob[i] = (char)('a' + i % 26 + i / 26 % 7);
    char path[64];
    snprintf(path, sizeof path, "/tmp/cora-fault-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(blob, 1, BLOB, f), BLOB);
    fclose(f);
    io_pair x = {.tls = tls, .file_fd = open(path, O_RDONLY | O_CLOEXEC)};
    unlink(path);
    assert_true(x.file_fd >= 0);
    if (tls) {
        assert_int_equal(test_certs_make(&certs, "fault-io"), 0);
        assert_int_equal(cora_tls_server(&x.srv, &(cora_tls_opts){.cert_file = certs.crt,
                                                                  .key_file = certs.key}),
                         0);
        assert_int_equal(cora_tls_client(&x.cli, &(cora_tls_opts){.ca_file = certs.ca}), 0);
    }
    /* The scenario really does I/O: connect, accept, the writes and reads. */
    assert_true(io_sweep(&x, -ECONNRESET, 0) > 30);
    assert_true(io_sweep(&x, -EIO, 0) > 30);
    assert_true(io_sweep(&x, -EPIPE, sends) > 10);
    close(x.file_fd);
    if (tls) {
        cora_tls_free(x.cli);
        cora_tls_free(x.srv);
        assert_int_equal(test_certs_remove(&certs), 0);
    }
}

static void stream_io_fails_once(void **state)
{
    io_sweeps(false);
}

static void tls_io_fails_once(void **state)
{
    io_sweeps(true);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(every_allocation_fails_once),
    CORA_TEST(http_allocation_fails_once),
    CORA_TEST(stream_io_fails_once),
    CORA_TEST(tls_io_fails_once),
};

CORA_TEST_MAIN("fault", tests)

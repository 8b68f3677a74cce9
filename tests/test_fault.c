/* tests/test_fault.c: out of memory at every allocation.
 *
 * A scenario that touches most of cora (tasks, stacks, timers, gather, groups,
 * scopes, locals, queues, channels, select, streams and TLS, the thread pool,
 * cross-thread calls, pipes) is run again
 * and again; run N makes the Nth allocation fail (cora__fail_alloc_at, see
 * src/core/internal.h). Every run must end with a clean error or success, never a
 * crash or hang, and the harness's leak and liveness check runs after the sweep
 * while LeakSanitizer checks the heap at exit. The sweep ends when a run finishes
 * before its Nth allocation: every allocation has then failed once.
 * Runs once per backend (see harness.h). */
#include "harness.h"
#include "certs.h"

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
    cora_call_soon_threadsafe(a[0], from_thread, a[1]);
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
    void *a[2] = {cora_loop_current(), &ev};
    if (pthread_create(&th, NULL, poke_loop, a) != 0) return cora_fail(-EAGAIN);
    err = cora_event_wait_timeout(&ev, 0.05); /* the call itself may fail: ENOMEM */
    pthread_join(th, NULL);
    int p[2];
    if (cora_pipe(p) == 0) {
        char x = 'x';
        if (cora_write(p[1], &x, 1) == 1) cora_read(p[0], &x, 1);
        close(p[0]);
        close(p[1]);
    }
    return err < 0 && err != -ETIMEDOUT ? cora_fail(err) : NULL;
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

static const struct CMUnitTest tests[] = {
    CORA_TEST(every_allocation_fails_once),
    CORA_TEST(http_allocation_fails_once),
};

CORA_TEST_MAIN("fault", tests)

/* tests/test_tls.c: TLS streams: handshake and echo with ALPN between cora's client
 * and server; certificates refused with a clear reason (unknown CA, wrong host);
 * openssl s_client and s_server as real peers. A throwaway CA and certificates are
 * made at run time with the openssl command. Runs once per backend. */
#include "harness.h"
#include "certs.h"

#include <openssl/err.h>
#include <sys/socket.h>
#include <sys/stat.h>

static test_certs certs;

static void make_certs(void)
{
    assert_int_equal(test_certs_make(&certs, "tls"), 0);
}

static void remove_certs(void)
{
    assert_int_equal(test_certs_remove(&certs), 0);
}

/* ---- a TLS echo server ---------------------------------------------------------- */

struct server {
    int lfd;
    cora_tls *tls;
    int handshakes;
    char alpn[32];
};

static void *serve_one(void *arg)
{
    struct server *sv = arg;
    int fd = cora_accept(sv->lfd, NULL, NULL);
    if (fd < 0) return cora_fail(fd);
    cora_stream *s;
    int r = cora_tls_accept(&s, fd, sv->tls);
    if (r < 0) return cora_fail(r);
    sv->handshakes++;
    if (cora_stream_alpn(s)) snprintf(sv->alpn, sizeof sv->alpn, "%s", cora_stream_alpn(s));
    const char *line;
    ssize_t n;
    while ((n = cora_stream_readline(s, &line)) > 0) {
        if (cora_stream_write(s, line, (size_t)n) != n) break;
        if (cora_stream_drain(s) < 0) break;
    }
    cora_stream_write_eof(s);
    cora_stream_close(s);
    return n < 0 ? cora_fail((int)n) : NULL;
}

static cora_tls *server_tls(const char *alpn)
{
    cora_tls *t;
    assert_int_equal(cora_tls_server(&t, &(cora_tls_opts){.cert_file = certs.crt, .key_file = certs.key,
                                                          .alpn = alpn}),
                     0);
    return t;
}

/* Lines through TLS both ways, then the end of the stream. */
static void *main_echo2(void *arg)
{
    struct server sv = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL),
                        .tls = server_tls("h2,http/1.1")};
    cora_task *srv = cora_spawn(serve_one, &sv);
    cora_tls *client;
    assert_int_equal(cora_tls_client(&client, &(cora_tls_opts){.ca_file = certs.ca, .alpn = "http/1.1"}),
                     0);
    cora_stream *s;
    int r = cora_tls_connect(&s, "localhost", cora_socket_port(sv.lfd), client);
    if (r < 0) fprintf(stderr, "connect: %s: %s\n", cora_err_name(r), cora_tls_errstr());
    assert_int_equal(r, 0);
    assert_string_equal(cora_stream_alpn(s), "http/1.1");
    for (int i = 0; i < 50; i++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "secret line %d\n", i);
        assert_int_equal(cora_stream_write(s, msg, (size_t)n), n);
        assert_int_equal(cora_stream_drain(s), 0);
        const char *line;
        assert_int_equal(cora_stream_readline(s, &line), n);
        assert_memory_equal(line, msg, (size_t)n);
    }
    assert_int_equal(cora_stream_write_eof(s), 0); /* close_notify, then half-close */
    const char *line;
    assert_int_equal(cora_stream_readline(s, &line), 0); /* the server's clean end */
    cora_stream_close(s);
    assert_int_equal(cora_await(srv, NULL), 0);
    assert_int_equal(sv.handshakes, 1);
    assert_string_equal(sv.alpn, "http/1.1");
    close(sv.lfd);
    cora_tls_free(client);
    cora_tls_free(sv.tls);
    return NULL;
}

static void tls_echo_with_alpn(void **state)
{
    make_certs();
    run_ok(main_echo2, NULL);
    remove_certs();
}

/* ---- certificates refused ------------------------------------------------------- */

static void *main_refused(void *arg)
{
    struct server sv = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL), .tls = server_tls(NULL)};
    int port = cora_socket_port(sv.lfd);
    cora_stream *s;
    /* The system store does not know our throwaway CA. */
    cora_tls *sys;
    assert_int_equal(cora_tls_client(&sys, NULL), 0);
    cora_task *srv = cora_spawn(serve_one, &sv);
    assert_int_equal(cora_tls_connect(&s, "localhost", port, sys), -EKEYREJECTED);
    assert_non_null(strstr(cora_tls_errstr(), "certificate verify failed"));
    assert_non_null(strstr(cora_tls_errstr(), "local issuer"));
    assert_int_not_equal(cora_await(srv, NULL), 0); /* the server saw the alert */
    /* Right CA, wrong name. */
    cora_tls *good;
    assert_int_equal(cora_tls_client(&good, &(cora_tls_opts){.ca_file = certs.ca}), 0);
    srv = cora_spawn(serve_one, &sv);
    int fd = cora_tcp_connect("127.0.0.1", port);
    assert_int_equal(cora_tls_connect_fd(&s, fd, "example.com", good), -EKEYREJECTED);
    assert_non_null(strstr(cora_tls_errstr(), "mismatch"));
    cora_await(srv, NULL);
    /* By IP address, which the certificate names: accepted. */
    srv = cora_spawn(serve_one, &sv);
    assert_int_equal(cora_tls_connect(&s, "127.0.0.1", port, good), 0);
    cora_stream_write_eof(s);
    cora_stream_close(s);
    assert_int_equal(cora_await(srv, NULL), 0);
    /* Insecure (tests only): no verification at all. */
    cora_tls *lax;
    assert_int_equal(cora_tls_client(&lax, &(cora_tls_opts){.insecure = 1}), 0);
    srv = cora_spawn(serve_one, &sv);
    assert_int_equal(cora_tls_connect(&s, "localhost", port, lax), 0);
    cora_stream_write_eof(s);
    cora_stream_close(s);
    assert_int_equal(cora_await(srv, NULL), 0);
    /* Configuration errors. */
    cora_tls *bad;
    assert_int_equal(cora_tls_server(&bad, NULL), -EINVAL);
    assert_int_equal(cora_tls_server(&bad, &(cora_tls_opts){.cert_file = "/nonexistent",
                                                            .key_file = certs.key}),
                     -ENOENT);
    assert_int_equal(cora_tls_server(&bad, &(cora_tls_opts){.cert_file = certs.ca, .key_file = certs.key}),
                     -EINVAL); /* the key is not the CA's */
    assert_int_equal(cora_tls_client(&bad, &(cora_tls_opts){.alpn = "h2,,x"}), -EINVAL);
    cora_tls_free(sys);
    cora_tls_free(good);
    cora_tls_free(lax);
    cora_tls_free(sv.tls);
    close(sv.lfd);
    return NULL;
}

static void bad_certificates_refused(void **state)
{
    make_certs();
    run_ok(main_refused, NULL);
    remove_certs();
}

/* ---- cut short by a deadline, then resumed ---------------------------------------- */

/* A read, a write and a handshake cut short by a deadline: the connection stays
 * usable, no byte is lost or repeated, and a handshake given up leaves no fd. */

enum { BULK = 4 << 20 };

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + (i >> 13));
}

struct cut_server {
    int lfd;
    cora_tls *tls;
    cora_event go;   /* set each time the client wants a line */
    size_t verified; /* bulk bytes received and found in order */
};

static void *cut_serve(void *arg)
{
    struct cut_server *sv = arg;
    int fd = cora_accept(sv->lfd, NULL, NULL);
    if (fd < 0) return cora_fail(fd);
    cora_stream *s;
    int r = cora_tls_accept(&s, fd, sv->tls);
    if (r < 0) return cora_fail(r);
    /* Ten lines, each only when asked for (the client times out waiting first). */
    for (int i = 0; i < 10; i++) {
        cora_event_wait(&sv->go);
        cora_event_clear(&sv->go);
        char msg[32];
        int n = snprintf(msg, sizeof msg, "line %d\n", i);
        if (cora_stream_write(s, msg, (size_t)n) != n || cora_stream_drain(s) < 0) break;
    }
    /* Then the bulk, read slowly so that the client's writes wait for room. */
    char buf[16384];
    ssize_t n;
    while (sv->verified < BULK && (n = cora_stream_read(s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            if ((unsigned char)buf[i] != pattern(sv->verified + (size_t)i)) {
                cora_stream_close(s);
                return cora_fail(-EBADMSG);
            }
        sv->verified += (size_t)n;
        cora_sleep(0.0002);
    }
    cora_stream_close(s);
    return NULL;
}

static void *main_cut_short(void *arg)
{
    struct cut_server sv = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL), .tls = server_tls(NULL)};
    cora_event_init(&sv.go);
    /* Small socket buffers both ways (the accepted socket inherits the listener's),
     * so the bulk writes below wait for room within a few of them. */
    int small = 16384;
    assert_int_equal(setsockopt(sv.lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    int port = cora_socket_port(sv.lfd);
    cora_task *srv = cora_spawn(cut_serve, &sv);
    cora_tls *client;
    assert_int_equal(cora_tls_client(&client, &(cora_tls_opts){.ca_file = certs.ca}), 0);
    cora_stream *s;
    int cfd = cora_tcp_connect("127.0.0.1", port);
    assert_true(cfd >= 0);
    assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal(cora_tls_connect_fd(&s, cfd, "localhost", client), 0);
    /* Reads: each times out once with nothing there, then gets its line whole. */
    for (int i = 0; i < 10; i++) {
        const char *line;
        cora_scope sc;
        cora_fail_after(&sc, 0.02);
        assert_int_equal(cora_stream_readline(s, &line), -ETIMEDOUT);
        assert_int_equal(cora_scope_exit(&sc), -ETIMEDOUT);
        cora_event_set(&sv.go);
        char want[32];
        int n = snprintf(want, sizeof want, "line %d\n", i);
        assert_int_equal(cora_stream_readline(s, &line), n);
        assert_memory_equal(line, want, (size_t)n);
    }
    /* Writes under short deadlines while the server reads slowly: many are cut short
     * inside OpenSSL's write, and resumed by the next. */
    static unsigned char chunk[65536];
    size_t sent = 0;
    int cut = 0;
    while (sent < BULK) {
        size_t k = BULK - sent < sizeof chunk ? BULK - sent : sizeof chunk;
        for (size_t i = 0; i < k; i++)
            chunk[i] = pattern(sent + i);
        cora_scope sc;
        cora_fail_after(&sc, 0.001);
        ssize_t w = cora_stream_write(s, chunk, k);
        int d = w >= 0 ? cora_stream_drain(s) : 0;
        cora_scope_exit(&sc);
        if (w == -ETIMEDOUT || d == -ETIMEDOUT) cut++;
        assert_true(w >= 0 || w == -ETIMEDOUT);
        assert_true(d == 0 || d == -ETIMEDOUT);
        if (w > 0) sent += (size_t)w; /* accepted bytes stay queued: never written twice */
    }
    assert_int_equal(cora_stream_drain(s), 0);
    assert_int_equal(cora_await(srv, NULL), 0);
    assert_int_equal(sv.verified, BULK);
    assert_true(cut > 0); /* the deadlines did cut writes short */
    cora_stream_close(s);
    /* A handshake given up: a peer that accepts and never answers. */
    int fd = cora_tcp_connect("127.0.0.1", port);
    assert_true(fd >= 0);
    cora_scope sc;
    cora_fail_after(&sc, 0.05);
    assert_int_equal(cora_tls_connect_fd(&s, fd, "localhost", client), -ETIMEDOUT); /* fd closed */
    cora_scope_exit(&sc);
    int peer = cora_accept(sv.lfd, NULL, NULL);
    assert_true(peer >= 0);
    close(peer);
    close(sv.lfd);
    cora_tls_free(client);
    cora_tls_free(sv.tls);
    return NULL;
}

static void cut_short_and_resumed(void **state)
{
    make_certs();
    run_ok(main_cut_short, NULL);
    remove_certs();
}

/* ---- OpenSSL's per-thread error queue ---------------------------------------------- */

/* OpenSSL keeps a thread's errors in one queue, and every task of a loop shares the
 * thread. A handshake that fails sends an alert on its way out with its errors
 * queued; if it parked there, another task's OpenSSL call (ERR_clear_error first)
 * would wipe them, and the failure would read as a dropped connection. */
static bool clearing;

static void *clear_errors(void *arg)
{
    (void)arg;
    while (clearing) {
        ERR_clear_error(); /* what any other task's OpenSSL call starts with */
        if (cora_yield() < 0) break;
    }
    return NULL;
}

static void *main_error_queue(void *arg)
{
    struct server sv = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL), .tls = server_tls(NULL)};
    int port = cora_socket_port(sv.lfd);
    cora_tls *sys; /* the system store does not know our throwaway CA */
    assert_int_equal(cora_tls_client(&sys, NULL), 0);
    clearing = true;
    cora_task *clearer = cora_spawn(clear_errors, NULL);
    for (int i = 0; i < 10; i++) {
        cora_task *srv = cora_spawn(serve_one, &sv);
        cora_stream *s;
        int r = cora_tls_connect(&s, "localhost", port, sys);
        if (r != -EKEYREJECTED) fprintf(stderr, "round %d: %s (%s)\n", i, cora_err_name(r), cora_tls_errstr());
        assert_int_equal(r, -EKEYREJECTED);
        assert_non_null(strstr(cora_tls_errstr(), "certificate verify failed"));
        cora_await(srv, NULL);
    }
    clearing = false;
    cora_await(clearer, NULL);
    cora_tls_free(sys);
    cora_tls_free(sv.tls);
    close(sv.lfd);
    return NULL;
}

static void failures_survive_other_tasks(void **state)
{
    make_certs();
    run_ok(main_error_queue, NULL);
    remove_certs();
}

/* ---- many at once ------------------------------------------------------------------ */

/* Thirty-two TLS connections on one loop, handshakes and lines interleaved, every task
 * parking inside OpenSSL's calls in turn, with clients refused for their CA among
 * them: each gets its own lines back and the refused ones their own error. */
enum { MANY = 32 };

struct many {
    int lfd, port;
    cora_tls *srv, *good, *bad;
    int served;
};

static void *many_serve_conn(void *arg)
{
    struct many *m = ((void **)arg)[0];
    int fd = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    cora_stream *s;
    if (cora_tls_accept(&s, fd, m->srv) < 0) return NULL; /* a refused client */
    const char *line;
    ssize_t n;
    while ((n = cora_stream_readline(s, &line)) > 0)
        if (cora_stream_write(s, line, (size_t)n) != n || cora_stream_drain(s) < 0) break;
    cora_stream_write_eof(s);
    cora_stream_close(s);
    m->served++;
    return NULL;
}

static void *many_accept(void *arg)
{
    struct many *m = arg;
    cora_group g;
    cora_group_init(&g);
    for (int i = 0; i < MANY; i++) {
        int fd = cora_accept(m->lfd, NULL, NULL);
        if (fd < 0) break;
        void **a = malloc(2 * sizeof *a);
        a[0] = m, a[1] = (void *)(intptr_t)fd;
        cora_group_spawn(&g, many_serve_conn, a, NULL);
    }
    cora_group_wait(&g);
    cora_group_destroy(&g);
    return NULL;
}

static void *many_client(void *arg)
{
    struct many *m = ((void **)arg)[0];
    int i = (int)(intptr_t)((void **)arg)[1];
    free(arg);
    cora_stream *s;
    bool refused = i % 8 == 3;
    int r = cora_tls_connect(&s, "localhost", m->port, refused ? m->bad : m->good);
    if (refused) return r == -EKEYREJECTED ? NULL : cora_fail(r ? r : -EPROTO);
    if (r < 0) return cora_fail(r);
    for (int k = 0; k < 20; k++) {
        char msg[64];
        int n = snprintf(msg, sizeof msg, "client %d line %d\n", i, k);
        const char *line;
        if (cora_stream_write(s, msg, (size_t)n) != n || cora_stream_drain(s) < 0 ||
            cora_stream_readline(s, &line) != n || memcmp(line, msg, (size_t)n) != 0) {
            cora_stream_close(s);
            return cora_fail(-EBADMSG);
        }
    }
    cora_stream_write_eof(s);
    cora_stream_close(s);
    return NULL;
}

static void *main_many(void *arg)
{
    struct many m = {.lfd = cora_tcp_listen("127.0.0.1", 0, &(cora_listen_opts){.backlog = MANY}),
                     .srv = server_tls(NULL)};
    m.port = cora_socket_port(m.lfd);
    assert_int_equal(cora_tls_client(&m.good, &(cora_tls_opts){.ca_file = certs.ca}), 0);
    assert_int_equal(cora_tls_client(&m.bad, NULL), 0);
    cora_task *acc = cora_spawn(many_accept, &m);
    cora_group g;
    assert_int_equal(cora_group_init(&g), 0);
    for (int i = 0; i < MANY; i++) {
        void **a = malloc(2 * sizeof *a);
        a[0] = &m, a[1] = (void *)(intptr_t)i;
        assert_int_equal(cora_group_spawn(&g, many_client, a, NULL), 0);
    }
    assert_int_equal(cora_group_wait(&g), 0);
    cora_group_destroy(&g);
    assert_int_equal(cora_await(acc, NULL), 0);
    assert_int_equal(m.served, MANY - MANY / 8); /* every one not refused */
    close(m.lfd);
    cora_tls_free(m.good);
    cora_tls_free(m.bad);
    cora_tls_free(m.srv);
    return NULL;
}

static void many_at_once(void **state)
{
    make_certs();
    run_ok(main_many, NULL);
    remove_certs();
}

/* ---- real peers: openssl s_client and s_server ----------------------------------- */

static void *main_s_client(void *arg)
{
    struct server sv = {.lfd = cora_tcp_listen("127.0.0.1", 0, NULL), .tls = server_tls(NULL)};
    cora_task *srv = cora_spawn(serve_one, &sv);
    char port[16];
    snprintf(port, sizeof port, "127.0.0.1:%d", cora_socket_port(sv.lfd));
    cora_process *p;
    cora_process_opts o = {.stdin_mode = CORA_PIPE, .stdout_mode = CORA_PIPE,
                           .stderr_mode = CORA_DEVNULL};
    assert_int_equal(cora_process_spawn(&p, (const char *[]){"openssl", "s_client", "-connect",
                                                             port, "-CAfile", certs.ca,
                                                             "-verify_return_error", "-quiet", "-no_ign_eof",
                                                             NULL},
                                        &o),
                     0);
    /* Say a line and read it back through s_client, then end its input. */
    assert_int_equal(cora_write_all(cora_process_fd(p, 0), "hello s_client\n", 15, NULL), 15);
    char buf[64];
    size_t got = 0;
    while (got < 15) {
        ssize_t n = cora_read(cora_process_fd(p, 1), buf + got, sizeof buf - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    assert_memory_equal(buf, "hello s_client\n", 15);
    cora_process_close_fd(p, 0);
    int rc;
    cora_scope s;
    cora_fail_after(&s, 10);
    assert_int_equal(cora_process_wait(p, &rc), 0);
    cora_scope_exit(&s);
    cora_process_free(p);
    cora_cancel(srv);
    cora_await(srv, NULL);
    cora_tls_free(sv.tls);
    close(sv.lfd);
    return NULL;
}

static void openssl_s_client_talks_to_us(void **state)
{
    make_certs();
    run_ok(main_s_client, NULL);
    remove_certs();
}

static void *main_s_server(void *arg)
{
    /* A free port for s_server: bind one, note it, let it go. */
    int probe = cora_tcp_listen("127.0.0.1", 0, NULL);
    int port = cora_socket_port(probe);
    close(probe);
    char accept[16];
    snprintf(accept, sizeof accept, "%d", port);
    cora_process *p;
    cora_process_opts o = {.stdin_mode = CORA_DEVNULL, .stdout_mode = CORA_DEVNULL,
                           .stderr_mode = CORA_DEVNULL};
    assert_int_equal(cora_process_spawn(&p, (const char *[]){"openssl", "s_server", "-accept",
                                                             accept, "-cert", certs.crt, "-key", certs.key,
                                                             "-rev", "-naccept", "1", NULL},
                                        &o),
                     0);
    cora_tls *client;
    assert_int_equal(cora_tls_client(&client, &(cora_tls_opts){.ca_file = certs.ca}), 0);
    cora_stream *s = NULL;
    int r = -ECONNREFUSED;
    for (int i = 0; i < 500 && r == -ECONNREFUSED; i++) { /* until it listens */
        r = cora_tls_connect(&s, "localhost", port, client);
        if (r == -ECONNREFUSED) cora_sleep(0.01);
    }
    assert_int_equal(r, 0);
    /* s_server -rev sends back each line reversed. */
    assert_int_equal(cora_stream_write(s, "hello s_server\n", 15), 15);
    assert_int_equal(cora_stream_drain(s), 0);
    const char *line;
    ssize_t n;
    while ((n = cora_stream_readline(s, &line)) > 0 && memcmp(line, "revres_s olleh", 14) != 0) {
    }
    assert_true(n > 0); /* found the reversed line (s_server may greet first) */
    cora_stream_close(s);
    cora_process_free(p);
    cora_tls_free(client);
    return NULL;
}

static void we_talk_to_openssl_s_server(void **state)
{
    make_certs();
    run_ok(main_s_server, NULL);
    remove_certs();
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(tls_echo_with_alpn),
    CORA_TEST(bad_certificates_refused),
    CORA_TEST(cut_short_and_resumed),
    CORA_TEST(failures_survive_other_tasks),
    CORA_TEST(many_at_once),
    CORA_TEST(openssl_s_client_talks_to_us),
    CORA_TEST(we_talk_to_openssl_s_server),
};

CORA_TEST_MAIN("tls", tests)

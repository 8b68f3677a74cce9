/* tests/test_ws.c: WebSockets, cora's client against cora's server in one loop (every
 * API call, both directions), and against real peers: Python's websockets as a
 * server, raw bytes for what no polite peer sends, TLS, and the `cora serve` chat room
 * with a thousand members and one that stops reading.
 * (Python's and Node's clients, Chromium and the Autobahn cases run against `cora
 * serve` from tests/ws/peers.sh.) */
#include "certs.h"
#include "http_util.h"

#include <signal.h>

#ifndef CORA_TOOL
#error "CORA_TOOL: the path of the cora command"
#endif
#ifndef CORA_WS_SCRIPTS
#error "CORA_WS_SCRIPTS: tests/ws"
#endif

/* ---- an in-process server ----------------------------------------------------------- */

static cora_ws_opts server_opts;
static int server_rc; /* what the last handler saw at the end */
static unsigned server_close_code;
static char server_close_reason[128];

/* Echoes whole messages until the peer closes. */
static int h_echo(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws *ws;
    if (cora_ws_accept(req, &server_opts, &ws) < 0) return 0;
    cora_ws_msg m;
    int r;
    while ((r = cora_ws_recv(ws, &m)) == 0 && (r = cora_ws_send(ws, m.type, m.data, m.len)) == 0) {
    }
    server_rc = r;
    server_close_code = cora_ws_close_code(ws);
    snprintf(server_close_reason, sizeof server_close_reason, "%s", cora_ws_close_reason(ws));
    cora_ws_free(ws);
    return 0;
}

/* Tells how a message arrived in fragments: "[3+3]abcdef". */
static int h_fragments(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws *ws;
    if (cora_ws_accept(req, &server_opts, &ws) < 0) return 0;
    char out[256] = "[", *p = out + 1, body[128] = "";
    size_t blen = 0;
    cora_ws_msg m;
    int r;
    while ((r = cora_ws_recv_fragment(ws, &m)) == 0) {
        p += sprintf(p, "%s%zu", p == out + 1 ? "" : "+", m.len);
        memcpy(body + blen, m.data, m.len);
        blen += m.len;
        if (m.fin) break;
    }
    if (r == 0) {
        p += sprintf(p, "]%.*s", (int)blen, body);
        r = cora_ws_send_text(ws, out);
    }
    if (r == 0) r = cora_ws_close(ws, 1000, "done");
    server_rc = r;
    cora_ws_free(ws);
    return 0;
}

/* Sends a message in two fragments 200 ms apart, then waits for the close. */
static int h_slow(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws *ws;
    if (cora_ws_accept(req, &server_opts, &ws) < 0) return 0;
    int r = cora_ws_send_fragment(ws, CORA_WS_TEXT, "abc", 3, 0);
    if (r == 0) r = cora_sleep(0.2);
    if (r == 0) r = cora_ws_send_fragment(ws, CORA_WS_TEXT, "def", 3, 1);
    cora_ws_msg m;
    while (r == 0)
        r = cora_ws_recv(ws, &m);
    cora_ws_free(ws);
    return 0;
}

/* Closes at once with 1001. */
static int h_going_away(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws *ws;
    if (cora_ws_accept(req, &server_opts, &ws) < 0) return 0;
    server_rc = cora_ws_close(ws, 1001, "going away");
    cora_ws_free(ws);
    return 0;
}

/* Sends 64 KiB messages to a peer that never reads, until 1 s passes. */
static size_t pushed;
static int h_push(cora_http_req *req, void *arg)
{
    (void)arg;
    cora_ws *ws;
    if (cora_ws_accept(req, &server_opts, &ws) < 0) return 0;
    static char blob[65536];
    cora_scope sc;
    cora_move_on_after(&sc, 1.0);
    int r;
    while ((r = cora_ws_send(ws, CORA_WS_BINARY, blob, sizeof blob)) == 0)
        pushed += sizeof blob;
    cora_scope_exit(&sc);
    server_rc = r;
    cora_ws_free(ws);
    return 0;
}

static void start(test_server *ts, const cora_ws_opts *wo, cora_tls *tls)
{
    server_opts = wo ? *wo : (cora_ws_opts){0};
    server_rc = 1;
    server_close_code = 0;
    cora_http_server_opts so = {.tls = tls};
    cora_http_server *srv;
    assert_int_equal(cora_http_server_new(&srv, &so), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/echo", h_echo, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/fragments", h_fragments, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/slow", h_slow, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/going-away", h_going_away, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/push", h_push, NULL), 0);
    test_server_start(ts, srv);
}

static cora_ws *connect_to(const test_server *ts, const char *path, const cora_ws_opts *o)
{
    char url[128];
    snprintf(url, sizeof url, "ws://127.0.0.1:%d%s", ts->port, path);
    cora_ws *ws = NULL;
    assert_int_equal(cora_ws_connect(url, o, &ws), 0);
    return ws;
}

/* Sends messages of every boundary size, text and binary, and checks each echo. */
static void echo_sizes(cora_ws *ws)
{
    static const size_t sizes[] = {0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        size_t n = sizes[i];
        char *p = malloc(n + 1);
        for (size_t k = 0; k < n; k++)
            p[k] = (char)('a' + (k * 7 + i) % 26);
        for (int type = CORA_WS_TEXT; type <= CORA_WS_BINARY; type++) {
            assert_int_equal(cora_ws_send(ws, type, p, n), 0);
            cora_ws_msg m;
            assert_int_equal(cora_ws_recv(ws, &m), 0);
            assert_int_equal(m.type, type);
            assert_int_equal(m.len, n);
            assert_int_equal(m.fin, 1);
            assert_memory_equal(m.data, p, n);
        }
        free(p);
    }
}

/* ---- cora to cora ----------------------------------------------------------------- */

static void *main_echo_plain_and_deflate(void *arg)
{
    for (int deflate = 0; deflate <= 1; deflate++) {
        test_server ts;
        cora_ws_opts o = {.permessage_deflate = deflate};
        start(&ts, &o, NULL);
        cora_ws *ws = connect_to(&ts, "/echo", &o);
        assert_int_equal(cora_ws_compressed(ws), deflate);
        echo_sizes(ws);
        /* Text that is not UTF-8 is refused before anything is sent. */
        assert_int_equal(cora_ws_send(ws, CORA_WS_TEXT, "\xc3\x28", 2), -EINVAL);
        assert_int_equal(cora_ws_close(ws, 4000, "bye"), 0);
        assert_int_equal(cora_ws_close_code(ws), 4000); /* the server echoed it */
        cora_ws_free(ws);
        test_server_stop(&ts);
        assert_int_equal(server_rc, -EPIPE);
        assert_int_equal(server_close_code, 4000);
        assert_string_equal(server_close_reason, "bye");
    }
    /* Compression only when both sides want it. */
    test_server ts;
    cora_ws_opts on = {.permessage_deflate = 1};
    start(&ts, NULL, NULL);
    cora_ws *ws = connect_to(&ts, "/echo", &on);
    assert_int_equal(cora_ws_compressed(ws), 0);
    echo_sizes(ws);
    cora_ws_close(ws, 1000, NULL);
    cora_ws_free(ws);
    test_server_stop(&ts);
    return NULL;
}

static void echo_plain_and_deflate(void **state)
{
    run_ok(main_echo_plain_and_deflate, NULL);
}

/* Fragments go out as sent, with a ping between them; the server sees the pieces. */
static void *main_fragments_and_pings(void *arg)
{
    test_server ts;
    start(&ts, NULL, NULL);
    cora_ws *ws = connect_to(&ts, "/fragments", NULL);
    assert_int_equal(cora_ws_send_fragment(ws, CORA_WS_TEXT, "abc", 3, 0), 0);
    assert_int_equal(cora_ws_ping(ws, "p", 1), 0);
    assert_int_equal(cora_ws_send_fragment(ws, CORA_WS_TEXT, "d\xc3", 2, 0), 0);
    assert_int_equal(cora_ws_send_fragment(ws, CORA_WS_TEXT, "\xa9", 1, 1), 0);
    assert_int_equal(cora_ws_ping(ws, NULL, 200), -EINVAL);
    cora_ws_msg m;
    assert_int_equal(cora_ws_recv(ws, &m), 0);
    assert_string_equal(m.data, "[3+2+1]abcd\xc3\xa9");
    assert_int_equal(cora_ws_pongs(ws), 1);
    /* The server closes with 1000 "done". */
    assert_int_equal(cora_ws_recv(ws, &m), -EPIPE);
    assert_int_equal(cora_ws_close_code(ws), 1000);
    assert_string_equal(cora_ws_close_reason(ws), "done");
    assert_int_equal(cora_ws_send_text(ws, "late"), -EPIPE);
    assert_int_equal(cora_ws_close(ws, 1000, NULL), 0);
    cora_ws_free(ws);
    test_server_stop(&ts);
    assert_int_equal(server_rc, 0);
    return NULL;
}

static void fragments_and_pings(void **state)
{
    run_ok(main_fragments_and_pings, NULL);
}

/* A receive cut short by a deadline loses nothing: the next one gets the whole message. */
static void *main_recv_timeout_resumes(void *arg)
{
    test_server ts;
    start(&ts, NULL, NULL);
    cora_ws *ws = connect_to(&ts, "/slow", NULL);
    cora_ws_msg m;
    cora_scope sc;
    cora_move_on_after(&sc, 0.05);
    assert_int_equal(cora_ws_recv(ws, &m), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&sc), 0);
    assert_int_equal(cora_ws_recv(ws, &m), 0);
    assert_int_equal(m.len, 6);
    assert_string_equal(m.data, "abcdef");
    assert_int_equal(cora_ws_close(ws, 1000, NULL), 0);
    cora_ws_free(ws);
    test_server_stop(&ts);
    return NULL;
}

static void recv_timeout_resumes(void **state)
{
    run_ok(main_recv_timeout_resumes, NULL);
}

/* Close codes: the server's 1001 reaches the client; codes that may not be sent are
 * refused; a message over the server's limit is answered with 1009. */
static void *main_close_and_limits(void *arg)
{
    test_server ts;
    cora_ws_opts so = {.max_message = 1000};
    start(&ts, &so, NULL);
    cora_ws *ws = connect_to(&ts, "/going-away", NULL);
    cora_ws_msg m;
    assert_int_equal(cora_ws_recv(ws, &m), -EPIPE);
    assert_int_equal(cora_ws_close_code(ws), 1001);
    assert_string_equal(cora_ws_close_reason(ws), "going away");
    cora_ws_free(ws);

    ws = connect_to(&ts, "/echo", NULL);
    assert_int_equal(cora_ws_close(ws, 1005, NULL), -EINVAL);
    assert_int_equal(cora_ws_close(ws, 999, NULL), -EINVAL);
    assert_int_equal(cora_ws_close(ws, 5000, NULL), -EINVAL);
    assert_int_equal(cora_ws_close(ws, 0, "reason without code"), -EINVAL);
    static char big[1001];
    assert_int_equal(cora_ws_send(ws, CORA_WS_BINARY, big, 1000), 0);
    assert_int_equal(cora_ws_recv(ws, &m), 0);
    assert_int_equal(cora_ws_send(ws, CORA_WS_BINARY, big, 1001), 0);
    assert_int_equal(cora_ws_recv(ws, &m), -EPIPE);
    assert_int_equal(cora_ws_close_code(ws), 1009);
    cora_ws_free(ws);
    test_server_stop(&ts);
    assert_int_equal(server_rc, -EMSGSIZE);
    return NULL;
}

static void close_and_limits(void **state)
{
    run_ok(main_close_and_limits, NULL);
}

/* Subprotocols: the server's preference wins among those offered. */
static void *main_subprotocols(void *arg)
{
    test_server ts;
    cora_ws_opts so = {.subprotocols = "chat.v2, chat.v1"};
    start(&ts, &so, NULL);
    cora_ws_opts co = {.subprotocols = "chat.v1, chat.v2"};
    cora_ws *ws = connect_to(&ts, "/echo", &co);
    assert_string_equal(cora_ws_subprotocol(ws), "chat.v2");
    cora_ws_close(ws, 1000, NULL);
    cora_ws_free(ws);
    co.subprotocols = "other";
    ws = connect_to(&ts, "/echo", &co);
    assert_null(cora_ws_subprotocol(ws));
    cora_ws_close(ws, 1000, NULL);
    cora_ws_free(ws);
    test_server_stop(&ts);
    return NULL;
}

static void subprotocols(void **state)
{
    run_ok(main_subprotocols, NULL);
}

/* A peer that stops reading: the sender waits (its deadline ends it) instead of
 * buffering; what was accepted stays within the socket buffers and the stream's. */
static void *main_back_pressure(void *arg)
{
    test_server ts;
    start(&ts, NULL, NULL);
    pushed = 0;
    cora_ws *ws = connect_to(&ts, "/push", NULL);
    cora_sleep(1.3);
    /* The deadline cut the send short: before its first byte (-ETIMEDOUT) or in the
     * middle of a frame, which breaks the link (-EPIPE). */
    assert_true(server_rc == -ETIMEDOUT || server_rc == -EPIPE);
    assert_true(pushed > 0);
    assert_true(pushed < 32u << 20); /* kernel buffers + 64 KiB, not a second's worth */
    cora_ws_free(ws);                /* abruptly */
    test_server_stop(&ts);
    return NULL;
}

static void back_pressure(void **state)
{
    run_ok(main_back_pressure, NULL);
}

/* ---- raw bytes: bad upgrades and protocol violations -------------------------------- */

static const char upgrade_fmt[] = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                                  "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                                  "Sec-WebSocket-Version: %s\r\n\r\n";

static void *main_raw_violations(void *arg)
{
    test_server ts;
    start(&ts, NULL, NULL);
    char req[512];
    int closed;
    /* No valid key: 400. Version 8: 426 naming 13. */
    snprintf(req, sizeof req, upgrade_fmt, "short", "13");
    char *got = test_raw(ts.port, req, strlen(req), 5, &closed);
    assert_non_null(strstr(got, "HTTP/1.1 400 "));
    free(got);
    snprintf(req, sizeof req, upgrade_fmt, "dGhlIHNhbXBsZSBub25jZQ==", "8");
    got = test_raw(ts.port, req, strlen(req), 5, &closed);
    assert_non_null(strstr(got, "HTTP/1.1 426 "));
    assert_non_null(strstr(got, "Sec-WebSocket-Version: 13\r\n"));
    free(got);

    /* The RFC's own example key, then a frame as given: the server's close frame. */
    static const struct {
        const char *frame;
        size_t len;
        unsigned code;
    } bad[] = {
        {"\x81\x02hi", 4, 1002},               /* unmasked */
        {"\x83\x80\0\0\0\0", 6, 1002},         /* reserved opcode */
        {"\xc1\x80\0\0\0\0", 6, 1002},         /* RSV1 without deflate */
        {"\x81\x82\0\0\0\0\xc3\x28", 8, 1007}, /* invalid UTF-8 */
        {"\x80\x80\0\0\0\0", 6, 1002},         /* continuation of nothing */
        {"\x89\xfe\0\x7e\0\0\0\0", 8, 1002},   /* 126-byte ping */
        {"\x88\x81\0\0\0\0\x03", 7, 1002},     /* 1-byte close */
        {"\x88\x82\0\0\0\0\x03\xed", 8, 1002}, /* close code 1005 */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(req, sizeof req, upgrade_fmt, "dGhlIHNhbXBsZSBub25jZQ==", "13");
        size_t n = strlen(req);
        memcpy(req + n, bad[i].frame, bad[i].len);
        got = test_raw(ts.port, req, n + bad[i].len, 5, &closed);
        const char *body = strstr(got, "\r\n\r\n");
        assert_non_null(strstr(got, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        assert_non_null(body);
        const unsigned char *f = (const unsigned char *)body + 4;
        assert_int_equal(f[0], 0x88); /* an unmasked close frame */
        assert_true(f[1] >= 2);
        assert_int_equal((f[2] << 8) | f[3], bad[i].code);
        assert_true(closed);
        free(got);
    }
    test_server_stop(&ts);
    return NULL;
}

static void raw_violations(void **state)
{
    run_ok(main_raw_violations, NULL);
}

/* ---- TLS ------------------------------------------------------------------------------ */

static void *main_wss(void *arg)
{
    test_certs certs;
    assert_int_equal(test_certs_make(&certs, "ws"), 0);
    cora_tls *stls, *ctls;
    cora_tls_opts sto = {.cert_file = certs.crt, .key_file = certs.key};
    assert_int_equal(cora_tls_server(&stls, &sto), 0);
    cora_tls_opts cto = {.ca_file = certs.ca};
    assert_int_equal(cora_tls_client(&ctls, &cto), 0);
    test_server ts;
    cora_ws_opts o = {.permessage_deflate = 1};
    start(&ts, &o, stls);
    char url[128];
    snprintf(url, sizeof url, "wss://localhost:%d/echo", ts.port);
    cora_ws_opts co = {.permessage_deflate = 1, .tls = ctls};
    cora_ws *ws;
    assert_int_equal(cora_ws_connect(url, &co, &ws), 0);
    echo_sizes(ws);
    assert_int_equal(cora_ws_close(ws, 1000, NULL), 0);
    cora_ws_free(ws);
    /* The system's CAs do not know our throwaway CA. */
    assert_int_equal(cora_ws_connect(url, NULL, &ws), -EKEYREJECTED);
    assert_int_equal(cora_ws_connect("http://localhost/", NULL, &ws), -EINVAL);
    test_server_stop(&ts);
    cora_tls_free(stls);
    cora_tls_free(ctls);
    test_certs_remove(&certs);
    return NULL;
}

static void wss(void **state)
{
    run_ok(main_wss, NULL);
}

/* ---- real peers ---------------------------------------------------------------------- */

/* Starts a program that prints "listening on URL/" and returns its process; url gets
 * the URL (without the final slash). */
static cora_process *start_peer(const char *const argv[], char *url, size_t cap)
{
    cora_process *p;
    cora_process_opts o = {.stdout_mode = CORA_PIPE};
    assert_int_equal(cora_process_spawn(&p, argv, &o), 0);
    int fd = cora_process_fd(p, 1);
    char line[256];
    size_t n = 0;
    cora_scope sc;
    cora_fail_after(&sc, 20);
    while (n < sizeof line - 1 && (n == 0 || line[n - 1] != '\n')) {
        assert_true(cora_wait_fd(fd, CORA_READABLE) > 0);
        ssize_t k = read(fd, line + n, 1);
        if (k == 0) fail_msg("%s ended before it listened", argv[0]);
        if (k > 0) n++;
    }
    assert_int_equal(cora_scope_exit(&sc), 0);
    line[n] = '\0';
    assert_true(n > 15 && strncmp(line, "listening on ", 13) == 0);
    snprintf(url, cap, "%.*s", (int)(n - 13 - 2), line + 13); /* minus "/\n" */
    return p;
}

static void stop_peer(cora_process *p)
{
    cora_process_kill(p, SIGTERM);
    int status;
    cora_process_wait(p, &status);
    cora_process_free(p);
}

/* cora's client against Python's websockets server, with and without compression. */
static void *main_python_server(void *arg)
{
    const char *argv[] = {"/usr/bin/python3", CORA_WS_SCRIPTS "/py_ws_server.py", NULL};
    char url[128];
    cora_process *py = start_peer(argv, url, sizeof url);
    strcat(url, "/");
    for (int deflate = 0; deflate <= 1; deflate++) {
        cora_ws_opts o = {.permessage_deflate = deflate};
        cora_ws *ws;
        assert_int_equal(cora_ws_connect(url, &o, &ws), 0);
        assert_int_equal(cora_ws_compressed(ws), deflate);
        echo_sizes(ws);
        assert_int_equal(cora_ws_ping(ws, "x", 1), 0);
        assert_int_equal(cora_ws_send_text(ws, "after ping"), 0);
        cora_ws_msg m;
        assert_int_equal(cora_ws_recv(ws, &m), 0);
        assert_string_equal(m.data, "after ping");
        assert_int_equal(cora_ws_pongs(ws), 1);
        assert_int_equal(cora_ws_close(ws, 1000, "bye"), 0);
        assert_int_equal(cora_ws_close_code(ws), 1000);
        cora_ws_free(ws);
    }
    stop_peer(py);
    return NULL;
}

static void python_server(void **state)
{
    run_ok(main_python_server, NULL);
}

/* ---- the chat room of `cora serve` ---------------------------------------------------- */

typedef struct chat_member {
    const char *base;
    int i, n;
    cora_event *all_joined;
    int got_hello; /* saw member 0's message */
} chat_member;

static cora_ws *chat_join(const char *base, const char *nick)
{
    char url[160];
    snprintf(url, sizeof url, "%s/chat/ws?nick=%s", base, nick);
    cora_ws *ws;
    assert_int_equal(cora_ws_connect(url, NULL, &ws), 0);
    return ws;
}

static void *chat_member_run(void *arg)
{
    chat_member *cm = arg;
    char nick[16];
    snprintf(nick, sizeof nick, "m%d", cm->i);
    cora_ws *ws = chat_join(cm->base, nick);
    cora_ws_msg m;
    char want[64];
    snprintf(want, sizeof want, "\"members\":%d}", cm->n);
    /* Until the last member's join arrives, then until member 0 speaks. */
    int r;
    while ((r = cora_ws_recv(ws, &m)) == 0 && !strstr(m.data, want)) {
    }
    assert_int_equal(r, 0);
    if (cm->i == 0) {
        cora_event_wait(cm->all_joined);
        assert_int_equal(cora_ws_send_text(ws, "hello \"everyone\""), 0);
    }
    while ((r = cora_ws_recv(ws, &m)) == 0 &&
           !strstr(m.data,
                   "{\"type\":\"message\",\"nick\":\"m0\",\"text\":\"hello \\\"everyone\\\"\"}")) {
    }
    assert_int_equal(r, 0);
    cm->got_hello = 1;
    cora_ws_close(ws, 1000, NULL);
    cora_ws_free(ws);
    return NULL;
}

static cora_process *start_cora_serve(char *base, size_t cap)
{
    const char *argv[] = {CORA_TOOL, "serve", "--port", "0", NULL};
    cora_process *p = start_peer(argv, base, cap);
    /* ws:// instead of http:// */
    memmove(base + 2, base + 4, strlen(base + 4) + 1);
    base[0] = 'w', base[1] = 's';
    return p;
}

/* A thousand members: every one sees all join, and the message of member 0. */
static void *main_chat_thousand(void *arg)
{
    test_more_fds();
    char base[128];
    cora_process *srv = start_cora_serve(base, sizeof base);
    enum { N = 1000 };
    static chat_member cms[N];
    cora_event all;
    cora_event_init(&all);
    cora_group g;
    cora_group_init(&g);
    cora_task *first = NULL;
    for (int i = 0; i < N; i++) {
        cms[i] = (chat_member){.base = base, .i = i, .n = N, .all_joined = &all};
        if (i == 0) {
            first = cora_spawn(chat_member_run, &cms[0]);
            cora_sleep(0.05); /* member 0 joins first, so it sees "members":N last */
        } else {
            assert_int_equal(cora_group_spawn(&g, chat_member_run, &cms[i], NULL), 0);
        }
    }
    cora_event_set(&all);
    assert_int_equal(cora_await(first, NULL), 0);
    assert_int_equal(cora_group_wait(&g), 0);
    cora_group_destroy(&g);
    for (int i = 0; i < N; i++)
        assert_true(cms[i].got_hello);
    stop_peer(srv);
    return NULL;
}

static void chat_thousand(void **state)
{
    run_ok(main_chat_thousand, NULL);
}

/* A member that stops reading is dropped with 1008; the others keep talking. */
static void *main_chat_stalled_member(void *arg)
{
    char base[128];
    cora_process *srv = start_cora_serve(base, sizeof base);
    /* The stalled member: a raw socket that upgrades and then never reads. */
    int port = atoi(strrchr(base, ':') + 1);
    int fd = cora_tcp_connect("127.0.0.1", port);
    assert_true(fd >= 0);
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /chat/ws?nick=sleepy HTTP/1.1\r\nHost: x\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n");
    assert_int_equal(cora_send_all(fd, req, (size_t)n, NULL), n);
    cora_ws *a = chat_join(base, "alice"), *b = chat_join(base, "bob");
    /* Alice talks (60 KiB messages, the room's limit is 64 KiB): bob reads all of it. */
    static char text[60000];
    memset(text, 'x', sizeof text - 1);
    int left = 0, sent = 0;
    cora_ws_msg m;
    while (!left && sent < 3000) {
        assert_int_equal(cora_ws_send_text(a, text), 0);
        sent++;
        while (cora_ws_recv(a, &m) == 0 && !strstr(m.data, "\"type\":\"message\"")) {
        }
        int r;
        while ((r = cora_ws_recv(b, &m)) == 0 && !strstr(m.data, "\"type\":\"message\""))
            left |= strstr(m.data, "{\"type\":\"leave\",\"nick\":\"sleepy\"") != NULL;
        assert_int_equal(r, 0); /* bob got every message */
    }
    if (!left) fail_msg("the stalled member was never dropped");
    fprintf(stderr, "dropped after %d messages\n", sent);
    close(fd);
    cora_ws_close(a, 1000, NULL);
    cora_ws_close(b, 1000, NULL);
    cora_ws_free(a);
    cora_ws_free(b);
    stop_peer(srv);
    return NULL;
}

static void chat_stalled_member(void **state)
{
    run_ok(main_chat_stalled_member, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(echo_plain_and_deflate), CORA_TEST(fragments_and_pings),
    CORA_TEST(recv_timeout_resumes),   CORA_TEST(close_and_limits),
    CORA_TEST(subprotocols),           CORA_TEST(back_pressure),
    CORA_TEST(raw_violations),         CORA_TEST(wss),
    CORA_TEST(python_server),          CORA_TEST(chat_thousand),
    CORA_TEST(chat_stalled_member),
};

CORA_TEST_MAIN("ws", tests)

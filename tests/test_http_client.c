/* tests/test_http_client.c: the HTTP client against nginx (Debian's, started here
 * with its own config on a loopback port) with bodies compared byte for byte with
 * what curl gets; against cora's own server for methods, redirects, pooling, TLS and
 * limits; and against scripted peers for framing and broken answers. Runs once per
 * backend. */
#include "certs.h"
#include "http_util.h"
#include "black_hole.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

/* ---- nginx ---------------------------------------------------------------------- */

typedef struct nginx {
    char dir[64];
    int port;
    cora_process *proc;
    char base[64];
} nginx;

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static int free_port(void)
{
    int fd = cora_tcp_listen("127.0.0.1", 0, NULL);
    int port = cora_socket_port(fd);
    close(fd);
    return port;
}

static void nginx_start(nginx *n)
{
    snprintf(n->dir, sizeof n->dir, "/tmp/cora-nginx-%d", getpid());
    char path[256], conf[4096];
    snprintf(path, sizeof path, "mkdir -p %s/www %s/tmp && chmod -R a+rwx %s", n->dir, n->dir,
             n->dir);
    assert_int_equal(system(path), 0);
    /* 3 MiB of noise (sent with sendfile), 300 KB of text (gzipped on the fly, so
     * chunked), a small file. */
    size_t big = 3u << 20;
    unsigned char *b = malloc(big);
    uint32_t x = 12345;
    for (size_t i = 0; i < big; i++)
        b[i] = (unsigned char)((x = x * 1103515245 + 12345) >> 16);
    snprintf(path, sizeof path, "%s/www/big.bin", n->dir);
    write_file(path, b, big);
    free(b);
    char *text = malloc(300000);
    for (size_t i = 0; i < 300000; i++)
        text[i] = "the quick brown fox jumps\n"[i % 26];
    snprintf(path, sizeof path, "%s/www/text.txt", n->dir);
    write_file(path, text, 300000);
    free(text);
    snprintf(path, sizeof path, "%s/www/small.txt", n->dir);
    write_file(path, "small file\n", 11);
    n->port = free_port();
    snprintf(conf, sizeof conf,
             "daemon off; worker_processes 1; pid %s/nginx.pid; error_log %s/error.log;\n"
             "events { worker_connections 512; }\n"
             "http {\n"
             "  access_log off; default_type application/octet-stream;\n"
             "  types { text/plain txt; }\n"
             "  client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
             "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
             "  keepalive_requests 10000;\n"
             "  server {\n"
             "    listen 127.0.0.1:%d; root %s/www; sendfile on;\n"
             "    gzip on; gzip_types text/plain; gzip_min_length 0; gzip_http_version 1.0;\n"
             "    location = /redirect1 { return 301 /redirect2; }\n"
             "    location = /redirect2 { return 302 http://127.0.0.1:%d/small.txt; }\n"
             "    location = /see-other { return 303 /small.txt; }\n"
             "    location = /loop { return 302 /loop; }\n"
             "    location = /conn { default_type text/plain; return 200 \"$connection\"; }\n"
             "  }\n"
             "}\n",
             n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->dir, n->port, n->dir, n->port);
    snprintf(path, sizeof path, "%s/nginx.conf", n->dir);
    write_file(path, conf, strlen(conf));
    const char *argv[] = {"/usr/sbin/nginx", "-p", n->dir, "-c", path, "-e", "/dev/null", NULL};
    cora_process_opts o = {
        .stdin_mode = CORA_DEVNULL, .stdout_mode = CORA_DEVNULL, .stderr_mode = CORA_INHERIT};
    assert_int_equal(cora_process_spawn(&n->proc, argv, &o), 0);
    snprintf(n->base, sizeof n->base, "http://127.0.0.1:%d", n->port);
    for (int i = 0; i < 500; i++) { /* until it accepts (at most 5 s) */
        int fd = cora_tcp_connect("127.0.0.1", n->port);
        if (fd >= 0) {
            close(fd);
            return;
        }
        cora_sleep(0.01);
    }
    fail_msg("nginx did not start; see %s/error.log", n->dir);
}

static void nginx_stop(nginx *n)
{
    cora_process_kill(n->proc, SIGQUIT);
    int rc;
    cora_process_wait(n->proc, &rc);
    cora_process_free(n->proc);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    assert_int_equal(system(cmd), 0);
}

static char *join(const char *base, const char *path)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 256, "%s%s", base, path);
    return b;
}

/* What curl makes of a URL (decompressed, redirects followed). */
static cora_output curl_get(const char *url)
{
    cora_output out = {0};
    const char *argv[] = {"curl", "-sS", "--compressed", "-L", url, NULL};
    assert_int_equal(test_run(argv, NULL, 0, &out, NULL), 0);
    return out;
}

static void *main_nginx_bodies(void *arg)
{
    nginx n;
    nginx_start(&n);
    cora_http_client *c;
    assert_int_equal(cora_http_client_new(&c, NULL), 0);
    const char *paths[] = {"/big.bin", "/text.txt", "/small.txt", "/redirect1", "/see-other"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cora_http_response r;
        assert_int_equal(cora_http_get(c, join(n.base, paths[i]), &r), 0);
        assert_int_equal(r.status, 200);
        cora_output want = curl_get(join(n.base, paths[i]));
        if (r.body_len != want.len || memcmp(r.body, want.data, want.len) != 0)
            fail_msg("%s: %zu bytes, curl got %zu", paths[i], r.body_len, want.len);
        if (strcmp(paths[i], "/text.txt") == 0) { /* it did come gzipped and chunked */
            assert_string_equal(cora_http_response_header(&r, "Content-Encoding"), "gzip");
            assert_string_equal(cora_http_response_header(&r, "Transfer-Encoding"), "chunked");
        }
        free(want.data);
        cora_http_response_free(&r);
    }
    /* Redirects: counted, and the final URL reported. */
    cora_http_response r;
    assert_int_equal(cora_http_get(c, join(n.base, "/redirect1"), &r), 0);
    assert_int_equal(r.redirects, 2);
    assert_string_equal(r.url, join(n.base, "/small.txt"));
    cora_http_response_free(&r);
    assert_int_equal(cora_http_get(c, join(n.base, "/loop"), &r), -ELOOP);
    assert_null(r.body);

    /* Ten requests on one keep-alive connection: nginx's connection number holds. */
    char first[32] = "";
    for (int i = 0; i < 10; i++) {
        assert_int_equal(cora_http_get(c, join(n.base, "/conn"), &r), 0);
        if (i == 0)
            snprintf(first, sizeof first, "%s", r.body);
        else
            assert_string_equal(r.body, first);
        cora_http_response_free(&r);
    }
    cora_http_client_free(c);

    /* Not following redirects; raw (still compressed) bodies. */
    cora_http_client_opts o = {.max_redirects = -1, .raw = 1};
    assert_int_equal(cora_http_client_new(&c, &o), 0);
    assert_int_equal(cora_http_get(c, join(n.base, "/redirect1"), &r), 0);
    assert_int_equal(r.status, 301);
    assert_string_equal(cora_http_response_header(&r, "Location"), join(n.base, "/redirect2"));
    cora_http_response_free(&r);
    cora_http_header gz = {"Accept-Encoding", 15, "gzip", 4};
    cora_http_request_opts rq = {.url = join(n.base, "/text.txt"), .headers = &gz, .nheaders = 1};
    assert_int_equal(cora_http_request(c, &rq, &r), 0);
    assert_true(r.body_len < 300000 && r.body_len > 10);
    assert_memory_equal(r.body, "\x1f\x8b", 2); /* the gzip magic */
    cora_http_response_free(&r);
    cora_http_client_free(c);
    nginx_stop(&n);
    return NULL;
}

static void nginx_bodies(void **state)
{
    run_ok(main_nginx_bodies, NULL);
}

/* ---- against cora's server ------------------------------------------------------ */

static int in_flight, max_in_flight;

static int h_method(cora_http_req *req, void *arg)
{
    const char *body;
    ssize_t n = cora_http_req_body(req, &body);
    if (n < 0) return (int)n;
    char out[256];
    int len = snprintf(out, sizeof out, "%s %s [%.*s]", cora_http_req_method(req),
                       cora_http_req_path(req), (int)n, body);
    return cora_http_respond(req, 200, "text/plain", out, (size_t)len);
}

static int h_redirect(cora_http_req *req, void *arg)
{
    int status = atoi(cora_http_req_param(req, "code"));
    cora_http_set_header(req, "Location", "/method");
    return cora_http_respond(req, status, NULL, NULL, 0);
}

static int h_delay(cora_http_req *req, void *arg)
{
    in_flight++;
    if (in_flight > max_in_flight) max_in_flight = in_flight;
    int r = cora_sleep(0.05);
    in_flight--;
    return r ? r : cora_http_respond(req, 200, "text/plain", "ok", 2);
}

static int h_big(cora_http_req *req, void *arg)
{
    static char block[1000];
    memset(block, 'z', sizeof block);
    int r = cora_http_begin(req, 200, "text/plain", -1);
    for (int i = 0; r == 0 && i < 100; i++)
        r = cora_http_write(req, block, sizeof block) == (ssize_t)sizeof block ? 0 : -EIO;
    return r ? r : cora_http_end(req);
}

static void start_cora(test_server *ts, const cora_http_server_opts *o)
{
    cora_http_server *srv;
    assert_int_equal(cora_http_server_new(&srv, o), 0);
    assert_int_equal(cora_http_server_route(srv, NULL, "/method", h_method, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, NULL, "/redirect/:code", h_redirect, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/delay", h_delay, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/big", h_big, NULL), 0);
    in_flight = max_in_flight = 0;
    test_server_start(ts, srv);
}

static const char *post(cora_http_client *c, const char *url, cora_http_response *r)
{
    cora_http_request_opts rq = {.method = "POST", .url = url, .body = "data", .body_len = 4};
    assert_int_equal(cora_http_request(c, &rq, r), 0);
    return r->body;
}

/* RFC 9110 15.4: 303 (and 301/302 after POST) turn into GET without a body; 307 and
 * 308 repeat the method and the body. */
static void *main_redirect_methods(void *arg)
{
    test_server ts;
    start_cora(&ts, NULL);
    cora_http_client *c;
    assert_int_equal(cora_http_client_new(&c, NULL), 0);
    cora_http_response r;
    assert_string_equal(post(c, join(ts.base, "/method"), &r), "POST /method [data]");
    cora_http_response_free(&r);
    assert_string_equal(post(c, join(ts.base, "/redirect/303"), &r), "GET /method []");
    cora_http_response_free(&r);
    assert_string_equal(post(c, join(ts.base, "/redirect/302"), &r), "GET /method []");
    cora_http_response_free(&r);
    assert_string_equal(post(c, join(ts.base, "/redirect/307"), &r), "POST /method [data]");
    assert_int_equal(r.redirects, 1);
    cora_http_response_free(&r);
    assert_string_equal(post(c, join(ts.base, "/redirect/308"), &r), "POST /method [data]");
    cora_http_response_free(&r);
    cora_http_request_opts put = {
        .method = "PUT", .url = join(ts.base, "/redirect/301"), .body = "x", .body_len = 1};
    assert_int_equal(cora_http_request(c, &put, &r), 0);
    assert_string_equal(r.body, "PUT /method [x]");
    cora_http_response_free(&r);
    cora_http_client_free(c);
    test_server_stop(&ts);
    return NULL;
}

static void redirect_methods(void **state)
{
    run_ok(main_redirect_methods, NULL);
}

static cora_http_client *shared;

static void *get_ok(void *arg)
{
    cora_http_response r;
    int e = cora_http_get(shared, arg, &r);
    if (e < 0) return cora_fail(e);
    int s = r.status;
    cora_http_response_free(&r);
    return s == 200 ? NULL : cora_fail(-EPROTO);
}

/* max_concurrent bounds the requests in flight; a pooled connection the server
 * closed while idle is replaced without the caller seeing it. */
static void *main_limits_and_pool(void *arg)
{
    test_server ts;
    cora_http_server_opts so = {.idle_timeout = 0.2};
    start_cora(&ts, &so);
    cora_http_client_opts co = {.max_concurrent = 2};
    assert_int_equal(cora_http_client_new(&shared, &co), 0);
    cora_task *t[6];
    for (int i = 0; i < 6; i++)
        t[i] = cora_spawn(get_ok, join(ts.base, "/delay"));
    cora_outcome out[6];
    assert_int_equal(cora_gather(6, t, out, 0), 0);
    assert_int_equal(max_in_flight, 2);
    cora_sleep(0.5); /* the server closes the idle pooled connections */
    assert_int_equal((intptr_t)get_ok(join(ts.base, "/delay")), 0);
    cora_http_client_free(shared);

    /* max_body, a sink that sees every byte, errors for bad URLs. */
    cora_http_client *c;
    cora_http_client_opts small = {.max_body = 5000};
    assert_int_equal(cora_http_client_new(&c, &small), 0);
    cora_http_response r;
    assert_int_equal(cora_http_get(c, join(ts.base, "/big"), &r), -EMSGSIZE);
    assert_int_equal(cora_http_get(c, "ftp://127.0.0.1/x", &r), -EINVAL);
    assert_int_equal(cora_http_get(c, "not a url", &r), -EINVAL);
    assert_int_equal(cora_http_get(c, "http://127.0.0.1:1/", &r), -ECONNREFUSED);
    cora_http_client_free(c);
    test_server_stop(&ts);
    return NULL;
}

static void limits_and_pool(void **state)
{
    run_ok(main_limits_and_pool, NULL);
}

static int count_bytes(void *arg, const void *data, size_t len)
{
    const char *p = data;
    for (size_t i = 0; i < len; i++)
        if (p[i] != 'z') return -EBADMSG;
    *(size_t *)arg += len;
    return 0;
}

static void *main_sink_and_tls(void *arg)
{
    test_certs certs;
    assert_int_equal(test_certs_make(&certs, "httpc"), 0);
    cora_tls *stls;
    cora_tls_opts sto = {.cert_file = certs.crt, .key_file = certs.key};
    assert_int_equal(cora_tls_server(&stls, &sto), 0);
    test_server ts;
    cora_http_server_opts so = {.tls = stls};
    start_cora(&ts, &so);
    char url[128];
    snprintf(url, sizeof url, "https://localhost:%d/big", ts.port);

    cora_tls *ctls;
    cora_tls_opts cto = {.ca_file = certs.ca};
    assert_int_equal(cora_tls_client(&ctls, &cto), 0);
    cora_http_client *c;
    cora_http_client_opts co = {.tls = ctls};
    assert_int_equal(cora_http_client_new(&c, &co), 0);
    size_t got = 0;
    cora_http_request_opts rq = {.url = url, .sink = count_bytes, .sink_arg = &got};
    cora_http_response r;
    assert_int_equal(cora_http_request(c, &rq, &r), 0);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_int_equal(r.body_len, 100000);
    assert_int_equal(got, 100000);
    cora_http_response_free(&r);
    cora_http_client_free(c);
    cora_tls_free(ctls);

    /* The system's CAs do not know our throwaway CA. */
    assert_int_equal(cora_http_get(NULL, url, &r), -EKEYREJECTED);
    test_server_stop(&ts);
    cora_tls_free(stls);
    test_certs_remove(&certs);
    return NULL;
}

static void sink_and_tls(void **state)
{
    run_ok(main_sink_and_tls, NULL);
}

/* ---- scripted peers ------------------------------------------------------------- */

typedef struct script {
    int fd;
    const char *answer;
    int close_after;
    size_t len; /* 0: strlen(answer); binary answers hold NUL bytes */
} script;

/* Accepts one connection, reads a request head, writes the answer as is. */
static void *scripted(void *arg)
{
    script *s = arg;
    int c = cora_accept(s->fd, NULL, NULL);
    if (c < 0) return cora_fail(c);
    char buf[4096];
    size_t n = 0;
    while (!memmem(buf, n, "\r\n\r\n", 4)) {
        ssize_t k = cora_recv(c, buf + n, sizeof buf - n, 0);
        if (k <= 0) break;
        n += (size_t)k;
    }
    cora_send_all(c, s->answer, s->len ? s->len : strlen(s->answer), NULL);
    if (!s->close_after) {
        cora_scope sc;
        cora_move_on_after(&sc, 2);
        cora_recv(c, buf, sizeof buf, 0); /* until the client is done */
        cora_scope_exit(&sc);
    }
    close(c);
    return NULL;
}

typedef struct answer_case {
    const char *name, *answer;
    int close_after, err, status;
    const char *body;
    size_t len;
} answer_case;

static void *main_scripted_answers(void *arg)
{
    /* len is given only for the binary answers (0 elsewhere). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
    const answer_case cases[] = {
        {"chunked with extension and trailer",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
         "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
         0, 0, 200, "hello world"},
        {"until close", "HTTP/1.0 200 OK\r\n\r\nall of it", 1, 0, 200, "all of it"},
        {"interim 100 first",
         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"
         "Content-Length: 2\r\n\r\nok",
         0, 0, 200, "ok"},
        {"204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, 204, ""},
        {"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 1, -EPROTO, 0,
         NULL},
        {"truncated chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc", 1,
         -EPROTO, 0, NULL},
        {"not HTTP", "SSH-2.0-OpenSSH_9.2\r\n\r\n", 1, -EPROTO, 0, NULL},
        {"CL and TE",
         "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n",
         1, -EPROTO, 0, NULL},
        {"bad gzip",
         "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"
         "abcd",
         0, -EPROTO, 0, NULL},
        {"closed before answering", "", 1, -ECONNRESET, 0, NULL},
        /* zlib.compress(b"hello deflate"), as RFC 9110 means deflate... */
        {"deflate (zlib)",
         "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 21\r\n\r\n"
         "\x78\x9c\xcb\x48\xcd\xc9\xc9\x57\x48\x49\x4d\xcb\x49\x2c\x49\x05\x00\x23\x0c\x05\x0a",
         0, 0, 200, "hello deflate", 66 + 21},
        /* ...and raw deflate, as some servers send it. */
        {"deflate (raw)",
         "HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nContent-Length: 15\r\n\r\n"
         "\xcb\x48\xcd\xc9\xc9\x57\x48\x49\x4d\xcb\x49\x2c\x49\x05\x00",
         0, 0, 200, "hello deflate", 66 + 15},
    };
#pragma GCC diagnostic pop
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        script s = {cora_tcp_listen("127.0.0.1", 0, NULL), cases[i].answer, cases[i].close_after,
                    cases[i].len};
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d/", cora_socket_port(s.fd));
        cora_task *peer = cora_spawn(scripted, &s);
        cora_http_response r;
        cora_http_client *c;
        cora_http_client_new(&c, NULL);
        int e = cora_http_get(c, url, &r);
        cora_http_client_free(c); /* closes a kept-alive connection: the peer ends */
        if (e != cases[i].err) fail_msg("%s: got %s", cases[i].name, cora_err_name(e));
        if (e == 0) {
            assert_int_equal(r.status, cases[i].status);
            assert_string_equal(r.body, cases[i].body);
            cora_http_response_free(&r);
        }
        assert_int_equal(cora_await(peer, NULL), 0);
        close(s.fd);
    }

    /* A peer that accepts and never answers: the head deadline. */
    script quiet = {cora_tcp_listen("127.0.0.1", 0, NULL), "", 0, 0};
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", cora_socket_port(quiet.fd));
    cora_task *peer = cora_spawn(scripted, &quiet);
    cora_http_client *c;
    cora_http_client_opts o = {.header_timeout = 0.2};
    cora_http_client_new(&c, &o);
    cora_http_response r;
    assert_int_equal(cora_http_get(c, url, &r), -ETIMEDOUT);
    cora_http_client_free(c);
    assert_int_equal(cora_await(peer, NULL), 0);
    close(quiet.fd);
    return NULL;
}

static void scripted_answers(void **state)
{
    run_ok(main_scripted_answers, NULL);
}

/* ---- connect_timeout --------------------------------------------------------------
 *
 * Loopback refuses or accepts at once, so connect_timeout needs a black hole
 * (tests/black_hole.h): a listener whose full accept queue makes the kernel drop the
 * SYN, so the connect neither succeeds nor fails and only connect_timeout can end
 * the request. A watcher sees the connect hanging in SYN_SENT meanwhile, so the
 * timeout is the connect's and not another phase's. */

struct syn_watch {
    int port;
    int seen; /* the most connects seen hanging towards port at once */
};

static void *watch_syn_sent(void *arg)
{
    struct syn_watch *w = arg;
    for (int i = 0; i < 500 && w->seen == 0; i++) { /* 5 s at most */
        int n = syn_sent_to(w->port);
        if (n > w->seen) w->seen = n;
        if (w->seen == 0 && cora_sleep(0.01) < 0) break;
    }
    return NULL;
}

static void *main_connect_timeout(void *arg)
{
    black_hole bh;
    assert_int_equal(black_hole_open(&bh, "127.0.0.1", 0), 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", bh.port);
    cora_http_client *c;
    cora_http_client_opts o = {.connect_timeout = 0.2};
    assert_int_equal(cora_http_client_new(&c, &o), 0);
    struct syn_watch w = {bh.port, 0};
    cora_task *watcher = cora_spawn(watch_syn_sent, &w);
    /* An outer deadline only to catch a hang (a connect into a black hole lasts
     * minutes); it must not be the one that fires. */
    cora_scope s;
    assert_int_equal(cora_fail_after(&s, 5.0), 0);
    cora_http_response r;
    assert_int_equal(cora_http_get(c, url, &r), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), 0);
    assert_int_equal(cora_await(watcher, NULL), 0);
    assert_int_equal(w.seen, 1);               /* it was the connect that hung */
    assert_int_equal(syn_sent_to(bh.port), 0); /* and it was stopped */
    cora_http_client_free(c);
    black_hole_close(&bh);
    return NULL;
}

static void connect_timeout_in_a_black_hole(void **state)
{
    run_ok(main_connect_timeout, NULL); /* the harness checks that no fd was left */
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(nginx_bodies), CORA_TEST(redirect_methods), CORA_TEST(limits_and_pool),
    CORA_TEST(sink_and_tls), CORA_TEST(scripted_answers),
    CORA_TEST(connect_timeout_in_a_black_hole),
};

CORA_TEST_MAIN("http_client", tests)

/* tests/test_http_server.c: the HTTP server against real clients (curl, Python's
 * http.client) and against raw bytes for what no polite client sends: keep-alive,
 * pipelining, chunked uploads, HEAD, Range, ETag, 100-continue, every limit, slow
 * clients, the connection limit and graceful shutdown. Runs once per backend. */
#include "http_util.h"

#include <fcntl.h>
#include <sys/stat.h>

/* ---- the routes under test ------------------------------------------------------ */

static int in_flight, max_in_flight, handled;

static int h_hello(cora_http_req *req, void *arg)
{
    handled++;
    return cora_http_respond(req, 200, "text/plain", "Hello, World!", 13);
}

static int h_echo(cora_http_req *req, void *arg)
{
    const char *body;
    ssize_t n = cora_http_req_body(req, &body);
    if (n < 0) return (int)n;
    return cora_http_respond(req, 200, cora_http_req_header(req, "Content-Type"), body, (size_t)n);
}

/* With a gate, /delay first waits (at most 60 s) until `gate_at` requests are in it
 * at once, then sleeps: a server that handled them one at a time would never open
 * the gate. That proves overlap by causality, not by how long anything took. */
static cora_event gate;
static int gate_at;

static int h_delay(cora_http_req *req, void *arg)
{
    char v[16];
    assert_true(cora_http_req_query_param(req, "ms", v, sizeof v) > 0);
    in_flight++;
    if (in_flight > max_in_flight) max_in_flight = in_flight;
    if (gate_at) {
        if (in_flight == gate_at) cora_event_set(&gate);
        cora_event_wait_timeout(&gate, 60);
    }
    int r = cora_sleep(atoi(v) / 1000.0);
    in_flight--;
    if (r < 0) return r;
    return cora_http_respond(req, 200, "text/plain", v, strlen(v));
}

/* A streamed answer: five chunks, with a yield between them. */
static int h_stream(cora_http_req *req, void *arg)
{
    int r = cora_http_begin(req, 200, "text/plain", -1);
    for (int i = 0; r == 0 && i < 5; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "line %d\n", i);
        r = cora_http_write(req, line, (size_t)n) == n ? 0 : -EIO;
        cora_yield();
    }
    return r ? r : cora_http_end(req);
}

/* /abandon: runs far longer than any test, and says how its wait ended. */
static cora_event abandon_in, abandon_out;
static int abandon_result;

static int h_abandon(cora_http_req *req, void *arg)
{
    cora_event_set(&abandon_in);
    abandon_result = cora_sleep(60);
    cora_event_set(&abandon_out);
    if (abandon_result < 0) return abandon_result;
    return cora_http_respond(req, 200, "text/plain", "late", 4);
}

static int h_params(cora_http_req *req, void *arg)
{
    char body[256];
    int n = snprintf(body, sizeof body, "id=%s rest=%s path=%s query=%s",
                     cora_http_req_param(req, "id"), cora_http_req_param(req, "rest"),
                     cora_http_req_path(req), cora_http_req_query(req));
    return cora_http_respond(req, 200, "text/plain", body, (size_t)n);
}

static char static_root[64];

static void make_static_root(void)
{
    snprintf(static_root, sizeof static_root, "/tmp/cora-http-root-%d", getpid());
    mkdir(static_root, 0755);
    char path[128];
    snprintf(path, sizeof path, "%s/data.txt", static_root);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "%04d-----\n", i); /* 10000 bytes */
    fclose(f);
    snprintf(path, sizeof path, "%s/index.html", static_root);
    f = fopen(path, "w");
    fputs("<h1>home</h1>\n", f);
    fclose(f);
}

static void remove_static_root(void)
{
    char path[128];
    snprintf(path, sizeof path, "%s/data.txt", static_root);
    unlink(path);
    snprintf(path, sizeof path, "%s/index.html", static_root);
    unlink(path);
    rmdir(static_root);
}

static void start(test_server *ts, const cora_http_server_opts *o)
{
    cora_http_server *srv;
    assert_int_equal(cora_http_server_new(&srv, o), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/hello", h_hello, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "POST", "/echo", h_echo, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/delay", h_delay, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, "GET", "/stream", h_stream, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, NULL, "/abandon", h_abandon, NULL), 0);
    assert_int_equal(cora_http_server_route(srv, NULL, "/users/:id/posts/*rest", h_params, NULL),
                     0);
    make_static_root();
    assert_int_equal(cora_http_server_static(srv, "/files", static_root), 0);
    in_flight = max_in_flight = handled = 0;
    test_server_start(ts, srv);
}

static void stop(test_server *ts)
{
    test_server_stop(ts);
    remove_static_root();
}

static char *url(const test_server *ts, const char *path)
{
    static char buf[8][256];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, 256, "%s%s", ts->base, path);
    return b;
}

/* ---- curl ----------------------------------------------------------------------- */

static void *main_curl_basics(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    cora_output out = {0};
    const char *get[] = {"curl", "-sS", "-i", url(&ts, "/hello"), NULL};
    assert_int_equal(test_run(get, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(out.data, "Content-Length: 13\r\n"));
    assert_non_null(strstr(out.data, "Date: "));
    assert_non_null(strstr(out.data, "\r\n\r\nHello, World!"));
    free(out.data);

    /* HEAD: the same head, no body. */
    const char *head[] = {"curl", "-sS", "-I", url(&ts, "/hello"), NULL};
    assert_int_equal(test_run(head, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "Content-Length: 13\r\n"));
    assert_null(strstr(out.data, "Hello"));
    free(out.data);

    /* Route parameters, a decoded path and the raw query. */
    const char *params[] = {"curl", "-sS", url(&ts, "/users/42/posts/a/b%20c?x=1&y=2"), NULL};
    assert_int_equal(test_run(params, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "id=42 rest=a/b c path=/users/42/posts/a/b c query=x=1&y=2");
    free(out.data);

    /* 404 for an unknown path, 405 with Allow for a known one with another method. */
    const char *nf[] = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url(&ts, "/nope"),
                        NULL};
    assert_int_equal(test_run(nf, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "404");
    free(out.data);
    const char *na[] = {"curl", "-sS", "-i", "-X", "DELETE", url(&ts, "/hello"), NULL};
    assert_int_equal(test_run(na, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 405 "));
    assert_non_null(strstr(out.data, "Allow: GET\r\n"));
    free(out.data);

    /* A streamed (chunked) answer. */
    const char *st[] = {"curl", "-sS", "-i", url(&ts, "/stream"), NULL};
    assert_int_equal(test_run(st, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "Transfer-Encoding: chunked\r\n"));
    assert_non_null(strstr(out.data, "\r\n\r\nline 0\nline 1\nline 2\nline 3\nline 4\n"));
    free(out.data);
    stop(&ts);
    return NULL;
}

static void curl_basics(void **state)
{
    run_ok(main_curl_basics, NULL);
}

/* Two URLs in one curl run share one connection: the second makes no new connect. */
static void *main_curl_keepalive(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    cora_output out = {0};
    const char *argv[] = {"curl",
                          "-sS",
                          "-o",
                          "/dev/null",
                          "-o",
                          "/dev/null",
                          "-w",
                          "%{num_connects} ",
                          url(&ts, "/hello"),
                          url(&ts, "/hello"),
                          NULL};
    assert_int_equal(test_run(argv, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "1 0 ");
    free(out.data);
    stop(&ts);
    return NULL;
}

static void curl_keepalive(void **state)
{
    run_ok(main_curl_keepalive, NULL);
}

/* Bodies by length and chunked, and Expect: 100-continue, echoed byte for byte. */
static void *main_curl_uploads(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    size_t n = 300000;
    char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (char)('a' + i % 26);
    cora_output out = {0};
    const char *len[] = {"curl",
                         "-sS",
                         "--data-binary",
                         "@-",
                         "-H",
                         "Content-Type: application/x-test",
                         url(&ts, "/echo"),
                         NULL};
    assert_int_equal(test_run(len, data, n, &out, NULL), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    free(out.data);

    const char *chunked[] = {
        "curl", "-sS", "--data-binary", "@-", "-H", "Transfer-Encoding: chunked", url(&ts, "/echo"),
        NULL};
    assert_int_equal(test_run(chunked, data, n, &out, NULL), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    free(out.data);

    cora_output err = {0};
    const char *cont[] = {
        "curl", "-sS", "-v", "--data-binary", "@-", "-H", "Expect: 100-continue", url(&ts, "/echo"),
        NULL};
    assert_int_equal(test_run(cont, data, n, &out, &err), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, data, n);
    assert_non_null(strstr(err.data, "HTTP/1.1 100 Continue"));
    free(out.data);
    free(err.data);
    free(data);
    stop(&ts);
    return NULL;
}

static void curl_uploads(void **state)
{
    run_ok(main_curl_uploads, NULL);
}

/* Static files: the whole file, a Range, If-None-Match, an unsatisfiable range. */
static void *main_curl_static(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    cora_output out = {0};
    const char *whole[] = {"curl", "-sS", "-D", "-", url(&ts, "/files/data.txt"), NULL};
    assert_int_equal(test_run(whole, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "Content-Length: 10000\r\n"));
    assert_non_null(strstr(out.data, "Content-Type: text/plain; charset=utf-8\r\n"));
    assert_non_null(strstr(out.data, "Last-Modified: "));
    const char *et = strstr(out.data, "ETag: ");
    assert_non_null(et);
    char etag[64] = "If-None-Match: ";
    size_t el = strcspn(et + 6, "\r");
    memcpy(etag + 15, et + 6, el);
    etag[15 + el] = '\0';
    assert_non_null(strstr(out.data, "\r\n\r\n0000-----\n0001"));
    free(out.data);

    const char *range[] = {"curl", "-sS", "-i", "-r", "20-39", url(&ts, "/files/data.txt"), NULL};
    assert_int_equal(test_run(range, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 206 Partial Content\r\n"));
    assert_non_null(strstr(out.data, "Content-Range: bytes 20-39/10000\r\n"));
    assert_non_null(strstr(out.data, "\r\n\r\n0002-----\n0003-----\n"));
    assert_int_equal(strlen(strstr(out.data, "\r\n\r\n") + 4), 20);
    free(out.data);

    const char *suffix[] = {"curl", "-sS", "-r", "-10", url(&ts, "/files/data.txt"), NULL};
    assert_int_equal(test_run(suffix, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "0999-----\n");
    free(out.data);

    const char *inm[] = {"curl", "-sS", "-i", "-H", etag, url(&ts, "/files/data.txt"), NULL};
    assert_int_equal(test_run(inm, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 304 Not Modified\r\n"));
    assert_null(strstr(out.data, "0000-----"));
    free(out.data);

    const char *bad[] = {"curl", "-sS", "-i", "-r", "20000-", url(&ts, "/files/data.txt"), NULL};
    assert_int_equal(test_run(bad, NULL, 0, &out, NULL), 0);
    assert_non_null(strstr(out.data, "HTTP/1.1 416 "));
    assert_non_null(strstr(out.data, "Content-Range: bytes */10000\r\n"));
    free(out.data);

    const char *dir[] = {"curl", "-sS", url(&ts, "/files/"), NULL};
    assert_int_equal(test_run(dir, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "<h1>home</h1>\n");
    free(out.data);

    /* Leaving the root: refused, whatever the spelling. */
    const char *up[] = {
        "curl",      "-s", "--path-as-is", "-o",
        "/dev/null", "-w", "%{http_code}", url(&ts, "/files/%2e%2e/%2e%2e/etc/passwd"),
        NULL};
    assert_int_equal(test_run(up, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "403");
    free(out.data);
    stop(&ts);
    return NULL;
}

static void curl_static(void **state)
{
    run_ok(main_curl_static, NULL);
}

/* ---- Python's http.client ------------------------------------------------------- */

static const char python_script[] =
    "import http.client, sys\n"
    "c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]))\n"
    "c.request('GET', '/hello'); r = c.getresponse(); print(r.status, r.read().decode())\n"
    "sock = c.sock\n"
    "c.request('POST', '/echo', body=iter([b'abc', b'defg']), encode_chunked=True,\n"
    "          headers={'Content-Type': 'x/y', 'Transfer-Encoding': 'chunked'})\n"
    "r = c.getresponse(); print(r.status, r.getheader('Content-Type'), r.read().decode())\n"
    "c.request('HEAD', '/hello'); r = c.getresponse(); print(r.status, repr(r.read()))\n"
    "c.request('GET', '/stream'); r = c.getresponse(); print(r.status, r.read().count(b'line'))\n"
    "print('same connection', c.sock is sock)\n";

static void *main_python_client(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    char port[16];
    snprintf(port, sizeof port, "%d", ts.port);
    const char *argv[] = {"python3", "-c", python_script, port, NULL};
    cora_output out = {0};
    assert_int_equal(test_run(argv, NULL, 0, &out, NULL), 0);
    assert_string_equal(out.data, "200 Hello, World!\n"
                                  "200 x/y abcdefg\n"
                                  "200 b''\n"
                                  "200 5\n"
                                  "same connection True\n");
    free(out.data);
    stop(&ts);
    return NULL;
}

static void python_client(void **state)
{
    run_ok(main_python_client, NULL);
}

/* ---- raw bytes ------------------------------------------------------------------ */

/* Three requests in one write: three answers, in order, the slow one first. */
static void *main_pipelining(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    static const char reqs[] = "GET /delay?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n"
                               "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                               "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nxyz"
                               "GET /delay?ms=0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int closed;
    char *got = test_raw(ts.port, reqs, sizeof reqs - 1, 10, &closed);
    assert_true(closed);
    const char *a = strstr(got, "\r\n\r\n100");
    const char *b = strstr(got, "\r\n\r\nHello, World!");
    const char *c = strstr(got, "\r\n\r\nxyz");
    const char *d = strstr(got, "\r\n\r\n0");
    assert_true(a && b && c && d);
    assert_true(a < b && b < c && c < d);
    assert_non_null(strstr(got, "Connection: close\r\n"));
    free(got);
    stop(&ts);
    return NULL;
}

static void pipelining(void **state)
{
    run_ok(main_pipelining, NULL);
}

typedef struct bad_case {
    const char *name, *req;
    int status;
} bad_case;

/* Every limit and malformed input gets its status, then a close; and the server
 * goes on serving others. */
static void *main_limits_and_malformed(void *arg)
{
    test_server ts;
    cora_http_server_opts o = {
        .max_line = 1024, .max_head = 4096, .max_headers = 20, .max_body = 1000};
    start(&ts, &o);
    static char long_target[2048], big_header[8192], many[4096];
    snprintf(long_target, sizeof long_target, "GET /%01500d HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    snprintf(big_header, sizeof big_header, "GET / HTTP/1.1\r\nX: %05000d\r\n\r\n", 0);
    size_t m = (size_t)snprintf(many, sizeof many, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 30; i++)
        m += (size_t)snprintf(many + m, sizeof many - m, "H%d: v\r\n", i);
    snprintf(many + m, sizeof many - m, "\r\n");
    const bad_case cases[] = {
        {"target too long", long_target, 414},
        {"header too big", big_header, 431},
        {"too many fields", many, 431},
        {"body too big", "POST /echo HTTP/1.1\r\nContent-Length: 5000\r\n\r\n", 413},
        {"chunked body too big", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n7d0\r\n",
         413},
        {"CL and TE",
         "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
         400},
        {"two lengths", "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
         400},
        {"bad length", "POST /echo HTTP/1.1\r\nContent-Length: 3x\r\n\r\nabc", 400},
        {"obs-fold", "GET /hello HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
        {"bare LF", "GET /hello HTTP/1.1\nHost: x\n\n", 400},
        {"bare CR", "GET /hello HTTP/1.1\rHost: x\r\n\r\n", 400},
        {"space before colon", "GET /hello HTTP/1.1\r\nHost : x\r\n\r\n", 400},
        {"control in value", "GET /hello HTTP/1.1\r\nX: a\001b\r\n\r\n", 400},
        {"HTTP/2.0", "GET /hello HTTP/2.0\r\n\r\n", 505},
        {"unknown coding", "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        {"chunked not last", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
         400},
        {"bad chunk", "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        {"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int closed;
        char *got = test_raw(ts.port, cases[i].req, strlen(cases[i].req), 10, &closed);
        char want[32];
        snprintf(want, sizeof want, "HTTP/1.1 %d ", cases[i].status);
        if (strncmp(got, want, strlen(want)) != 0 || !closed)
            fail_msg("%s: wanted %d and a close, got (closed=%d) %.60s", cases[i].name,
                     cases[i].status, closed, got);
        assert_non_null(strstr(got, "Connection: close\r\n"));
        free(got);
    }
    /* Still serving. */
    int closed;
    char *got = test_raw(ts.port, "GET /hello HTTP/1.0\r\n\r\n", 23, 10, &closed);
    assert_non_null(strstr(got, "Hello, World!"));
    free(got);
    stop(&ts);
    return NULL;
}

static void limits_and_malformed(void **state)
{
    run_ok(main_limits_and_malformed, NULL);
}

/* The 100 Continue comes before the client sends its body, and only once asked. */
static void *main_expect_continue_raw(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    int fd = cora_tcp_connect("127.0.0.1", ts.port);
    static const char head[] = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               "Expect: 100-continue\r\n\r\n";
    assert_int_equal(cora_send_all(fd, head, sizeof head - 1, NULL), sizeof head - 1);
    char buf[512];
    ssize_t n = cora_recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, "HTTP/1.1 100 Continue\r\n\r\n");
    assert_int_equal(cora_send_all(fd, "hello", 5, NULL), 5);
    n = cora_recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK\r\n"));
    assert_non_null(strstr(buf, "\r\n\r\nhello"));
    close(fd);

    /* A handler that answers without reading: no 100, and the connection closes. */
    static const char skip[] = "POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                               "Expect: 100-continue\r\n\r\n";
    int closed;
    char *got = test_raw(ts.port, skip, sizeof skip - 1, 10, &closed);
    assert_null(strstr(got, "100 Continue"));
    assert_non_null(strstr(got, "HTTP/1.1 405 "));
    assert_true(closed);
    free(got);
    stop(&ts);
    return NULL;
}

static void expect_continue_raw(void **state)
{
    run_ok(main_expect_continue_raw, NULL);
}

/* A client that sends its head a byte at a time is cut off with 408 at the header
 * deadline, while another client is answered meanwhile. */
static int slow_done;

static void *slowloris(void *arg)
{
    int port = (int)(intptr_t)arg;
    int fd = cora_tcp_connect("127.0.0.1", port);
    static const char head[] = "GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: 123456789\r\n\r\n";
    char buf[512];
    ssize_t n = 0;
    for (size_t i = 0; i < sizeof head - 1; i++) {
        if (cora_send(fd, head + i, 1, 0) < 0) break;
        cora_sleep(0.05);
        n = cora_recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
        if (n > 0) break;
    }
    if (n <= 0) n = cora_recv(fd, buf, sizeof buf - 1, 0);
    slow_done = 1;
    close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strdup(buf);
}

static void *main_slowloris(void *arg)
{
    test_server ts;
    cora_http_server_opts o = {.header_timeout = 0.5};
    start(&ts, &o);
    slow_done = 0;
    cora_task *slow = cora_spawn(slowloris, (void *)(intptr_t)ts.port);
    cora_sleep(0.1);
    int closed;
    char *got =
        test_raw(ts.port, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", 42, 10, &closed);
    assert_non_null(strstr(got, "Hello, World!"));
    assert_false(slow_done); /* answered while the slow client was still sending */
    free(got);
    void *res;
    assert_int_equal(cora_await(slow, &res), 0);
    assert_non_null(strstr(res, "HTTP/1.1 408 "));
    free(res);
    stop(&ts);
    return NULL;
}

static void slowloris_cut_off(void **state)
{
    run_ok(main_slowloris, NULL);
}

/* With a limit of 2 connections, a third is answered only once one of the first two
 * closes. */
static void *main_connection_limit(void *arg)
{
    test_server ts;
    cora_http_server_opts o = {.max_connections = 2};
    start(&ts, &o);
    int a = cora_tcp_connect("127.0.0.1", ts.port);
    int b = cora_tcp_connect("127.0.0.1", ts.port);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    char buf[512];
    for (int i = 0; i < 2; i++) { /* both served, both kept open */
        int fd = i ? b : a;
        cora_send_all(fd, req, sizeof req - 1, NULL);
        assert_true(cora_recv(fd, buf, sizeof buf, 0) > 0);
    }
    int c = cora_tcp_connect("127.0.0.1", ts.port); /* the kernel's backlog takes it */
    assert_true(c >= 0);
    cora_send_all(c, req, sizeof req - 1, NULL);
    cora_scope sc;
    cora_move_on_after(&sc, 0.3);
    ssize_t n = cora_recv(c, buf, sizeof buf, 0);
    cora_scope_exit(&sc);
    assert_int_equal(n, -ETIMEDOUT); /* not answered while two are open */
    assert_int_equal(handled, 2);
    close(a);
    n = cora_recv(c, buf, sizeof buf, 0);
    assert_true(n > 0);
    assert_int_equal(handled, 3);
    close(b);
    close(c);
    stop(&ts);
    return NULL;
}

static void connection_limit(void **state)
{
    run_ok(main_connection_limit, NULL);
}

/* Shutdown while a request is in flight: it completes with its answer, idle
 * connections are closed, serve() returns 0 and nothing new is accepted. */
static cora_http_client *shared_client; /* NULL: a one-off client per request */

static void *slow_get(void *arg)
{
    cora_http_response resp;
    int r = cora_http_get(shared_client, arg, &resp);
    if (r < 0) return cora_fail(r);
    int status = resp.status;
    cora_http_response_free(&resp);
    return (void *)(intptr_t)status;
}

static void *main_graceful_shutdown(void *arg)
{
    test_server ts;
    start(&ts, NULL);
    int idle = cora_tcp_connect("127.0.0.1", ts.port);
    cora_task *t = cora_spawn(slow_get, url(&ts, "/delay?ms=300"));
    while (in_flight == 0)
        cora_sleep(0.01);
    int port = ts.port;
    cora_http_server_shutdown(ts.srv, 5.0);
    void *status;
    assert_int_equal(cora_await(t, &status), 0);
    assert_int_equal((intptr_t)status, 200);
    char b;
    assert_int_equal(cora_recv(idle, &b, 1, 0), 0); /* closed by the shutdown */
    close(idle);
    assert_int_equal(cora_await(ts.task, NULL), 0);
    assert_true(cora_tcp_connect("127.0.0.1", port) < 0);
    cora_http_server_free(ts.srv);
    remove_static_root();
    return NULL;
}

static void graceful_shutdown(void **state)
{
    run_ok(main_graceful_shutdown, NULL);
}

/* A client that goes away while its handler runs gets the handler cancelled: by
 * closing, by a reset, and by closing with a request body the handler never read
 * (the socket stays readable then). The access log says 499. Meanwhile a client that
 * waits for a slow answer gets it (graceful_shutdown's /delay is another). */
static void *main_client_gone(void *arg)
{
    char logpath[] = "/tmp/cora-test-log-XXXXXX";
    int lfd = mkstemp(logpath);
    assert_true(lfd >= 0);
    FILE *log = fdopen(lfd, "w+");
    test_server ts;
    start(&ts, &(cora_http_server_opts){.access_log = log});
    static const char *const reqs[] = {
        "GET /abandon HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /abandon HTTP/1.1\r\nHost: x\r\n\r\n",
        "POST /abandon HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    };
    for (int how = 0; how < 3; how++) {
        cora_event_init(&abandon_in);
        cora_event_init(&abandon_out);
        abandon_result = 1;
        cora_task *stays = cora_spawn(slow_get, url(&ts, "/delay?ms=400"));
        int fd = cora_tcp_connect("127.0.0.1", ts.port);
        assert_true(fd >= 0);
        assert_int_equal(cora_send_all(fd, reqs[how], strlen(reqs[how]), NULL),
                         (ssize_t)strlen(reqs[how]));
        cora_scope sc;
        assert_int_equal(cora_scope_enter(&sc, cora_now_ns() + 10 * (int64_t)1000000000, 0), 0);
        assert_int_equal(cora_event_wait(&abandon_in), 0);
        if (how == 1) { /* a reset rather than an end */
            struct linger lg = {1, 0};
            assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
        }
        close(fd);
        assert_int_equal(cora_event_wait(&abandon_out), 0);
        assert_int_equal(abandon_result, -ECANCELED);
        void *status;
        assert_int_equal(cora_await(stays, &status), 0);
        assert_int_equal((intptr_t)status, 200);
        assert_int_equal(cora_scope_exit(&sc), 0);
    }
    stop(&ts);
    fflush(log);
    rewind(log);
    char line[512];
    int gone = 0;
    while (fgets(line, sizeof line, log))
        if (strstr(line, "/abandon HTTP/1.1\" 499 ")) gone++;
    assert_int_equal(gone, 3);
    fclose(log);
    unlink(logpath);
    return NULL;
}

static void client_gone_cancels_handler(void **state)
{
    run_ok(main_client_gone, NULL);
}

/* 1000 clients each GET /delay?ms=1000 at once: all are in the handler together. */
static void *main_thousand_delays(void *arg)
{
    test_more_fds();
    test_server ts;
    start(&ts, NULL);
    cora_http_client *c;
    cora_http_client_opts co = {.max_concurrent = 1000, .max_idle_per_host = 1000};
    assert_int_equal(cora_http_client_new(&c, &co), 0);
    shared_client = c;
    enum { N = 1000 };
    static cora_task *tasks[N];
    static cora_outcome out[N];
    static char the_url[128];
    snprintf(the_url, sizeof the_url, "%s/delay?ms=1000", ts.base);
    cora_event_init(&gate);
    gate_at = N;
    for (int i = 0; i < N; i++)
        tasks[i] = cora_spawn(slow_get, the_url);
    assert_int_equal(cora_gather(N, tasks, out, 0), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal((intptr_t)out[i].result, 200);
    assert_int_equal(max_in_flight, N); /* every one overlapped every other */
    gate_at = 0;
    shared_client = NULL;
    cora_http_client_free(c);
    stop(&ts);
    return NULL;
}

static void thousand_concurrent_delays(void **state)
{
    run_ok(main_thousand_delays, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(curl_basics),          CORA_TEST(curl_keepalive),
    CORA_TEST(curl_uploads),         CORA_TEST(curl_static),
    CORA_TEST(python_client),        CORA_TEST(pipelining),
    CORA_TEST(limits_and_malformed), CORA_TEST(expect_continue_raw),
    CORA_TEST(slowloris_cut_off),    CORA_TEST(connection_limit),
    CORA_TEST(graceful_shutdown),    CORA_TEST(thousand_concurrent_delays),
    CORA_TEST(client_gone_cancels_handler),
};

CORA_TEST_MAIN("http_server", tests)

/* bench/peers/libuv_echo.c: the libuv peer of bench/echo_server.c, in the usual libuv
 * shape: a uv_tcp_t listener, uv_read_start on each connection, and a uv_write of
 * what was read.
 *
 *   echo  each read is written back. The read buffer is the connection's own (64 KiB,
 *         handed out by the alloc callback), and the write goes out at once through
 *         uv_try_write; only what the socket did not take is copied into a uv_write
 *         request, and reading stops until that write completes (backpressure). In
 *         this benchmark every 64-byte echo goes through uv_try_write: libuv's
 *         cheapest path, no request allocated;
 *   sink  reads 64 KiB at a time (libuv's own suggested size) and drops the bytes;
 *         closes at end of stream.
 *
 * Listens on 127.0.0.1 only (port 0: a free port), prints "listening <port>", and
 * runs until killed, or with `conns` > 0 until that many connections have come and
 * gone (so that callgrind sees a normal exit, as for bench/echo_server.c).
 *
 *     libuv_echo [port [echo|sink [conns]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define ECHO_BUF (64 * 1024)
#define SINK_BUF (64 * 1024)

static int sink;
static uv_loop_t *loop;
static uv_tcp_t server;
static long max_conns, accepted, closed;

typedef struct client {
    uv_tcp_t tcp;
    char *buf;
    size_t cap;
} client;

typedef struct pending {
    uv_write_t req;
    char data[];
} pending;

static void on_close(uv_handle_t *h)
{
    client *c = (client *)h;
    free(c->buf);
    free(c);
    /* The last of `conns` connections: closing the listener leaves the loop with
     * nothing to do, so uv_run returns. */
    if (max_conns > 0 && ++closed == max_conns) uv_close((uv_handle_t *)&server, NULL);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    client *c = (client *)h;
    *buf = uv_buf_init(c->buf, (unsigned)c->cap);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf);

static void on_written(uv_write_t *req, int status)
{
    uv_stream_t *s = req->handle;
    free(req);
    if (status < 0) {
        if (!uv_is_closing((uv_handle_t *)s)) uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (!uv_is_closing((uv_handle_t *)s)) uv_read_start(s, on_alloc, on_read);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (n == 0 || sink) return;
    uv_buf_t b = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_try_write(s, &b, 1);
    if (w == n) return;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    /* The rest goes through a request with its own copy: the read buffer is reused
     * by the next read. Stop reading until it is out, as a real server must. */
    size_t done = w > 0 ? (size_t)w : 0, rest = (size_t)n - done;
    pending *p = malloc(sizeof *p + rest);
    if (!p) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    memcpy(p->data, buf->base + done, rest);
    b = uv_buf_init(p->data, (unsigned)rest);
    uv_read_stop(s);
    if (uv_write(&p->req, s, &b, 1, on_written) < 0) {
        free(p);
        uv_close((uv_handle_t *)s, on_close);
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0 || (max_conns > 0 && accepted == max_conns)) return;
    accepted++;
    client *c = calloc(1, sizeof *c);
    c->cap = sink ? SINK_BUF : ECHO_BUF;
    c->buf = malloc(c->cap);
    uv_tcp_init(loop, &c->tcp);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    /* Nagle off, as in every server of the comparison. */
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 0;
    sink = argc > 2 && strcmp(argv[2], "sink") == 0;
    max_conns = argc > 3 ? atol(argv[3]) : 0;
    loop = uv_default_loop();
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int r = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!r) r = uv_listen((uv_stream_t *)&server, SOMAXCONN, on_connection);
    if (r) {
        fprintf(stderr, "libuv_echo: %s\n", uv_strerror(r));
        return 1;
    }
    struct sockaddr_storage ss;
    int len = sizeof ss;
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    fprintf(stderr, "libuv %s %s server\n", uv_version_string(), sink ? "sink" : "echo");
    printf("listening %d\n", ntohs(((struct sockaddr_in *)&ss)->sin_port));
    fflush(stdout);
    return uv_run(loop, UV_RUN_DEFAULT);
}

/* src/http/server.c: the HTTP/1.1 server.
 *
 * One task per connection, each in the server's task group, so shutdown and
 * cancellation reach every one of them and serve() never returns with a connection
 * still running. A semaphore bounds the connections: past the limit the acceptor
 * stops accepting and new clients wait in the kernel's backlog, costing us nothing.
 *
 * A connection reads into its own buffer and parses the head in place (the parser is
 * zero-copy): the request's strings are NUL-terminated inside that buffer, so a
 * handler gets C strings without a copy. The head stays put until the request is
 * answered; body bytes are decoded in the space after it, and bytes of a pipelined
 * next request wait there too. Answers go into the stream's output buffer and are
 * sent when the connection would otherwise wait for input, so pipelined answers
 * leave in one write, in order.
 *
 * Timeouts: idle_timeout for the first byte of a request, header_timeout from there
 * to the end of its head (a slowloris client is cut off with 408; others are not
 * touched), body_timeout and write_timeout per read and write.
 *
 * A client that goes away while its handler runs (it closes or resets the connection)
 * gets the handler cancelled, as Go cancels a request's context. Watching every
 * request would cost a poll per request; instead one task per server looks, every
 * WATCH_AFTER, for handlers running that long and starts a watcher for each: a quick
 * handler costs nothing.
 */
#include "internal.h"
#include "parser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../core/internal.h"
#include "cora.h"

#define NS_PER_S 1000000000LL
/* A handler running this long gets a watcher of its client (see the top). */
#define WATCH_AFTER 0.1
/* Unread body a connection may skip to stay alive after the handler answered. */
#define DISCARD_LIMIT (256 * 1024)

typedef struct route {
    struct route *next;
    char *method; /* NULL: any */
    char **segs;  /* ":name", "*name" or literal */
    size_t nsegs;
    cora_http_handler fn;
    void *arg;
} route;

typedef struct mount {
    struct mount *next;
    char *prefix;
    char *root;
} mount;

typedef struct conn conn;

struct cora_http_server {
    cora_http_server_opts o;
    http_limits lim;
    route *routes, **routes_tail;
    mount *mounts, **mounts_tail;
    int fd;
    cora_group conns_group;
    cora_sem slots;
    conn *conns; /* live connections (for shutdown) */
    cora_event stop;
    cora_event first_conn; /* set when a connection is added to an empty list */
    int serving, draining;
    double grace;
    time_t date_sec; /* the Date header is formatted once per second */
    char date[30];
};

enum body_state { BODY_DONE, BODY_LENGTH, BODY_CHUNKED };

struct cora_http_req {
    conn *c;
    http_head head;
    const char *method, *target, *path, *query;
    char *params[16][2]; /* name, value: inside c->scratch */
    size_t nparams;
    /* Body. */
    int body_state;
    uint64_t body_left; /* BODY_LENGTH */
    uint64_t body_read;
    http_chunked chunked;
    size_t pending; /* decoded chunk data waiting at c->body_at */
    int continue_due, body_error;
    http_buf body; /* cora_http_req_body */
    /* Answer. */
    http_buf extra; /* header lines added by the handler */
    int status, started, finished, chunked_out, head_only, close_after;
    int64_t length_out; /* -1: chunked or until close */
    uint64_t sent_body;
    int64_t t0;
};

struct conn {
    cora_http_server *srv;
    conn *prev, *next;
    cora_stream *s;
    char *in;
    size_t in_len, in_cap;
    size_t head_len, body_at; /* body bytes start at body_at (after the head) */
    http_buf scratch;
    cora_http_header *fields;
    cora_scope *idle_scope; /* set while waiting for a next request */
    cora_scope *handler_scope; /* set while the handler runs */
    int64_t handler_since;
    cora_task *watcher;        /* of a long-running handler's client, or NULL */
    int client_gone;
    int fd_for_accept;
    char peer[INET6_ADDRSTRLEN];
};

static double or_default(double v, double d)
{
    return v > 0 ? v : d;
}

int cora_http_server_new(cora_http_server **out, const cora_http_server_opts *opts)
{
    if (!out) return -EINVAL;
    *out = NULL;
    cora_http_server *srv = cora__calloc(1, sizeof *srv);
    if (!srv) return -ENOMEM;
    if (opts) srv->o = *opts;
    cora_http_server_opts *o = &srv->o;
    if (!o->max_connections) o->max_connections = 10000;
    o->header_timeout = or_default(o->header_timeout, 10);
    o->body_timeout = or_default(o->body_timeout, 30);
    o->idle_timeout = or_default(o->idle_timeout, 15);
    o->write_timeout = or_default(o->write_timeout, 30);
    if (!o->max_line) o->max_line = 8192;
    if (!o->max_head) o->max_head = 16384;
    if (!o->max_headers) o->max_headers = 100;
    if (!o->max_body) o->max_body = 8u << 20;
    if (o->max_line > o->max_head || o->max_connections > 1u << 30) {
        free(srv);
        return -EINVAL;
    }
    srv->lim = (http_limits){o->max_line, o->max_head, o->max_headers};
    srv->routes_tail = &srv->routes;
    srv->mounts_tail = &srv->mounts;
    srv->fd = -1;
    cora_event_init(&srv->stop);
    cora_event_init(&srv->first_conn);
    *out = srv;
    return 0;
}

/* ---- routes --------------------------------------------------------------------- */

static void route_free(route *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->nsegs; i++)
        free(r->segs[i]);
    free(r->segs);
    free(r->method);
    free(r);
}

/* Splits "/a/:b/:c" (or a final "*rest") into its segments. Returns 0 or -EINVAL / -ENOMEM. */
static int split_pattern(route *r, const char *pattern)
{
    if (pattern[0] != '/') return -EINVAL;
    const char *p = pattern + 1;
    while (*p || (p > pattern + 1 && p[-1] == '/')) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 0 && e) return -EINVAL;                                 /* "//" */
        if (n == 0) break;                                               /* a trailing '/' */
        if (r->nsegs && r->segs[r->nsegs - 1][0] == '*') return -EINVAL; /* '*' ends it */
        if ((p[0] == ':' || p[0] == '*') && n == 1) return -EINVAL;      /* unnamed */
        char **segs = cora__realloc(r->segs, (r->nsegs + 1) * sizeof *segs);
        if (!segs) return -ENOMEM;
        r->segs = segs;
        if (!(r->segs[r->nsegs] = strndup(p, n))) return -ENOMEM;
        r->nsegs++;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

int cora_http_server_route(cora_http_server *srv, const char *method, const char *pattern,
                           cora_http_handler fn, void *arg)
{
    if (!srv || !pattern || !fn || (method && !cora__http_valid_name(method))) return -EINVAL;
    route *r = cora__calloc(1, sizeof *r);
    if (!r) return -ENOMEM;
    r->fn = fn;
    r->arg = arg;
    int err = 0;
    if (method && !(r->method = strdup(method))) err = -ENOMEM;
    if (!err) err = split_pattern(r, pattern);
    if (err) {
        route_free(r);
        return err;
    }
    *srv->routes_tail = r;
    srv->routes_tail = &r->next;
    return 0;
}

int cora_http_server_static(cora_http_server *srv, const char *prefix, const char *root)
{
    if (!srv || !prefix || prefix[0] != '/' || !root) return -EINVAL;
    struct stat st;
    if (stat(root, &st) < 0) return -errno;
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    mount *m = cora__calloc(1, sizeof *m);
    if (!m) return -ENOMEM;
    m->prefix = strdup(prefix);
    m->root = realpath(root, NULL);
    if (!m->prefix || !m->root) {
        free(m->prefix);
        free(m->root);
        free(m);
        return -ENOMEM;
    }
    *srv->mounts_tail = m;
    srv->mounts_tail = &m->next;
    return 0;
}

/* Matches a decoded path against a route, filling the request's parameters (copies
 * in c->scratch, which was sized for them). */
static int route_match(const route *r, cora_http_req *req)
{
    const char *p = req->path;
    req->nparams = 0;
    for (size_t i = 0; i < r->nsegs; i++) {
        const char *seg = r->segs[i];
        if (*p != '/') return 0;
        p++;
        if (seg[0] == '*') { /* the rest */
            if (req->nparams < 16) {
                req->params[req->nparams][0] = (char *)seg + 1;
                req->params[req->nparams++][1] = (char *)p;
            }
            return 1;
        }
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (seg[0] == ':') {
            if (n == 0) return 0;
            http_buf *sb = &req->c->scratch;
            if (req->nparams < 16 && sb->cap - sb->len > n) {
                char *v = sb->data + sb->len;
                memcpy(v, p, n);
                v[n] = '\0';
                sb->len += n + 1;
                req->params[req->nparams][0] = (char *)seg + 1;
                req->params[req->nparams++][1] = v;
            }
        } else if (strlen(seg) != n || memcmp(seg, p, n) != 0) {
            return 0;
        }
        p += n;
    }
    return *p == '\0' || (p[0] == '/' && p[1] == '\0');
}

/* ---- listening and accepting ---------------------------------------------------- */

int cora_http_server_listen(cora_http_server *srv, const char *host, int port)
{
    if (!srv || srv->fd >= 0) return -EINVAL;
    int fd = cora_tcp_listen(host, port, NULL);
    if (fd < 0) return fd;
    int p = cora_socket_port(fd);
    if (p < 0) {
        close(fd);
        return p;
    }
    srv->fd = fd;
    return p;
}

static void *conn_main(void *arg);
static int dispatch(cora_http_req *req);

static void conn_free(conn *c)
{
    cora_http_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (c->s)
        cora_stream_close(c->s);
    else if (c->fd_for_accept >= 0)
        close(c->fd_for_accept);
    cora__hbuf_free(&c->scratch);
    free(c->fields);
    free(c->in);
    free(c);
    cora_sem_release(&srv->slots);
}

static void *acceptor(void *arg)
{
    cora_http_server *srv = arg;
    for (;;) {
        if (cora_sem_acquire(&srv->slots) < 0) break;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int fd = cora_accept(srv->fd, &peer, &plen);
        if (fd < 0) {
            cora_sem_release(&srv->slots);
            if (fd == -ECANCELED || fd == -EBADF || fd == -EINVAL) break;
            continue;
        }
        conn *c = cora__calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            cora_sem_release(&srv->slots);
            continue;
        }
        c->srv = srv;
        c->fd_for_accept = fd;
        if (peer.ss_family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, c->peer, sizeof c->peer);
        else if (peer.ss_family == AF_INET6)
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, c->peer,
                      sizeof c->peer);
        else
            strcpy(c->peer, "-");
        c->next = srv->conns;
        if (c->next)
            c->next->prev = c;
        else
            cora_event_set(&srv->first_conn);
        srv->conns = c;
        cora_spawn_opts so = {.name = "http-conn"};
        if (cora_group_spawn(&srv->conns_group, conn_main, c, &so) < 0) conn_free(c);
    }
    return NULL;
}

/* ---- a client that went away while its handler ran -------------------------------- */

/* Has the peer ended its side or failed? Without waiting and without reading. */
static int peer_gone(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* Waits until the client ends or breaks the connection, then cancels the handler.
 * Bytes the client sent meanwhile (a body not read yet, a pipelined request) keep the
 * socket readable, so then it looks again every WATCH_AFTER instead of waiting. */
static void *watcher(void *arg)
{
    conn *c = arg;
    int fd = cora_stream_fd(c->s);
    for (;;) {
        if (cora_wait_fd(fd, CORA_READABLE) < 0) return NULL; /* the handler ended */
        if (peer_gone(fd)) break;
        if (cora_sleep(WATCH_AFTER) < 0) return NULL;
    }
    c->client_gone = 1;
    if (c->handler_scope) cora_scope_cancel(c->handler_scope);
    return NULL;
}

/* Every WATCH_AFTER while there are connections, starts a watcher for each handler
 * that has run that long. */
static void *watchman(void *arg)
{
    cora_http_server *srv = arg;
    for (;;) {
        int r = srv->conns ? cora_sleep(WATCH_AFTER) : cora_event_wait(&srv->first_conn);
        if (r < 0) return NULL;
        cora_event_clear(&srv->first_conn);
        int64_t since = cora_now_ns() - (int64_t)(WATCH_AFTER * NS_PER_S);
        for (conn *c = srv->conns; c; c = c->next)
            if (c->handler_scope && !c->watcher && !c->client_gone && c->handler_since <= since) {
                cora_spawn_opts so = {.name = "http-watch"};
                if (cora_spawn_ex(&c->watcher, watcher, c, &so) < 0) c->watcher = NULL;
            }
    }
}

/* Runs the handler inside a scope that a watcher cancels if the client goes away. */
static int run_handler(conn *c, cora_http_req *req)
{
    cora_scope hs;
    int r = cora_scope_enter(&hs, CORA_NO_DEADLINE, 0);
    if (r < 0) return r;
    c->handler_scope = &hs;
    c->handler_since = req->t0;
    r = dispatch(req);
    c->handler_scope = NULL;
    if (c->watcher) { /* it refers to c: it must end before c can go */
        cora_scope sh;
        cora_shield_enter(&sh);
        cora_cancel(c->watcher);
        cora_await(c->watcher, NULL);
        cora_scope_exit(&sh);
        c->watcher = NULL;
    }
    int e = cora_scope_exit(&hs);
    if (c->client_gone) {
        req->close_after = 1;
        if (!req->started) req->status = 499; /* nginx's "client closed request" */
        return r < 0 ? r : e < 0 ? e : -ECONNRESET;
    }
    return r;
}

int cora_http_server_serve(cora_http_server *srv)
{
    if (!srv || srv->fd < 0 || srv->serving) return -EINVAL;
    /* Supervising: one connection failing (its stack could not be mapped) must not
     * cancel the others. */
    int r = cora_group_init_ex(&srv->conns_group, CORA_GROUP_SUPERVISE);
    if (r < 0) return r;
    cora_sem_init(&srv->slots, (unsigned)srv->o.max_connections);
    cora_task *acc;
    cora_spawn_opts so = {.name = "http-accept"};
    r = cora_spawn_ex(&acc, acceptor, srv, &so);
    if (r < 0) return r;
    cora_task *watch;
    so.name = "http-watchman";
    r = cora_spawn_ex(&watch, watchman, srv, &so);
    if (r < 0) {
        cora_cancel(acc);
        cora_await(acc, NULL);
        return r;
    }
    srv->serving = 1;
    int cause = cora_event_wait(&srv->stop);

    /* Stop accepting, whatever ended the wait; the shield lets the clean-up finish
     * even when this task was cancelled. */
    cora_scope shield;
    cora_shield_enter(&shield);
    cora_cancel(acc);
    cora_await(acc, NULL);
    srv->draining = 1;
    if (cause < 0) {
        cora_group_cancel(&srv->conns_group);
    } else {
        /* Graceful: idle connections close now; busy ones after their answer. */
        for (conn *c = srv->conns; c; c = c->next)
            if (c->idle_scope) cora_scope_cancel(c->idle_scope);
    }
    cora_scope_exit(&shield);

    cora_scope grace;
    int timed = cause < 0 ? 0 : cora_move_on_after(&grace, srv->grace) == 0;
    r = cora_group_wait(&srv->conns_group); /* on the deadline: cancels what is left */
    if (timed) cora_scope_exit(&grace);
    cora_shield_enter(&shield);
    cora_cancel(watch); /* only now: clients may leave busy handlers until the end */
    cora_await(watch, NULL);
    cora_scope_exit(&shield);
    (void)r; /* failed connections were each closed already; not the server's error */
    cora_group_destroy(&srv->conns_group);
    /* A connection whose task was cancelled before it ever ran is still listed:
     * nobody else will free it. */
    while (srv->conns)
        conn_free(srv->conns);
    srv->serving = 0;
    close(srv->fd);
    srv->fd = -1;
    return cause < 0 ? cause : 0;
}

void cora_http_server_shutdown(cora_http_server *srv, double grace)
{
    if (!srv) return;
    srv->grace = grace > 0 ? grace : 0;
    cora_event_set(&srv->stop);
}

void cora_http_server_free(cora_http_server *srv)
{
    if (!srv) return;
    while (srv->routes) {
        route *r = srv->routes;
        srv->routes = r->next;
        route_free(r);
    }
    while (srv->mounts) {
        mount *m = srv->mounts;
        srv->mounts = m->next;
        free(m->prefix);
        free(m->root);
        free(m);
    }
    if (srv->fd >= 0) close(srv->fd);
    free(srv);
}

/* ---- the connection: reading ---------------------------------------------------- */

static int64_t deadline_in(double seconds)
{
    return cora_now_ns() + (int64_t)(seconds * NS_PER_S);
}

/* Reads more bytes into c->in (growing it up to `cap_limit`) before `deadline`.
 * Returns the count, 0 at the end of the stream, or an error. Pending answers are sent
 * first: this is the only place a connection waits for its peer. */
static ssize_t read_more(conn *c, int64_t deadline, size_t cap_limit)
{
    cora_scope sc;
    int scoped = deadline != CORA_NO_DEADLINE;
    if (scoped) {
        int r = cora_scope_enter(&sc, deadline, 0);
        if (r < 0) return r;
    }
    ssize_t n = cora_stream_drain(c->s);
    if (n == 0 && c->in_len == c->in_cap) {
        size_t cap = c->in_cap ? c->in_cap * 2 : 4096;
        if (cap > cap_limit) cap = cap_limit;
        if (cap <= c->in_len)
            n = -EMSGSIZE;
        else {
            char *p = cora__realloc(c->in, cap);
            if (!p)
                n = -ENOMEM;
            else
                c->in = p, c->in_cap = cap;
        }
    }
    if (n == 0) n = cora_stream_read(c->s, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) c->in_len += (size_t)n;
    int e = scoped ? cora_scope_exit(&sc) : 0;
    return n < 0 ? n : e < 0 ? e : n;
}

/* Writes everything buffered, within the write timeout. */
static int flush(conn *c)
{
    cora_scope sc;
    int r = cora_scope_enter(&sc, deadline_in(c->srv->o.write_timeout), 0);
    if (r < 0) return r;
    r = cora_stream_drain(c->s);
    int e = cora_scope_exit(&sc);
    return r < 0 ? r : e;
}

static ssize_t put(conn *c, const struct iovec *iov, int n)
{
    /* Most answers fit the stream's output buffer and are only copied there: no
     * deadline (a timer) is needed unless the write may have to wait for the peer. */
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += iov[i].iov_len;
    if (cora_stream_pending(c->s) + total <= 32768) return cora_stream_writev(c->s, iov, n);
    cora_scope sc;
    int r = cora_scope_enter(&sc, deadline_in(c->srv->o.write_timeout), 0);
    if (r < 0) return r;
    ssize_t w = cora_stream_writev(c->s, iov, n);
    int e = cora_scope_exit(&sc);
    return w < 0 ? w : e < 0 ? e : w;
}

/* ---- answering ------------------------------------------------------------------ */

static const char *date_now(cora_http_server *srv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    if (ts.tv_sec != srv->date_sec) {
        srv->date_sec = ts.tv_sec;
        cora__http_date(ts.tv_sec, srv->date);
    }
    return srv->date;
}

static size_t append(char *buf, size_t n, const char *s)
{
    size_t l = strlen(s);
    memcpy(buf + n, s, l);
    return n + l;
}

static size_t append_u64(char *buf, size_t n, uint64_t v)
{
    char tmp[24];
    size_t k = 0;
    do {
        tmp[k++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (k)
        buf[n++] = tmp[--k];
    return n;
}

/* Writes the head of the answer: status line, the server's fields, the handler's. */
static int write_head(cora_http_req *req, int status, const char *ctype, int64_t length)
{
    conn *c = req->c;
    cora_http_server *srv = c->srv;
    if (req->started) return -EALREADY;
    req->started = 1;
    req->status = status;
    req->length_out = length;
    int no_body = status < 200 || status == 204 || status == 304;
    if (length < 0 && !no_body) {
        if (req->head.version >= 11)
            req->chunked_out = 1;
        else
            req->close_after = 1; /* HTTP/1.0: the end of the body is the close */
    }
    if (srv->draining || !cora__http_keep_alive(&req->head)) req->close_after = 1;
    /* A body the client may still be sending that we never asked for (100-continue
     * unanswered) or that is too big to skip: close rather than read it. */
    if (req->continue_due && req->body_state != BODY_DONE) req->close_after = 1;
    if (req->body_state == BODY_LENGTH && req->body_left > DISCARD_LIMIT) req->close_after = 1;

    /* Built by hand: snprintf showed up in profiles of small answers. */
    char head[512];
    size_t n = 0;
    const char *reason = cora_http_reason(status);
    size_t rl = strlen(reason), cl = ctype ? strlen(ctype) : 0;
    if (cl > 300) return -EINVAL;
    memcpy(head, req->head.version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ", 9);
    head[9] = (char)('0' + status / 100 % 10);
    head[10] = (char)('0' + status / 10 % 10);
    head[11] = (char)('0' + status % 10);
    head[12] = ' ';
    n = 13;
    memcpy(head + n, reason, rl);
    n += rl;
    n = append(head, n, "\r\nDate: ");
    memcpy(head + n, date_now(srv), 29);
    n += 29;
    n = append(head, n, "\r\n");
    if (ctype) {
        n = append(head, n, "Content-Type: ");
        memcpy(head + n, ctype, cl);
        n = append(head, n + cl, "\r\n");
    }
    if (length >= 0 && !(no_body && status != 304)) {
        n = append(head, n, "Content-Length: ");
        n = append_u64(head, n, (uint64_t)length);
        n = append(head, n, "\r\n");
    }
    if (req->chunked_out) n = append(head, n, "Transfer-Encoding: chunked\r\n");
    if (req->close_after)
        n = append(head, n, "Connection: close\r\n");
    else if (req->head.version < 11)
        n = append(head, n, "Connection: keep-alive\r\n");
    struct iovec iov[3] = {{head, n}, {req->extra.data, req->extra.len}, {(void *)"\r\n", 2}};
    ssize_t w = put(c, iov, 3);
    return w < 0 ? (int)w : 0;
}

int cora_http_set_header(cora_http_req *req, const char *name, const char *value)
{
    if (!req || req->started || !cora__http_valid_name(name) || !cora__http_valid_value(value))
        return -EINVAL;
    static const char *const ours[] = {"content-length", "transfer-encoding", "date", "connection"};
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        if (strcasecmp(name, ours[i]) == 0) return -EINVAL;
    cora__hbuf_fmt(&req->extra, "%s: %s\r\n", name, value);
    return req->extra.failed ? -ENOMEM : 0;
}

int cora_http_respond(cora_http_req *req, int status, const char *ctype, const void *body,
                      size_t len)
{
    if (!req || status < 100 || status > 999 || (len && !body) ||
        (ctype && !cora__http_valid_value(ctype)))
        return -EINVAL;
    int r = write_head(req, status, ctype, (int64_t)len);
    if (r < 0) return r;
    int no_body = status < 200 || status == 204 || status == 304;
    if (!req->head_only && !no_body && len) {
        struct iovec iov = {(void *)body, len};
        ssize_t w = put(req->c, &iov, 1);
        if (w < 0) return (int)w;
    }
    req->sent_body = len;
    req->finished = 1;
    return 0;
}

int cora_http_begin(cora_http_req *req, int status, const char *ctype, int64_t length)
{
    if (!req || status < 200 || status > 999 || (ctype && !cora__http_valid_value(ctype)))
        return -EINVAL;
    return write_head(req, status, ctype, length < 0 ? -1 : length);
}

ssize_t cora_http_write(cora_http_req *req, const void *buf, size_t len)
{
    if (!req || !req->started || req->finished || (len && !buf)) return -EINVAL;
    if (req->length_out >= 0 && req->sent_body + len > (uint64_t)req->length_out) return -EMSGSIZE;
    if (len == 0 || req->head_only) {
        req->sent_body += len;
        return (ssize_t)len;
    }
    ssize_t w;
    if (req->chunked_out) {
        char size[24];
        int n = snprintf(size, sizeof size, "%zx\r\n", len);
        struct iovec iov[3] = {{size, (size_t)n}, {(void *)buf, len}, {(void *)"\r\n", 2}};
        w = put(req->c, iov, 3);
        if (w >= 0 && (size_t)w < (size_t)n + len + 2) w = -ECANCELED; /* cut mid-chunk */
        if (w >= 0) w = (ssize_t)len;
    } else {
        struct iovec iov = {(void *)buf, len};
        w = put(req->c, &iov, 1);
    }
    if (w > 0) req->sent_body += (size_t)w;
    return w;
}

int cora_http_end(cora_http_req *req)
{
    if (!req || !req->started) return -EINVAL;
    if (req->finished) return 0;
    req->finished = 1;
    if (req->length_out >= 0 && req->sent_body != (uint64_t)req->length_out) {
        req->close_after = 1; /* the client will see a short body: it must not reuse us */
        return -EPROTO;
    }
    if (req->chunked_out && !req->head_only) {
        struct iovec iov = {(void *)"0\r\n\r\n", 5};
        ssize_t w = put(req->c, &iov, 1);
        if (w < 0) return (int)w;
    }
    return 0;
}

/* A short text answer: "404 Not Found\n". */
static int respond_status(cora_http_req *req, int status)
{
    char body[128];
    int n = snprintf(body, sizeof body, "%d %s\n", status, cora_http_reason(status));
    return cora_http_respond(req, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* The same for a request the connection cannot go on after: without the handler's
 * fields, then a close. */
static void respond_error(cora_http_req *req, int status)
{
    req->close_after = 1;
    req->extra.len = 0;
    respond_status(req, status);
}

/* ---- request bodies ------------------------------------------------------------- */

static int send_continue(cora_http_req *req)
{
    req->continue_due = 0;
    struct iovec iov = {(void *)"HTTP/1.1 100 Continue\r\n\r\n", 25};
    ssize_t w = put(req->c, &iov, 1);
    if (w < 0) return (int)w;
    return flush(req->c);
}

/* Body bytes buffered after the head (and before any pipelined next request). */
static size_t body_buffered(const conn *c)
{
    return c->in_len - c->body_at;
}

static void consume_body(conn *c, size_t n)
{
    memmove(c->in + c->body_at, c->in + c->body_at + n, c->in_len - c->body_at - n);
    c->in_len -= n;
}

ssize_t cora_http_req_read(cora_http_req *req, void *buf, size_t len)
{
    if (!req || (len && !buf)) return -EINVAL;
    if (req->body_error) return req->body_error;
    if (req->body_state == BODY_DONE || len == 0) return 0;
    conn *c = req->c;
    cora_http_server *srv = c->srv;
    if (req->continue_due) {
        int r = send_continue(req);
        if (r < 0) return req->body_error = r;
    }
    for (;;) {
        if (req->body_state == BODY_LENGTH) {
            size_t want = len < req->body_left ? len : (size_t)req->body_left;
            size_t have = body_buffered(c);
            ssize_t n;
            if (have) {
                n = (ssize_t)(have < want ? have : want);
                memcpy(buf, c->in + c->body_at, (size_t)n);
                consume_body(c, (size_t)n);
            } else {
                cora_scope sc;
                int r = cora_scope_enter(&sc, deadline_in(srv->o.body_timeout), 0);
                if (r < 0) return r;
                n = cora_stream_read(c->s, buf, want);
                int e = cora_scope_exit(&sc);
                if (n >= 0 && e < 0) n = e;
                if (n == 0) n = -ECONNRESET; /* the client stopped before the end */
            }
            if (n < 0) return req->body_error = (int)n;
            req->body_left -= (size_t)n;
            req->body_read += (size_t)n;
            if (req->body_left == 0) req->body_state = BODY_DONE;
            return n;
        }
        /* Chunked: hand out decoded data waiting at body_at first. */
        if (req->pending) {
            size_t take = req->pending < len ? req->pending : len;
            memcpy(buf, c->in + c->body_at, take);
            consume_body(c, take);
            req->pending -= take;
            req->body_read += take;
            return (ssize_t)take;
        }
        const char *data;
        size_t dlen;
        ssize_t used = cora__http_chunked_decode(&req->chunked, c->in + c->body_at,
                                                 body_buffered(c), &data, &dlen);
        if (used < 0) return req->body_error = -EPROTO;
        /* Refuse a chunk as soon as its size line says it would pass the limit. */
        if (req->body_read + dlen + req->chunked.remaining > srv->o.max_body)
            return req->body_error = -EMSGSIZE;
        if (dlen) {
            /* Drop the framing before the span; the span itself then sits at body_at,
             * already counted by the decoder, and is handed out as pending data. */
            consume_body(c, (size_t)(data - (c->in + c->body_at)));
            req->pending = dlen;
            continue;
        }
        consume_body(c, (size_t)used);
        if (cora__http_chunked_done(&req->chunked)) {
            req->body_state = BODY_DONE;
            return 0;
        }
        ssize_t n = read_more(c, deadline_in(srv->o.body_timeout),
                              c->body_at + 64 * 1024 + srv->o.max_head);
        if (n == 0) n = -ECONNRESET;
        if (n < 0) return req->body_error = (int)n;
    }
}

ssize_t cora_http_req_body(cora_http_req *req, const char **data)
{
    if (!req || !data) return -EINVAL;
    if (req->body_error) return req->body_error;
    for (;;) { /* straight into the buffer, 16 KiB of room at a time */
        if (cora__hbuf_reserve(&req->body, 16384) < 0) return req->body_error = -ENOMEM;
        ssize_t n = cora_http_req_read(req, req->body.data + req->body.len, 16384);
        if (n < 0) return n;
        if (n == 0) break;
        req->body.len += (size_t)n;
    }
    if (cora__hbuf_reserve(&req->body, 0) < 0) return -ENOMEM; /* room for the NUL */
    req->body.data[req->body.len] = '\0';
    *data = req->body.data;
    return (ssize_t)req->body.len;
}

/* Skips what the handler left unread, so the connection can serve the next request.
 * Returns 0, or an error when the body is too long to skip or broken. */
static int discard_body(cora_http_req *req)
{
    char junk[4096];
    uint64_t skipped = 0;
    while (req->body_state != BODY_DONE) {
        if (req->continue_due) return -EPIPE; /* never asked for: it may not come */
        ssize_t n = cora_http_req_read(req, junk, sizeof junk);
        if (n < 0) return (int)n;
        skipped += (size_t)n;
        if (skipped > DISCARD_LIMIT) return -EMSGSIZE;
    }
    return 0;
}

/* ---- accessors ------------------------------------------------------------------ */

const char *cora_http_req_method(const cora_http_req *req)
{
    return req ? req->method : NULL;
}
const char *cora_http_req_target(const cora_http_req *req)
{
    return req ? req->target : NULL;
}
const char *cora_http_req_path(const cora_http_req *req)
{
    return req ? req->path : NULL;
}
const char *cora_http_req_query(const cora_http_req *req)
{
    return req ? req->query : NULL;
}
int cora_http_req_version(const cora_http_req *req)
{
    return req ? req->head.version : -EINVAL;
}
const char *cora_http_req_peer(const cora_http_req *req)
{
    return req ? req->c->peer : NULL;
}

const char *cora_http_req_header(const cora_http_req *req, const char *name)
{
    if (!req || !name) return NULL;
    const cora_http_header *h = cora__http_find_header(&req->head, name);
    return h ? h->value : NULL; /* NUL-terminated in place by parse_request */
}

size_t cora_http_req_headers(const cora_http_req *req, const cora_http_header **fields)
{
    if (!req) return 0;
    if (fields) *fields = req->head.headers;
    return req->head.nheaders;
}

const char *cora_http_req_param(const cora_http_req *req, const char *name)
{
    if (!req || !name) return NULL;
    for (size_t i = 0; i < req->nparams; i++)
        if (strcmp(req->params[i][0], name) == 0) return req->params[i][1];
    return NULL;
}

ssize_t cora_http_req_query_param(const cora_http_req *req, const char *name, char *buf, size_t cap)
{
    if (!req || !name || !buf || !cap) return -EINVAL;
    size_t nlen = strlen(name);
    const char *p = req->query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : p + n;
            size_t vlen = (size_t)(p + n - v);
            if (vlen + 1 > cap) return -ENOSPC;
            ssize_t d = cora__http_unescape(v, vlen, buf, 1);
            return d < 0 ? -EINVAL : d;
        }
        if (!amp) break;
        p = amp + 1;
    }
    return -ENOENT;
}

/* ---- static files --------------------------------------------------------------- */

/* Parses a single "bytes=a-b" range against size. Returns 1 with [*from, *to] set, 0
 * to ignore the header (several ranges, another unit), -1 when unsatisfiable. */
static int parse_range(const char *v, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (strncasecmp(v, "bytes=", 6) != 0) return 0;
    v += 6;
    if (strchr(v, ',')) return 0;
    char *end;
    if (*v == '-') { /* the last N bytes */
        if (v[1] < '0' || v[1] > '9') return 0;
        unsigned long long n = strtoull(v + 1, &end, 10);
        if (*end) return 0;
        if (n == 0 || size == 0) return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    if (*v < '0' || *v > '9') return 0;
    unsigned long long a = strtoull(v, &end, 10);
    if (*end != '-') return 0;
    unsigned long long b = size ? size - 1 : 0;
    if (end[1]) {
        if (end[1] < '0' || end[1] > '9') return 0;
        char *e2;
        b = strtoull(end + 1, &e2, 10);
        if (*e2 || b < a) return 0;
        if (b >= size) b = size - 1;
    }
    if (a >= size) return -1;
    *from = a;
    *to = b;
    return 1;
}

/* Opens path for reading if it is a regular file, with its status in *st. Returns
 * the fd, -EISDIR for a directory, or another negative errno. */
static int open_regular(const char *path, struct stat *st)
{
    int fd = cora_open(path, O_RDONLY, 0);
    if (fd < 0) return fd;
    int err = fstat(fd, st) < 0      ? -errno
              : S_ISDIR(st->st_mode) ? -EISDIR
              : S_ISREG(st->st_mode) ? 0
                                     : -ENOENT;
    if (err) close(fd);
    return err ? err : fd;
}

int cora_http_send_file(cora_http_req *req, const char *path)
{
    if (!req || !path) return -EINVAL;
    struct stat st;
    char index[PATH_MAX];
    int fd = open_regular(path, &st);
    if (fd == -EISDIR) { /* a directory: its index.html */
        if (snprintf(index, sizeof index, "%s/index.html", path) >= (int)sizeof index)
            return respond_status(req, 404);
        fd = open_regular(index, &st);
        path = index;
    }
    if (fd < 0) return respond_status(req, 404);
    char etag[64], lastmod[30];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)st.st_mtime,
             (unsigned long long)st.st_size);
    cora__http_date(st.st_mtime, lastmod);
    const char *inm = cora_http_req_header(req, "If-None-Match");
    const char *ims = cora_http_req_header(req, "If-Modified-Since");
    time_t since;
    int not_modified =
        inm ? (strstr(inm, etag) != NULL || strcmp(inm, "*") == 0)
            : (ims && cora__http_parse_date(ims, &since) == 0 && st.st_mtime <= since);
    int r = cora_http_set_header(req, "ETag", etag);
    if (r == 0) r = cora_http_set_header(req, "Last-Modified", lastmod);
    if (r == 0) r = cora_http_set_header(req, "Accept-Ranges", "bytes");
    if (r < 0) {
        close(fd);
        return r;
    }
    const char *ctype = cora__http_content_type(path);
    if (not_modified) {
        close(fd);
        return cora_http_respond(req, 304, NULL, NULL, 0);
    }
    uint64_t size = (uint64_t)st.st_size, from = 0, to = size ? size - 1 : 0;
    int status = 200;
    const char *range = cora_http_req_header(req, "Range");
    const char *if_range = cora_http_req_header(req, "If-Range");
    if (range && (!if_range || strcmp(if_range, etag) == 0)) {
        int pr = parse_range(range, size, &from, &to);
        char cr[96];
        if (pr < 0) {
            close(fd);
            snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
            cora_http_set_header(req, "Content-Range", cr);
            return respond_status(req, 416);
        }
        if (pr > 0) {
            status = 206;
            snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)from,
                     (unsigned long long)to, (unsigned long long)size);
            if ((r = cora_http_set_header(req, "Content-Range", cr)) < 0) {
                close(fd);
                return r;
            }
        }
    }
    uint64_t len = size ? to - from + 1 : 0;
    r = cora_http_begin(req, status, ctype, (int64_t)len);
    if (r == 0 && !req->head_only && len) {
        cora_scope sc;
        r = cora_scope_enter(&sc, deadline_in(req->c->srv->o.write_timeout * 10), 0);
        if (r == 0) {
            ssize_t n = cora_stream_sendfile(req->c->s, fd, (off_t)from, (size_t)len, NULL);
            int e = cora_scope_exit(&sc);
            r = n < 0 ? (int)n : e;
            if (r == 0 && (uint64_t)n < len) r = -EIO; /* the file shrank under us */
            if (r == 0) req->sent_body = len;
        }
    }
    close(fd);
    if (r == 0)
        req->finished = 1;
    else
        req->close_after = 1;
    return r;
}

/* Answers from a static mount. Returns 1 when one matched the path. */
static int serve_static(cora_http_req *req, int *err)
{
    cora_http_server *srv = req->c->srv;
    for (mount *m = srv->mounts; m; m = m->next) {
        size_t pl = strlen(m->prefix);
        if (strncmp(req->path, m->prefix, pl) != 0) continue;
        const char *rest = req->path + pl;
        if (pl > 1 && *rest && *rest != '/') continue;
        /* Refuse any ".." segment: the path must stay under root. */
        for (const char *p = rest; (p = strstr(p, "..")) != NULL; p += 2) {
            int starts = p == req->path || p[-1] == '/';
            int ends = p[2] == '\0' || p[2] == '/';
            if (starts && ends) {
                *err = respond_status(req, 403);
                return 1;
            }
        }
        if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
            cora_http_set_header(req, "Allow", "GET, HEAD");
            *err = respond_status(req, 405);
            return 1;
        }
        char full[PATH_MAX];
        if (snprintf(full, sizeof full, "%s/%s", m->root, rest) >= (int)sizeof full) {
            *err = respond_status(req, 414);
            return 1;
        }
        *err = cora_http_send_file(req, full);
        return 1;
    }
    return 0;
}

/* ---- one request ---------------------------------------------------------------- */

/* Terminates the head's strings in place: every one is followed in the buffer by a
 * byte that is no longer needed (a space, a colon, whitespace or CR). */
static void terminate_strings(cora_http_req *req)
{
    http_head *h = &req->head;
    ((char *)h->method)[h->method_len] = '\0';
    ((char *)h->target)[h->target_len] = '\0';
    for (size_t i = 0; i < h->nheaders; i++) {
        cora_http_header *f = &h->headers[i];
        ((char *)f->name)[f->name_len] = '\0';
        ((char *)f->value)[f->value_len] = '\0';
    }
}

/* Splits the target into a decoded path and the query. Returns 0 or an HTTP status. */
static int split_target(cora_http_req *req)
{
    conn *c = req->c;
    const char *t = req->target;
    size_t tl = req->head.target_len;
    /* Room for the decoded path and for copies of every route parameter. */
    cora__hbuf_reset(&c->scratch);
    if (cora__hbuf_reserve(&c->scratch, 2 * tl + 64) < 0) return 503;
    if (strcmp(t, "*") == 0) { /* asterisk-form: OPTIONS, or M-SEARCH and the like */
        req->path = "*";
        req->query = "";
        return 0;
    }
    if (t[0] != '/') {
        /* absolute-form (what a client says to a proxy) is legal; we serve its path. */
        http_url u;
        if (cora__http_parse_url(t, tl, 0, &u) < 0 || !u.host.len) return 400;
        if (!u.path.len) {
            t = "/";
            tl = 1;
        } else {
            t = u.path.ptr;
            tl = u.path.len + (u.query.len ? u.query.len + 1 : 0);
        }
    }
    const char *q = memchr(t, '?', tl);
    size_t plen = q ? (size_t)(q - t) : tl;
    req->query = q ? q + 1 : "";
    char *path = c->scratch.data;
    ssize_t n = cora__http_unescape(t, plen, path, 0);
    if (n < 0) return 400;
    c->scratch.len = (size_t)n + 1;
    req->path = path;
    return 0;
}

/* ---- dispatching ---------------------------------------------------------------- */

static int is_head_of_get(const char *route_method, const char *method)
{
    return strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

static int dispatch(cora_http_req *req)
{
    cora_http_server *srv = req->c->srv;
    char allow[256] = "";
    size_t alen = 0;
    for (route *r = srv->routes; r; r = r->next) {
        if (!route_match(r, req)) continue;
        if (!r->method || strcmp(r->method, req->method) == 0 ||
            is_head_of_get(r->method, req->method))
            return r->fn(req, r->arg);
        /* The path exists with another method: remember it for 405's Allow. */
        size_t ml = strlen(r->method);
        if (!strstr(allow, r->method) && alen + ml + 2 < sizeof allow) {
            alen += (size_t)snprintf(allow + alen, sizeof allow - alen, "%s%s", alen ? ", " : "",
                                     r->method);
        }
    }
    int err = 0;
    if (serve_static(req, &err)) return err;
    if (alen) {
        cora_http_set_header(req, "Allow", allow);
        return respond_status(req, 405);
    }
    return respond_status(req, 404);
}

static void access_log(const cora_http_req *req)
{
    FILE *f = req->c->srv->o.access_log;
    if (!f) return;
    char when[30];
    cora__http_date(time(NULL), when);
    fprintf(f, "%s - - [%s] \"%s %s HTTP/1.%d\" %d %llu %.6f\n", req->c->peer, when,
            req->method ? req->method : "-", req->target ? req->target : "-",
            req->head.version >= 11 ? 1 : 0, req->status, (unsigned long long)req->sent_body,
            (double)(cora_now_ns() - req->t0) / NS_PER_S);
    fflush(f);
}

/* Waits for and parses the next request head. Returns its length (> 0), 0 when the
 * connection should just close (end of stream, idle timeout, shutdown), or a negated
 * HTTP status to answer before closing. */
static ssize_t read_head(conn *c, http_head *head)
{
    cora_http_server *srv = c->srv;
    http_head_parser p;
    cora__http_parser_init(&p, HTTP_REQUEST);
    int64_t deadline = 0;
    for (;;) {
        if (c->in_len) {
            head->headers = c->fields;
            head->headers_cap = srv->o.max_headers;
            ssize_t hl = cora__http_parse_head(&p, c->in, c->in_len, &srv->lim, head, NULL);
            if (hl != 0) return hl;
            if (!deadline) deadline = deadline_in(srv->o.header_timeout);
        }
        ssize_t n;
        if (c->in_len == 0) { /* idle between requests: shutdown may close us here */
            if (srv->draining) return 0;
            cora_scope idle;
            if (cora_scope_enter(&idle, deadline_in(srv->o.idle_timeout), 0) < 0) return 0;
            c->idle_scope = &idle;
            n = read_more(c, CORA_NO_DEADLINE, srv->o.max_head + 1);
            c->idle_scope = NULL;
            cora_scope_exit(&idle);
            if (n <= 0) return 0;
            continue;
        }
        /* One byte past max_head lets the parser see the head is too long. */
        n = read_more(c, deadline, srv->o.max_head + 1);
        if (n == -ETIMEDOUT) return -408;
        if (n == -EMSGSIZE) return HTTP_E_HEADERS;
        if (n <= 0) return 0; /* a half-sent head and then nothing: just close */
    }
}

/* Serves one request. Returns 1 to keep the connection for another. */
static int serve_one(conn *c)
{
    cora_http_server *srv = c->srv;
    cora_http_req req;
    memset(&req, 0, sizeof req);
    req.c = c;
    req.head.version = 11;
    ssize_t hl = read_head(c, &req.head);
    if (hl == 0) return 0;
    req.t0 = cora_now_ns();
    int status = 0;
    if (hl < 0) {
        status = (int)-hl;
        c->body_at = c->in_len;
    } else {
        c->head_len = c->body_at = (size_t)hl;
        terminate_strings(&req);
        req.method = req.head.method;
        req.target = req.head.target;
        req.head_only = strcmp(req.method, "HEAD") == 0;
        status = split_target(&req);
        switch (cora__http_body_kind(&req.head, HTTP_REQUEST, NULL)) {
        case HTTP_BODY_LENGTH:
            if (req.head.content_length > srv->o.max_body) status = 413;
            req.body_left = req.head.content_length;
            req.body_state = req.body_left ? BODY_LENGTH : BODY_DONE;
            break;
        case HTTP_BODY_CHUNKED:
            cora__http_chunked_init(&req.chunked);
            req.body_state = BODY_CHUNKED;
            break;
        default:
            req.body_state = BODY_DONE;
            break;
        }
        req.continue_due = (req.head.flags & HTTP_F_CONTINUE) && req.head.version >= 11 &&
                           req.body_state != BODY_DONE;
    }
    int err = 0;
    if (status) {
        respond_error(&req, status);
    } else {
        err = run_handler(c, &req);
        if (c->client_gone) {
            /* Nobody to answer: just log and close. */
        } else if (!req.started) {
            respond_error(&req, err == -EMSGSIZE ? 413 : err == -EPROTO ? 400 : 500);
        } else if (!req.finished) {
            if (err == 0)
                err = cora_http_end(&req);
            else
                req.close_after = 1; /* a broken stream: the client must see it end */
        }
        if (err < 0) req.close_after = 1;
    }
    access_log(&req);
    int keep = !req.close_after && !srv->draining;
    if (keep && discard_body(&req) < 0) keep = 0;
    cora__hbuf_free(&req.extra);
    cora__hbuf_free(&req.body);
    /* The pipelined bytes after this request move to the front for the next. */
    size_t left = c->in_len - c->body_at;
    memmove(c->in, c->in + c->body_at, left);
    c->in_len = left;
    c->head_len = c->body_at = 0;
    return keep;
}

static void *conn_main(void *arg)
{
    conn *c = arg;
    cora_http_server *srv = c->srv;
    int fd = c->fd_for_accept;
    c->fd_for_accept = -1;
    cora_tcp_nodelay(fd, 1);
    int r;
    if (srv->o.tls) {
        cora_scope sc;
        r = cora_scope_enter(&sc, deadline_in(srv->o.header_timeout), 0);
        if (r == 0) {
            r = cora_tls_accept(&c->s, fd, srv->o.tls);
            int e = cora_scope_exit(&sc);
            if (r == 0) r = e;
        } else {
            close(fd);
        }
    } else {
        /* The connection reads into its own buffer (a stream read with nothing
         * buffered goes straight there), so the stream's input buffer stays small. */
        cora_stream_opts so = {.read_limit = 4096};
        r = cora_stream_new(&c->s, fd, &so);
    }
    if (r == 0) {
        c->fields = cora__calloc(srv->o.max_headers, sizeof *c->fields);
        if (c->fields)
            while (serve_one(c)) {
            }
        flush(c); /* best effort: the last answer, before the close */
    }
    conn_free(c);
    return NULL;
}

/* ---- handing the connection over (WebSocket) ------------------------------------ */

int cora__http_upgrade(cora_http_req *req, const char *head, size_t len, cora_stream **s,
                       char **early, size_t *nearly)
{
    conn *c = req->c;
    if (req->started || req->body_state != BODY_DONE) return -EBUSY;
    req->status = 101;
    req->started = req->finished = 1;
    req->close_after = 1; /* the other protocol owns the bytes from here on */
    struct iovec iov = {(void *)head, len};
    ssize_t n = put(c, &iov, 1);
    int r = n < 0 ? (int)n : flush(c);
    if (r < 0) return r;
    *early = NULL;
    *nearly = c->in_len - c->body_at;
    if (*nearly) {
        if (!(*early = cora__malloc(*nearly))) return -ENOMEM;
        memcpy(*early, c->in + c->body_at, *nearly);
        c->in_len = c->body_at;
    }
    *s = c->s;
    return 0;
}

/* src/http/client.c: the HTTP/1.1 client.
 *
 * A client keeps idle keep-alive connections per scheme, host and port, and a
 * semaphore bounds how many requests run at once (the rest wait their turn, in
 * order). Everything runs in the calling task: a request is a sequence of suspending
 * reads and writes under up to three deadlines (connect, head, total), so cancelling
 * the task or letting a deadline pass stops it cleanly and closes its connection.
 *
 * A connection taken from the pool may have been closed by the server while it sat
 * idle; we learn that only when the request fails without a byte of answer. Then an
 * idempotent request is retried once on a fresh connection (as Go and curl do); other
 * methods are sent only on connections checked alive first.
 */
#include "internal.h"
#include "parser.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <zlib.h>

#include "../core/internal.h"
#include "cora.h"

#define NS_PER_S 1000000000LL
#define MAX_RESPONSE_HEAD (64 * 1024)
#define MAX_RESPONSE_FIELDS 256
#define IO_CHUNK (64 * 1024)

typedef struct hconn {
    struct hconn *next;
    char key[300]; /* "https://host:port" */
    cora_stream *s;
    char *in;
    size_t in_len, in_cap;
    int reused;
} hconn;

struct cora_http_client {
    cora_http_client_opts o;
    cora_sem slots;
    hconn *idle;
    cora_tls *own_tls; /* made on the first https request when opts.tls is NULL */
    char user_agent[64];
};

int cora_http_client_new(cora_http_client **out, const cora_http_client_opts *opts)
{
    if (!out) return -EINVAL;
    *out = NULL;
    cora_http_client *c = cora__calloc(1, sizeof *c);
    if (!c) return -ENOMEM;
    if (opts) c->o = *opts;
    cora_http_client_opts *o = &c->o;
    if (!o->max_idle_per_host) o->max_idle_per_host = 8;
    if (!o->max_concurrent) o->max_concurrent = 256;
    if (o->connect_timeout <= 0) o->connect_timeout = 10;
    if (o->header_timeout <= 0) o->header_timeout = 30;
    if (o->total_timeout < 0 || o->max_concurrent > 1u << 30) {
        free(c);
        return -EINVAL;
    }
    if (o->max_redirects == 0) o->max_redirects = 10;
    if (!o->max_body) o->max_body = 256u << 20;
    snprintf(c->user_agent, sizeof c->user_agent, "cora/0.1");
    if (o->user_agent && !cora__http_valid_value(o->user_agent)) {
        free(c);
        return -EINVAL;
    }
    cora_sem_init(&c->slots, (unsigned)o->max_concurrent);
    *out = c;
    return 0;
}

static void hconn_close(hconn *h)
{
    if (!h) return;
    cora_stream_close(h->s);
    free(h->in);
    free(h);
}

void cora_http_client_free(cora_http_client *c)
{
    if (!c) return;
    while (c->idle) {
        hconn *h = c->idle;
        c->idle = h->next;
        hconn_close(h);
    }
    cora_tls_free(c->own_tls);
    free(c);
}

/* ---- the target ----------------------------------------------------------------- */

typedef struct target {
    int https;
    char host[256];
    int port;
    char *path; /* path and query, "/" at least (malloc'd) */
    char key[300];
} target;

static int target_parse(target *t, const char *url)
{
    memset(t, 0, sizeof *t);
    http_url u;
    if (!url || cora__http_parse_url(url, strlen(url), 0, &u) < 0) return -EINVAL;
    if (cora__http_ieq(u.scheme.ptr, u.scheme.len, "https"))
        t->https = 1;
    else if (!cora__http_ieq(u.scheme.ptr, u.scheme.len, "http"))
        return -EINVAL;
    if (!u.host.len || u.host.len >= sizeof t->host) return -EINVAL;
    memcpy(t->host, u.host.ptr, u.host.len);
    t->port = u.port ? u.port : t->https ? 443 : 80;
    size_t plen = u.path.len ? u.path.len : 1;
    size_t qlen = u.query.len ? u.query.len + 1 : 0;
    if (!(t->path = cora__malloc(plen + qlen + 1))) return -ENOMEM;
    if (u.path.len)
        memcpy(t->path, u.path.ptr, u.path.len);
    else
        t->path[0] = '/';
    if (qlen) {
        t->path[plen] = '?';
        memcpy(t->path + plen + 1, u.query.ptr, u.query.len);
    }
    t->path[plen + qlen] = '\0';
    snprintf(t->key, sizeof t->key, "%s://%s:%d", t->https ? "https" : "http", t->host, t->port);
    return 0;
}

/* The URL a Location field points to, resolved against the current target. */
static char *resolve_location(const target *t, const char *loc)
{
    http_buf b = {0};
    http_url u;
    if (cora__http_parse_url(loc, strlen(loc), 0, &u) == 0 && u.scheme.len) {
        cora__hbuf_str(&b, loc);
    } else {
        int v6 = strchr(t->host, ':') != NULL;
        cora__hbuf_fmt(&b, "%s://%s%s%s:%d", t->https ? "https" : "http", v6 ? "[" : "", t->host,
                       v6 ? "]" : "", t->port);
        if (loc[0] == '/' && loc[1] == '/') { /* scheme-relative */
            cora__hbuf_reset(&b);
            cora__hbuf_fmt(&b, "%s:%s", t->https ? "https" : "http", loc);
        } else if (loc[0] == '/') {
            cora__hbuf_str(&b, loc);
        } else { /* relative to the current path's directory */
            const char *q = strchr(t->path, '?');
            size_t plen = q ? (size_t)(q - t->path) : strlen(t->path);
            const char *slash = t->path;
            for (size_t i = 0; i < plen; i++)
                if (t->path[i] == '/') slash = t->path + i;
            cora__hbuf_add(&b, t->path, (size_t)(slash - t->path) + 1);
            cora__hbuf_str(&b, loc);
        }
    }
    if (b.failed) {
        cora__hbuf_free(&b);
        return NULL;
    }
    return b.data;
}

/* ---- connections ---------------------------------------------------------------- */

/* Whether an idle connection still looks usable: no data and no end of stream is
 * waiting on it (a server that closed it, or sent something unasked). */
static int looks_alive(hconn *h)
{
    char b;
    ssize_t n = recv(cora_stream_fd(h->s), &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

static int tls_config(cora_http_client *c, cora_tls **out)
{
    if (c->o.tls) {
        *out = c->o.tls;
        return 0;
    }
    if (!c->own_tls) {
        cora_tls_opts to = {.alpn = "http/1.1"};
        int r = cora_tls_client(&c->own_tls, &to);
        if (r < 0) return r;
    }
    *out = c->own_tls;
    return 0;
}

static int hconn_get(cora_http_client *c, const target *t, int need_alive, int fresh, hconn **out)
{
    for (hconn **pp = &c->idle; *pp && !fresh; pp = &(*pp)->next) {
        hconn *h = *pp;
        if (strcmp(h->key, t->key) != 0) continue;
        *pp = h->next;
        if (need_alive && !looks_alive(h)) {
            hconn_close(h);
            return hconn_get(c, t, need_alive, 0, out);
        }
        h->next = NULL;
        h->reused = 1;
        *out = h;
        return 0;
    }
    hconn *h = cora__calloc(1, sizeof *h);
    if (!h) return -ENOMEM;
    snprintf(h->key, sizeof h->key, "%s", t->key);
    cora_scope sc;
    int r = cora_fail_after(&sc, c->o.connect_timeout);
    if (r < 0) {
        free(h);
        return r;
    }
    if (t->https) {
        cora_tls *tls;
        r = tls_config(c, &tls);
        if (r == 0) r = cora_tls_connect(&h->s, t->host, t->port, tls);
    } else {
        r = cora_stream_connect(&h->s, t->host, t->port);
    }
    int e = cora_scope_exit(&sc);
    if (r == 0 && e < 0) r = e;
    if (r < 0) {
        if (h->s) cora_stream_close(h->s);
        free(h);
        return r;
    }
    cora_tcp_nodelay(cora_stream_fd(h->s), 1);
    *out = h;
    return 0;
}

static void hconn_put(cora_http_client *c, hconn *h)
{
    size_t same = 0;
    for (hconn *i = c->idle; i; i = i->next)
        same += strcmp(i->key, h->key) == 0;
    if (same >= c->o.max_idle_per_host || h->in_len) { /* full, or unasked-for bytes */
        hconn_close(h);
        return;
    }
    h->next = c->idle;
    c->idle = h;
}

/* Reads more into h->in (growing it up to limit). Returns count, 0 at EOF, or error. */
static ssize_t hconn_fill(hconn *h, size_t limit)
{
    if (h->in_len == h->in_cap) {
        size_t cap = h->in_cap ? h->in_cap * 2 : 16384;
        if (cap > limit) cap = limit;
        if (cap <= h->in_len) return -EPROTO;
        char *p = cora__realloc(h->in, cap);
        if (!p) return -ENOMEM;
        h->in = p;
        h->in_cap = cap;
    }
    ssize_t n = cora_stream_read(h->s, h->in + h->in_len, h->in_cap - h->in_len);
    if (n > 0) h->in_len += (size_t)n;
    return n;
}

static void hconn_consume(hconn *h, size_t n)
{
    memmove(h->in, h->in + n, h->in_len - n);
    h->in_len -= n;
}

/* ---- bodies --------------------------------------------------------------------- */

/* Where decoded body bytes go: memory (bounded by max_body) or the caller's sink,
 * through zlib when the body is compressed. */
typedef struct body_out {
    const cora_http_request_opts *req;
    uint64_t max;
    http_buf mem;
    uint64_t total;
    z_stream z;
    int zmode; /* 0 none, 1 inflating, 2 finished */
    int deflate_raw_tried;
    int err;
} body_out;

static int deliver(body_out *o, const char *p, size_t n)
{
    if (!n) return 0;
    if (o->total + n > o->max && !o->req->sink) return o->err = -EMSGSIZE;
    o->total += n;
    if (o->req->sink) {
        int r = o->req->sink(o->req->sink_arg, p, n);
        return r < 0 ? (o->err = r) : 0;
    }
    cora__hbuf_add(&o->mem, p, n);
    return o->mem.failed ? (o->err = -ENOMEM) : 0;
}

static int body_put(body_out *o, const char *p, size_t n)
{
    if (o->err) return o->err;
    if (o->zmode == 0) return deliver(o, p, n);
    if (o->zmode == 2) return n ? (o->err = -EPROTO) : 0; /* bytes after the stream */
    char out[16384];
    o->z.next_in = (Bytef *)p;
    o->z.avail_in = (uInt)n;
    while (o->z.avail_in > 0) {
        o->z.next_out = (Bytef *)out;
        o->z.avail_out = sizeof out;
        int zr = inflate(&o->z, Z_NO_FLUSH);
        if (zr == Z_DATA_ERROR && !o->deflate_raw_tried && o->total == 0) {
            /* "deflate" is zlib-wrapped by the RFC, raw in some servers: retry raw. */
            o->deflate_raw_tried = 1;
            inflateEnd(&o->z);
            memset(&o->z, 0, sizeof o->z);
            if (inflateInit2(&o->z, -MAX_WBITS) != Z_OK) return o->err = -ENOMEM;
            o->z.next_in = (Bytef *)p;
            o->z.avail_in = (uInt)n;
            continue;
        }
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) return o->err = -EPROTO;
        if (deliver(o, out, sizeof out - o->z.avail_out) < 0) return o->err;
        if (zr == Z_STREAM_END) {
            o->zmode = 2;
            return o->z.avail_in ? (o->err = -EPROTO) : 0;
        }
        if (zr == Z_BUF_ERROR && o->z.avail_in == 0) break;
    }
    return 0;
}

static int body_start(body_out *o, const cora_http_request_opts *req, uint64_t max,
                      const char *encoding, int raw)
{
    memset(o, 0, sizeof *o);
    o->req = req;
    o->max = max;
    if (raw || !encoding) return 0;
    int gzip = cora__http_ieq(encoding, strlen(encoding), "gzip") ||
               cora__http_ieq(encoding, strlen(encoding), "x-gzip");
    int deflate = cora__http_ieq(encoding, strlen(encoding), "deflate");
    if (!gzip && !deflate) return 0; /* identity, or one we pass through as is */
    if (inflateInit2(&o->z, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) return -ENOMEM;
    o->zmode = 1;
    o->deflate_raw_tried = gzip; /* gzip has no raw variant to fall back to */
    return 0;
}

static int body_finish(body_out *o)
{
    int r = o->err;
    if (o->zmode) {
        if (r == 0 && o->zmode != 2) r = -EPROTO; /* truncated compressed data */
        inflateEnd(&o->z);
    }
    return r;
}

/* Reads the body framed as `kind` from h into o. Returns 0 when it ended where its
 * framing says (or at EOF for HTTP_BODY_EOF), else an error. */
static int read_body(hconn *h, enum http_body kind, uint64_t length, body_out *o,
                     double idle_timeout)
{
    int r = 0;
    if (kind == HTTP_BODY_NONE) return 0;
    if (kind == HTTP_BODY_LENGTH || kind == HTTP_BODY_EOF) {
        uint64_t left = length;
        while (kind == HTTP_BODY_EOF || left > 0) {
            if (h->in_len) {
                size_t take = kind == HTTP_BODY_EOF || h->in_len < left ? h->in_len : left;
                if ((r = body_put(o, h->in, take)) < 0) return r;
                hconn_consume(h, take);
                left -= take;
                continue;
            }
            cora_scope sc;
            if ((r = cora_fail_after(&sc, idle_timeout)) < 0) return r;
            ssize_t n = hconn_fill(h, IO_CHUNK);
            int e = cora_scope_exit(&sc);
            if (n < 0) return (int)n;
            if (e < 0) return e;
            if (n == 0) return kind == HTTP_BODY_EOF ? 0 : -EPROTO; /* cut short */
        }
        return 0;
    }
    http_chunked d;
    cora__http_chunked_init(&d);
    while (!cora__http_chunked_done(&d)) {
        const char *data;
        size_t dlen;
        ssize_t used = cora__http_chunked_decode(&d, h->in, h->in_len, &data, &dlen);
        if (used < 0) return -EPROTO;
        if (dlen && (r = body_put(o, data, dlen)) < 0) return r;
        hconn_consume(h, (size_t)used);
        if (used > 0 || cora__http_chunked_done(&d)) continue;
        cora_scope sc;
        if ((r = cora_fail_after(&sc, idle_timeout)) < 0) return r;
        ssize_t n = hconn_fill(h, IO_CHUNK + 8192);
        int e = cora_scope_exit(&sc);
        if (n < 0) return (int)n;
        if (e < 0) return e;
        if (n == 0) return -EPROTO;
    }
    return 0;
}

/* ---- one exchange --------------------------------------------------------------- */

static int is_idempotent(const char *m)
{
    return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT") || !strcmp(m, "DELETE") ||
           !strcmp(m, "OPTIONS") || !strcmp(m, "TRACE");
}

static int write_request(cora_http_client *c, hconn *h, const target *t, const char *method,
                         const cora_http_request_opts *req, const void *body, size_t blen)
{
    http_buf b = {0};
    int v6 = strchr(t->host, ':') != NULL;
    int dflt = t->port == (t->https ? 443 : 80);
    cora__hbuf_fmt(&b, "%s %s HTTP/1.1\r\nHost: %s%s%s", method, t->path, v6 ? "[" : "", t->host,
                   v6 ? "]" : "");
    if (!dflt) cora__hbuf_fmt(&b, ":%d", t->port);
    int has_ua = 0, has_ae = 0;
    for (size_t i = 0; i < req->nheaders; i++) {
        const cora_http_header *f = &req->headers[i];
        has_ua |= cora__http_ieq(f->name, f->name_len, "user-agent");
        has_ae |= cora__http_ieq(f->name, f->name_len, "accept-encoding");
    }
    cora__hbuf_str(&b, "\r\n");
    if (!has_ua)
        cora__hbuf_fmt(&b, "User-Agent: %s\r\n", c->o.user_agent ? c->o.user_agent : c->user_agent);
    if (!has_ae && !c->o.raw) cora__hbuf_str(&b, "Accept-Encoding: gzip, deflate\r\n");
    for (size_t i = 0; i < req->nheaders; i++) {
        const cora_http_header *f = &req->headers[i];
        cora__hbuf_add(&b, f->name, f->name_len);
        cora__hbuf_str(&b, ": ");
        cora__hbuf_add(&b, f->value, f->value_len);
        cora__hbuf_str(&b, "\r\n");
    }
    if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
        strcmp(method, "PATCH") == 0)
        cora__hbuf_fmt(&b, "Content-Length: %zu\r\n", blen);
    cora__hbuf_str(&b, "\r\n");
    if (b.failed) {
        cora__hbuf_free(&b);
        return -ENOMEM;
    }
    struct iovec iov[2] = {{b.data, b.len}, {(void *)body, blen}};
    ssize_t w = cora_stream_writev(h->s, iov, body ? 2 : 1);
    int r = w < 0 ? (int)w : (size_t)w < b.len + (body ? blen : 0) ? -ECANCELED : 0;
    cora__hbuf_free(&b);
    if (r == 0) r = cora_stream_drain(h->s);
    return r;
}

/* Copies the head's fields into memory the response owns (one block). */
static int keep_headers(cora_http_response *resp, const http_head *head)
{
    size_t total = head->nheaders * sizeof(cora_http_header);
    for (size_t i = 0; i < head->nheaders; i++)
        total += head->headers[i].name_len + head->headers[i].value_len + 2;
    char *block = cora__malloc(total ? total : 1);
    if (!block) return -ENOMEM;
    cora_http_header *f = (cora_http_header *)(void *)block;
    char *p = block + head->nheaders * sizeof *f;
    for (size_t i = 0; i < head->nheaders; i++) {
        const cora_http_header *s = &head->headers[i];
        memcpy(p, s->name, s->name_len);
        p[s->name_len] = '\0';
        f[i].name = p;
        f[i].name_len = s->name_len;
        p += s->name_len + 1;
        memcpy(p, s->value, s->value_len);
        p[s->value_len] = '\0';
        f[i].value = p;
        f[i].value_len = s->value_len;
        p += s->value_len + 1;
    }
    resp->headers = f;
    resp->nheaders = head->nheaders;
    return 0;
}

/* Sends one request on one connection and reads the answer. *got_bytes tells whether
 * any byte of an answer arrived (a stale pooled connection gives none). The connection
 * goes back to the pool or is closed. */
static int exchange(cora_http_client *c, const target *t, const char *method,
                    const cora_http_request_opts *req, const void *body, size_t blen, int fresh,
                    cora_http_response *resp, int *got_bytes)
{
    *got_bytes = 0;
    hconn *h;
    int r = hconn_get(c, t, !is_idempotent(method), fresh, &h);
    if (r < 0) return r;
    int reused = h->reused;
    cora_http_header fields[MAX_RESPONSE_FIELDS];
    http_head head;
    ssize_t hl;
    cora_scope sc;
    if ((r = cora_fail_after(&sc, c->o.header_timeout)) < 0) goto fail;
    r = write_request(c, h, t, method, req, body, blen);
    for (;;) { /* the head, skipping interim 1xx answers */
        if (r < 0) break;
        http_head_parser p;
        cora__http_parser_init(&p, HTTP_RESPONSE);
        http_limits lim = {0, MAX_RESPONSE_HEAD, MAX_RESPONSE_FIELDS};
        for (;;) {
            memset(&head, 0, sizeof head);
            head.headers = fields;
            head.headers_cap = MAX_RESPONSE_FIELDS;
            hl = h->in_len ? cora__http_parse_head(&p, h->in, h->in_len, &lim, &head, NULL) : 0;
            if (hl != 0) break;
            ssize_t n = hconn_fill(h, MAX_RESPONSE_HEAD + IO_CHUNK);
            if (n < 0) {
                r = (int)n;
                break;
            }
            if (n == 0) {
                r = -ECONNRESET;
                break;
            }
            *got_bytes = 1;
        }
        if (r < 0) break;
        if (hl < 0) {
            r = -EPROTO;
            break;
        }
        *got_bytes = 1;
        if (head.status >= 100 && head.status < 200 && head.status != 101) {
            hconn_consume(h, (size_t)hl);
            continue;
        }
        break;
    }
    int e = cora_scope_exit(&sc);
    if (r == 0 && e < 0) r = e;
    if (r < 0) goto fail;
    if (head.status == 101) { /* an upgrade we did not ask for */
        r = -EPROTO;
        goto fail;
    }
    resp->status = head.status;
    resp->version = head.version;
    if ((r = keep_headers(resp, &head)) < 0) goto fail;
    enum http_body kind = cora__http_body_kind(&head, HTTP_RESPONSE, method);
    int keep = cora__http_keep_alive(&head) && kind != HTTP_BODY_EOF;
    uint64_t length = (head.flags & HTTP_F_HAS_LENGTH) ? head.content_length : 0;
    hconn_consume(h, (size_t)hl);

    body_out o;
    const char *enc = cora_http_response_header(resp, "Content-Encoding");
    if ((r = body_start(&o, req, c->o.max_body, enc, c->o.raw)) < 0) goto fail;
    r = read_body(h, kind, length, &o, c->o.header_timeout);
    int fr = body_finish(&o);
    if (r == 0) r = fr;
    if (r < 0) {
        cora__hbuf_free(&o.mem);
        goto fail;
    }
    if (!req->sink) {
        if (cora__hbuf_reserve(&o.mem, 0) < 0) {
            cora__hbuf_free(&o.mem);
            r = -ENOMEM;
            goto fail;
        }
        o.mem.data[o.mem.len] = '\0';
        resp->body = o.mem.data;
    }
    resp->body_len = (size_t)o.total;
    if (keep)
        hconn_put(c, h);
    else
        hconn_close(h);
    return 0;
fail:
    hconn_close(h);
    if (!reused) *got_bytes = 1; /* a fresh connection failing is not staleness */
    return r;
}

static int is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static int request_in(cora_http_client *c, const cora_http_request_opts *req,
                      cora_http_response *resp)
{
    const char *method = req->method ? req->method : req->body ? "POST" : "GET";
    if (!cora__http_valid_name(method)) return -EINVAL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const cora_http_header *f = &req->headers[i];
        for (size_t k = 0; k < f->name_len + f->value_len; k++) {
            char ch = k < f->name_len ? f->name[k] : f->value[k - f->name_len];
            if (ch == '\r' || ch == '\n' || ch == '\0') return -EINVAL; /* injection */
        }
    }
    char *url = strdup(req->url ? req->url : "");
    if (!url) return -ENOMEM;
    const void *body = req->body;
    size_t blen = req->body_len;
    int r = 0;
    for (int hops = 0;; hops++) {
        target t;
        if ((r = target_parse(&t, url)) < 0) break;
        int got = 0;
        r = exchange(c, &t, method, req, body, blen, 0, resp, &got);
        if (r < 0 && !got && is_idempotent(method)) /* a stale pooled connection */
            r = exchange(c, &t, method, req, body, blen, 1, resp, &got);
        const char *loc = r == 0 ? cora_http_response_header(resp, "Location") : NULL;
        if (r < 0 || !is_redirect(resp->status) || !loc || c->o.max_redirects < 0) {
            free(t.path);
            break;
        }
        if (hops >= c->o.max_redirects) {
            free(t.path);
            r = -ELOOP;
            break;
        }
        char *next = resolve_location(&t, loc);
        free(t.path);
        if (!next) {
            r = -ENOMEM;
            break;
        }
        /* RFC 9110 15.4: 303 turns into GET; so do 301 and 302 after a POST, as every
         * browser does. 307 and 308 repeat the method and body. */
        if ((resp->status == 303 && strcmp(method, "HEAD") != 0) ||
            ((resp->status == 301 || resp->status == 302) && strcmp(method, "POST") == 0)) {
            method = "GET";
            body = NULL;
            blen = 0;
        }
        cora_http_response_free(resp);
        resp->redirects = hops + 1;
        free(url);
        url = next;
    }
    if (r < 0) {
        cora_http_response_free(resp);
        free(url);
        return r;
    }
    resp->url = url;
    return 0;
}

int cora_http_request(cora_http_client *c, const cora_http_request_opts *req,
                      cora_http_response *resp)
{
    if (!req || !resp) return -EINVAL;
    memset(resp, 0, sizeof *resp);
    cora_http_client *own = NULL;
    if (!c) {
        int r = cora_http_client_new(&own, NULL);
        if (r < 0) return r;
        c = own;
    }
    int r = cora_sem_acquire(&c->slots);
    if (r == 0) {
        cora_scope total;
        int timed = c->o.total_timeout > 0;
        if (timed) r = cora_fail_after(&total, c->o.total_timeout);
        if (r == 0) {
            r = request_in(c, req, resp);
            if (timed) {
                int e = cora_scope_exit(&total);
                if (r == 0 && e < 0) {
                    cora_http_response_free(resp);
                    r = e;
                }
            }
        }
        cora_sem_release(&c->slots);
    }
    cora_http_client_free(own);
    return r;
}

int cora_http_get(cora_http_client *c, const char *url, cora_http_response *resp)
{
    cora_http_request_opts req = {.url = url};
    return cora_http_request(c, &req, resp);
}

const char *cora_http_response_header(const cora_http_response *resp, const char *name)
{
    if (!resp || !name) return NULL;
    for (size_t i = 0; i < resp->nheaders; i++)
        if (strcasecmp(resp->headers[i].name, name) == 0) return resp->headers[i].value;
    return NULL;
}

void cora_http_response_free(cora_http_response *resp)
{
    if (!resp) return;
    free(resp->headers);
    free(resp->body);
    free(resp->url);
    memset(resp, 0, sizeof *resp);
}

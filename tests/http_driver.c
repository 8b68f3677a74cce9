/* tests/http_driver.c: see http_driver.h. */
#include "http_driver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum { D_HEAD, D_LENGTH, D_CHUNKED, D_EOF, D_UPGRADED, D_CLOSED, D_FAILED };

/* A broken contract is a bug in the parser, not a verdict: stop loudly, so that a
 * test fails and a fuzzer records the input. */
static void contract_broken(const char *what)
{
    fprintf(stderr, "http parser contract broken: %s\n", what);
    abort();
}

static char *memdup(const char *p, size_t n)
{
    char *c = malloc(n + 1);
    if (!c) contract_broken("out of memory in the test driver");
    if (n) memcpy(c, p, n);
    c[n] = '\0';
    return c;
}

static void msg_free(drv_msg *m)
{
    free(m->method);
    free(m->target);
    free(m->reason);
    for (size_t i = 0; i < m->nfields; i++) {
        free(m->fields[i].name);
        free(m->fields[i].value);
    }
    free(m->fields);
    free(m->body);
    memset(m, 0, sizeof(*m));
}

void drv_outcome_free(drv_outcome *o)
{
    size_t n = o->nmsgs < DRV_MAX_MSGS ? o->nmsgs : DRV_MAX_MSGS;
    for (size_t i = 0; i < n; i++)
        msg_free(&o->msgs[i]);
    memset(o, 0, sizeof(*o));
}

static void body_append(drv_msg *m, const char *p, size_t n)
{
    if (m->body_len + n > m->body_cap) {
        size_t cap = m->body_cap ? m->body_cap : 256;
        while (cap < m->body_len + n)
            cap *= 2;
        m->body = realloc(m->body, cap);
        if (!m->body) contract_broken("out of memory in the test driver");
        m->body_cap = cap;
    }
    if (n) memcpy(m->body + m->body_len, p, n);
    m->body_len += n;
}

void drv_init(drv *d, const drv_opts *opts)
{
    memset(d, 0, sizeof(*d));
    d->opts = *opts;
    cora__http_parser_init(&d->hp, opts->kind);
}

/* The message being received: beyond DRV_MAX_MSGS the driver keeps going but stores
 * nothing more, so a long pipelined stream stays cheap. */
static drv_msg scratch;

static drv_msg *current(drv *d)
{
    return d->out.nmsgs <= DRV_MAX_MSGS ? &d->out.msgs[d->out.nmsgs - 1] : &scratch;
}

static void fail(drv *d, int code, const char *why, size_t recv)
{
    d->out.error = code;
    d->out.why = why ? why : "(no description)";
    d->out.error_at = recv;
    d->phase = D_FAILED;
}

static void upgrade(drv *d)
{
    d->out.upgraded = 1;
    d->out.upgrade_at = d->pos;
    d->phase = D_UPGRADED;
}

static int is_method(const drv_msg *m, const char *name)
{
    return m->method && strcmp(m->method, name) == 0;
}

/* After a whole message: the next head, the new protocol, or the end. */
static void message_done(drv *d)
{
    drv_msg *m = current(d);
    m->complete = 1;
    d->out.ncomplete++;
    if (d->opts.kind == HTTP_REQUEST && (m->flags & HTTP_F_UPGRADE)) {
        upgrade(d);
        return;
    }
    int interim = d->opts.kind == HTTP_RESPONSE && m->status < 200;
    if (!interim && !m->keep_alive) {
        d->phase = D_CLOSED;
        return;
    }
    cora__http_parser_init(&d->hp, d->opts.kind);
    d->phase = D_HEAD;
}

static void record_head(drv *d, const http_head *h)
{
    d->out.nmsgs++;
    drv_msg *m = current(d);
    if (m == &scratch) msg_free(m);
    if (d->opts.kind == HTTP_REQUEST) {
        m->method = memdup(h->method, h->method_len);
        m->method_len = h->method_len;
        m->target = memdup(h->target, h->target_len);
        m->target_len = h->target_len;
    } else {
        m->status = h->status;
        m->reason = memdup(h->reason, h->reason_len);
        m->reason_len = h->reason_len;
    }
    m->version = h->version;
    m->flags = h->flags;
    m->content_length = h->content_length;
    m->nfields = h->nheaders;
    m->fields = calloc(h->nheaders ? h->nheaders : 1, sizeof(drv_field));
    for (size_t i = 0; i < h->nheaders; i++) {
        const cora_http_header *f = &h->headers[i];
        m->fields[i].name = memdup(f->name, f->name_len);
        m->fields[i].name_len = f->name_len;
        m->fields[i].value = memdup(f->value, f->value_len);
        m->fields[i].value_len = f->value_len;
    }
    int no_body = h->status && (h->status < 200 || h->status == 204 || h->status == 304);
    if (no_body && (h->flags & (HTTP_F_HAS_LENGTH | HTTP_F_CHUNKED | HTTP_F_TE_OTHER)))
        d->out.framed_no_body++;
    enum http_body bk =
        d->opts.skip_body ? HTTP_BODY_NONE : cora__http_body_kind(h, d->opts.kind, NULL);
    m->body_kind = (int)bk;
    m->keep_alive = cora__http_keep_alive(h) && bk != HTTP_BODY_EOF;
}

/* What follows a head: a tunnel, a body, or the next message. */
static void after_head(drv *d, const http_head *h)
{
    drv_msg *m = current(d);
    /* A 101 switches only with the Upgrade field it must carry (RFC 9110 15.2.2), as
     * in both reference parsers; without one it is read as any other 1xx. */
    int tunnel = d->opts.kind == HTTP_REQUEST ? is_method(m, "CONNECT")
                                              : m->status == 101 && (m->flags & HTTP_F_UPGRADE);
    if (tunnel) {
        m->complete = 1;
        d->out.ncomplete++;
        upgrade(d);
        return;
    }
    switch ((enum http_body)m->body_kind) {
    case HTTP_BODY_NONE:
        message_done(d);
        break;
    case HTTP_BODY_LENGTH:
        d->left = h->content_length;
        d->phase = D_LENGTH;
        if (d->left == 0) message_done(d);
        break;
    case HTTP_BODY_CHUNKED:
        cora__http_chunked_init(&d->ch);
        d->ch.max_trailer = d->opts.max_trailer;
        d->phase = D_CHUNKED;
        break;
    case HTTP_BODY_EOF:
        d->phase = D_EOF;
        break;
    }
}

static int feed_head(drv *d, const char *buf, size_t recv)
{
    d->out.partial = 0;
    if (d->pos == recv) return 0;
    http_head h;
    memset(&h, 0, sizeof(h));
    h.headers = d->fields;
    h.headers_cap = d->opts.headers_cap ? d->opts.headers_cap : DRV_MAX_FIELDS;
    const char *why = NULL;
    const char *b = buf + d->pos;
    size_t avail = recv - d->pos;
    ssize_t r = cora__http_parse_head(&d->hp, b, avail, &d->opts.limits, &h, &why);
    if (d->hp.scanned > avail) contract_broken("scanned beyond the buffer");
    if (r == 0) {
        d->out.partial = 1;
        return 0;
    }
    if (r < 0) {
        fail(d, (int)r, why, recv);
        return 0;
    }
    const char *bad = drv_check_head(&h, d->opts.kind, b, avail, r, &d->opts.limits);
    if (bad) contract_broken(bad);
    record_head(d, &h);
    d->pos += (size_t)r;
    after_head(d, &h);
    return 1;
}

static int feed_length(drv *d, const char *buf, size_t recv)
{
    size_t n = recv - d->pos;
    if (n > d->left) n = (size_t)d->left;
    if (n == 0) return 0;
    body_append(current(d), buf + d->pos, n);
    d->left -= n;
    d->pos += n;
    if (d->left == 0) message_done(d);
    return 1;
}

static int feed_chunked(drv *d, const char *buf, size_t recv)
{
    if (d->pos == recv) return 0;
    const char *b = buf + d->pos, *data = NULL;
    size_t avail = recv - d->pos, dlen = 0;
    ssize_t r = cora__http_chunked_decode(&d->ch, b, avail, &data, &dlen);
    if (r < 0) {
        fail(d, (int)r, "invalid chunked body", recv);
        return 0;
    }
    if ((size_t)r > avail) contract_broken("chunked decoder consumed more than it was given");
    if (dlen && (data < b || data + dlen > b + r))
        contract_broken("chunk data outside the consumed bytes");
    if (!dlen && data) contract_broken("chunk data pointer without a length");
    body_append(current(d), data, dlen);
    d->pos += (size_t)r;
    if (cora__http_chunked_done(&d->ch)) {
        message_done(d);
        return 1;
    }
    if ((size_t)r < avail && !dlen) contract_broken("chunked decoder stopped early without data");
    return r > 0;
}

void drv_feed(drv *d, const char *buf, size_t recv)
{
    for (;;) {
        int more = 0;
        switch (d->phase) {
        case D_HEAD:
            more = feed_head(d, buf, recv);
            break;
        case D_LENGTH:
            more = feed_length(d, buf, recv);
            break;
        case D_CHUNKED:
            more = feed_chunked(d, buf, recv);
            break;
        case D_EOF:
            body_append(current(d), buf + d->pos, recv - d->pos);
            d->pos = recv;
            break;
        case D_CLOSED:
            /* Empty lines after the last message are the one thing a peer may still
             * send (http-parser eats them); anything else is refused. */
            while (d->pos + 2 <= recv && buf[d->pos] == '\r' && buf[d->pos + 1] == '\n')
                d->pos += 2;
            if (d->pos < recv && (buf[d->pos] != '\r' || d->pos + 1 < recv))
                fail(d, HTTP_E_BAD, "bytes after a closing message", recv);
            break;
        default:
            break;
        }
        if (!more) return;
    }
}

/* ---- guard pages --------------------------------------------------------------- */

void guard_init(guard *g, size_t capacity)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t usable = (capacity + page - 1) / page * page;
    if (usable == 0) usable = page;
    char *p = mmap(NULL, usable + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) contract_broken("mmap for a guard page failed");
    if (mprotect(p + usable, page, PROT_NONE) != 0) contract_broken("mprotect failed");
    g->base = p;
    g->size = usable;
}

void guard_free(guard *g)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    munmap(g->base, g->size + page);
    g->base = NULL;
}

char *guard_place(guard *g, const char *data, size_t n)
{
    if (n > g->size) contract_broken("input larger than its guarded buffer");
    char *p = g->base + g->size - n;
    if (n) memmove(p, data, n);
    return p;
}

void drv_run(const drv_opts *opts, const char *input, size_t n, const size_t *steps, size_t nsteps,
             int move, guard *g, drv_outcome *out)
{
    static drv d; /* large (the fields array): kept off the stack */
    drv_init(&d, opts);
    const char *fixed = move ? NULL : guard_place(g, input, n);
    size_t last = 0;
    for (size_t i = 0; i <= nsteps; i++) {
        size_t s = i < nsteps ? steps[i] : n;
        if (s > n || (i > 0 && s <= last)) continue;
        last = s;
        const char *buf = move ? guard_place(g, input, s) : fixed;
        drv_feed(&d, buf, s);
        if (s == n) break;
    }
    *out = d.out;
    memset(&d.out, 0, sizeof(d.out));
    msg_free(&scratch);
}

/* ---- comparing outcomes -------------------------------------------------------- */

static int same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

static const char *msg_diff(const drv_msg *a, const drv_msg *b)
{
    if (!same(a->method, a->method_len, b->method, b->method_len)) return "method";
    if (!same(a->target, a->target_len, b->target, b->target_len)) return "target";
    if (!same(a->reason, a->reason_len, b->reason, b->reason_len)) return "reason";
    if (a->status != b->status) return "status";
    if (a->version != b->version) return "version";
    if (a->flags != b->flags) return "flags";
    if (a->content_length != b->content_length) return "content_length";
    if (a->nfields != b->nfields) return "number of fields";
    for (size_t i = 0; i < a->nfields; i++) {
        const drv_field *x = &a->fields[i], *y = &b->fields[i];
        if (!same(x->name, x->name_len, y->name, y->name_len)) return "field name";
        if (!same(x->value, x->value_len, y->value, y->value_len)) return "field value";
    }
    if (!same(a->body, a->body_len, b->body, b->body_len)) return "body";
    if (a->body_kind != b->body_kind) return "body kind";
    if (a->keep_alive != b->keep_alive) return "keep-alive";
    if (a->complete != b->complete) return "complete";
    return NULL;
}

const char *drv_outcome_diff(const drv_outcome *a, const drv_outcome *b)
{
    if (a->error != b->error) return "verdict";
    if (a->nmsgs != b->nmsgs) return "number of heads";
    if (a->ncomplete != b->ncomplete) return "number of complete messages";
    if (a->upgraded != b->upgraded || a->upgrade_at != b->upgrade_at) return "upgrade";
    if (a->partial != b->partial) return "partial head";
    size_t n = a->nmsgs < DRV_MAX_MSGS ? a->nmsgs : DRV_MAX_MSGS;
    for (size_t i = 0; i < n; i++) {
        const char *d = msg_diff(&a->msgs[i], &b->msgs[i]);
        if (d) return d;
    }
    return NULL;
}

/* ---- the contract of a parsed head --------------------------------------------- */

static int inside(const char *p, size_t n, const char *buf, size_t len)
{
    return n == 0 || (p && p >= buf && p + n <= buf + len);
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *check_field(const cora_http_header *f, const char *buf, size_t len)
{
    if (!inside(f->name, f->name_len, buf, len) || !inside(f->value, f->value_len, buf, len))
        return "field span outside the head";
    if (f->name_len == 0) return "empty field name";
    for (size_t k = 0; k < f->name_len; k++)
        if (!is_tchar((unsigned char)f->name[k])) return "field name with a non-token byte";
    for (size_t k = 0; k < f->value_len; k++) {
        unsigned char c = (unsigned char)f->value[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return "field value with a control byte";
    }
    if (f->value_len && (f->value[0] == ' ' || f->value[0] == '\t' ||
                         f->value[f->value_len - 1] == ' ' || f->value[f->value_len - 1] == '\t'))
        return "field value not trimmed";
    return NULL;
}

static const char *check_flags(const http_head *h, int kind)
{
    unsigned te = h->flags & (HTTP_F_CHUNKED | HTTP_F_TE_OTHER);
    if (te == (HTTP_F_CHUNKED | HTTP_F_TE_OTHER)) return "both CHUNKED and TE_OTHER";
    if (te && (h->flags & HTTP_F_HAS_LENGTH)) return "Transfer-Encoding with Content-Length";
    if (kind == HTTP_REQUEST && (h->flags & HTTP_F_TE_OTHER)) return "request with TE_OTHER";
    if (h->content_length > (uint64_t)INT64_MAX) return "content_length of 2^63 or more";
    if (!(h->flags & HTTP_F_HAS_LENGTH) && h->content_length) return "stray content_length";
    return NULL;
}

const char *drv_check_head(const http_head *h, int kind, const char *buf, size_t len, ssize_t ret,
                           const http_limits *lim)
{
    size_t max_head = lim && lim->max_head ? lim->max_head : 16 * 1024;
    size_t max_fields = lim && lim->max_headers ? lim->max_headers : 100;
    if (ret <= 0 || (size_t)ret > len) return "head length outside the buffer";
    if ((size_t)ret > max_head) return "head longer than max_head";
    if (ret < 4 || memcmp(buf + ret - 4, "\r\n\r\n", 4) != 0) return "head not ending in CRLF CRLF";
    if (h->version != 10 && h->version != 11) return "version neither 10 nor 11";
    if (kind == HTTP_REQUEST) {
        if (!h->method_len || !inside(h->method, h->method_len, buf, (size_t)ret))
            return "method span";
        if (!h->target_len || !inside(h->target, h->target_len, buf, (size_t)ret))
            return "target span";
    } else {
        if (h->status < 100 || h->status > 999) return "status outside 100..999";
        if (!inside(h->reason, h->reason_len, buf, (size_t)ret)) return "reason span";
    }
    if (h->nheaders > h->headers_cap || h->nheaders > max_fields) return "too many fields";
    for (size_t i = 0; i < h->nheaders; i++) {
        const char *bad = check_field(&h->headers[i], buf, (size_t)ret);
        if (bad) return bad;
    }
    return check_flags(h, kind);
}

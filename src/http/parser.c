/* src/http/parser.c: the HTTP/1.1 head parser, chunked decoder and URL splitter.
 *
 * The head parser works in two passes, and each byte is looked at a bounded number of
 * times however the input is split:
 *
 *   1. scan_head() walks the bytes that arrived since the last call through a state
 *      machine (drawn below) that checks every byte in its context: the method
 *      against the known ones as it grows, the shape of the request-target, the
 *      version digits, token bytes in field names, field-value bytes, the digits of
 *      Content-Length, CRLF pairs only. Its state lives in the http_head_parser, so
 *      the next call resumes where this one stopped (a slowloris client costs linear
 *      time), and a bad or oversized head fails as soon as the offending byte
 *      arrives. When a line ends, the line as a whole gets the checks no single byte
 *      can make: the start line's target as a URL, a framing field's value, and
 *      conflicts between framing fields (a second Content-Length fails at its colon).
 *
 *   2. Once CRLF CRLF arrives, finish_head() splits the head, now known to be
 *      well-formed, into spans and works out the framing (Content-Length,
 *      Transfer-Encoding, Connection). That pass runs once per head.
 *
 * States of the scan (request line | status line, then the field lines):
 *
 *   START -CR-> START_LF -LF-> START              (empty lines before a message)
 *   START -tchar-> METHOD -SP-> TARGET0 -> T_* (the target's form) -SP-> RQ_VER x8
 *                                                               -CR-> LINE_LF
 *   START -'H'-> RS_VER x8 -SP-> STATUS x3 -SP-> REASON -CR-> LINE_LF
 *                                          \-CR-> LINE_LF
 *   LINE_LF -LF-> FIELD_START -tchar-> NAME -':'-> VALUE -CR-> VALUE_LF -LF-> FIELD_START
 *                                          \-':'-> CL_OWS1 -> CL_DIGIT -> CL_OWS2 -CR-/
 *                                                   (a Content-Length value)
 *   FIELD_START -CR-> END_LF -LF-> done
 *
 * Anything else is an error; in particular LF is only ever accepted right after CR
 * (no bare LF), CR only right before LF (no bare CR), and a field line may not start
 * with whitespace (no obs-fold).
 */
#include "parser.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#define DEFAULT_MAX_LINE (8 * 1024)
#define DEFAULT_MAX_HEAD (16 * 1024)
#define DEFAULT_MAX_HEADERS 100
#define DEFAULT_MAX_TRAILER (16 * 1024)
/* A chunk-size line with its extensions; nothing legitimate comes close. */
#define MAX_SIZE_LINE 4096
/* Lengths stay below 2^63 so that callers may hold them in off_t or int64_t. */
#define MAX_LENGTH ((uint64_t)INT64_MAX)

/* ---- byte classes ------------------------------------------------------------- */

enum {
    C_TCHAR = 1,   /* token (RFC 9110 5.6.2): method, field names, codings */
    C_VALUE = 2,   /* field-value and reason-phrase: VCHAR, obs-text, SP, HTAB */
    C_VISIBLE = 4, /* VCHAR alone (0x21-0x7E): the request-target */
    C_QDTEXT = 8,  /* inside a quoted-string, escapes aside */
    C_HOST = 16,   /* a host name: letters, digits, '.' and '-' */
    C_USER = 32,   /* userinfo: unreserved, sub-delims, ':' and '%' */
    C_ZONE = 64,   /* an IPv6 zone identifier */
    C_AUTH = 128,  /* an authority: userinfo bytes, '@' and the brackets of IPv6 */
};

/* One entry per byte value, the C_* classes it belongs to. Generated once from the
 * RFC grammars; each row starts at the byte value in its comment. */
// clang-format off
static const unsigned char ctab[256] = {
    /* 00 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 08 */ 0x00, 0x0a, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 10 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 18 */ 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    /* 20 */ 0x0a, 0xaf, 0x06, 0x0f, 0xaf, 0xef, 0xaf, 0xaf,
    /* 28 */ 0xae, 0xae, 0xaf, 0xaf, 0xae, 0xff, 0xff, 0x0e,
    /* 30 */ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 38 */ 0xff, 0xff, 0xae, 0xae, 0x0e, 0xae, 0x0e, 0x0e,
    /* 40 */ 0x8e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 48 */ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 50 */ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 58 */ 0xff, 0xff, 0xff, 0x8e, 0x06, 0x8e, 0x0f, 0xef,
    /* 60 */ 0x0f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 68 */ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 70 */ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    /* 78 */ 0xff, 0xff, 0xff, 0x0e, 0x0f, 0x0e, 0xef, 0x00,
    /* 80 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* 88 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* 90 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* 98 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* a0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* a8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* b0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* b8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* c0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* c8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* d0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* d8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* e0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* e8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* f0 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    /* f8 */ 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
};
// clang-format on

static int is(unsigned char c, unsigned cls)
{
    return (ctab[c] & cls) != 0;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* Case-insensitive comparison of a span with a NUL-terminated name. */
static int span_is(const char *s, size_t n, const char *name)
{
    if (n != strlen(name)) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s[i]) != lower((unsigned char)name[i])) return 0;
    return 1;
}

static int fail(const char **why, int code, const char *msg)
{
    if (why) *why = msg;
    return code;
}

/* ---- URLs --------------------------------------------------------------------- */

static void span_set(http_span *s, const char *p, size_t n)
{
    s->ptr = p;
    s->len = n;
}

/* Splits path, query and fragment from s[0..n), which starts at the path. */
static void split_path(const char *s, size_t n, http_url *out)
{
    size_t i = 0;
    while (i < n && s[i] != '?' && s[i] != '#')
        i++;
    if (i > 0) span_set(&out->path, s, i);
    if (i < n && s[i] == '?') {
        size_t q = ++i;
        while (i < n && s[i] != '#')
            i++;
        span_set(&out->query, s + q, i - q);
    }
    if (i < n) span_set(&out->fragment, s + i + 1, n - i - 1);
}

/* A port: 1*DIGIT, at most 65535. Returns the value or -1. */
static int parse_port(const char *s, size_t n)
{
    if (n == 0) return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return -1;
        v = v * 10 + (s[i] - '0');
        if (v > 65535) return -1;
    }
    return (int)v;
}

/* An IPv6 literal without its brackets, with an optional zone ("fe80::1%eth0" or
 * "%25eth0"). The address itself goes through inet_pton, which knows the grammar. */
static int valid_ipv6(const char *s, size_t n)
{
    const char *pct = memchr(s, '%', n);
    size_t alen = pct ? (size_t)(pct - s) : n;
    if (alen == 0 || alen > 45) return 0;
    if (pct) {
        size_t zlen = n - alen - 1;
        if (zlen == 0) return 0;
        for (size_t i = 0; i < zlen; i++)
            if (!is((unsigned char)pct[1 + i], C_ZONE)) return 0;
    }
    char tmp[46];
    struct in6_addr a;
    memcpy(tmp, s, alen);
    tmp[alen] = '\0';
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

/* host [":" port] from s[0..n); the host is a name or a bracketed IPv6 literal.
 * Underscores are refused in names, as http-parser's strict build does. */
static int split_hostport(const char *s, size_t n, int need_port, http_url *out)
{
    size_t hend;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close || !valid_ipv6(s + 1, (size_t)(close - s) - 1)) return -EINVAL;
        span_set(&out->host, s + 1, (size_t)(close - s) - 1);
        hend = (size_t)(close - s) + 1;
        if (hend < n && s[hend] != ':') return -EINVAL;
    } else {
        hend = 0;
        while (hend < n && s[hend] != ':') {
            if (!is((unsigned char)s[hend], C_HOST)) return -EINVAL;
            hend++;
        }
        if (hend == 0) return -EINVAL;
        span_set(&out->host, s, hend);
    }
    if (hend == n) return need_port ? -EINVAL : 0;
    int port = parse_port(s + hend + 1, n - hend - 1);
    if (port < 0) return -EINVAL;
    out->port = port;
    return 0;
}

/* userinfo "@" host [":" port]: the authority of an absolute URL. */
static int split_authority(const char *s, size_t n, http_url *out)
{
    const char *at = memchr(s, '@', n);
    if (at) {
        size_t ulen = (size_t)(at - s);
        for (size_t i = 0; i < ulen; i++)
            if (!is((unsigned char)s[i], C_USER)) return -EINVAL;
        if (ulen > 0) span_set(&out->userinfo, s, ulen);
        s += ulen + 1;
        n -= ulen + 1;
        if (memchr(s, '@', n)) return -EINVAL;
    }
    return split_hostport(s, n, 0, out);
}

/* scheme "://" authority [path] ["?" query] ["#" fragment]. The scheme is letters
 * only, as in http-parser. */
static int split_absolute(const char *url, size_t len, http_url *out)
{
    size_t i = 0;
    while (i < len && ((url[i] | 0x20) >= 'a' && (url[i] | 0x20) <= 'z'))
        i++;
    if (i == 0 || len - i < 3 || memcmp(url + i, "://", 3) != 0) return -EINVAL;
    span_set(&out->scheme, url, i);
    size_t a = i + 3, e = a;
    while (e < len && url[e] != '/' && url[e] != '?' && url[e] != '#')
        e++;
    int r = split_authority(url + a, e - a, out);
    if (r < 0) return r;
    /* A fragment needs a path or query before it, as in http-parser (a request-target
     * has no fragment at all in RFC 9112; after a path it is tolerated, like both
     * reference parsers do). */
    if (e < len && url[e] == '#') return -EINVAL;
    split_path(url + e, len - e, out);
    return 0;
}

int cora__http_parse_url(const char *url, size_t len, int is_connect, http_url *out)
{
    memset(out, 0, sizeof(*out));
    if (!url || len == 0) return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (!is((unsigned char)url[i], C_VISIBLE)) return -EINVAL;
    int r;
    if (is_connect)
        r = split_hostport(url, len, 1, out);
    else if (url[0] == '/') {
        split_path(url, len, out);
        r = 0;
    } else
        r = split_absolute(url, len, out);
    if (r < 0) memset(out, 0, sizeof(*out));
    return r;
}

/* ---- the request and status line ---------------------------------------------- */

/* The methods cora answers. An unknown token is refused with 501 (RFC 9110 9.1)
 * rather than handed on; the list is libhttp-parser 2.9.4's, so that cora never
 * accepts a request line its reference refuses. */
#define METHOD(m) {m, sizeof m - 1}
static const struct {
    const char *name;
    size_t len;
} known_methods[] = {
    METHOD("GET"),      METHOD("HEAD"),        METHOD("POST"),       METHOD("PUT"),
    METHOD("DELETE"),   METHOD("CONNECT"),     METHOD("OPTIONS"),    METHOD("TRACE"),
    METHOD("PATCH"),    METHOD("COPY"),        METHOD("LOCK"),       METHOD("MKCOL"),
    METHOD("MOVE"),     METHOD("PROPFIND"),    METHOD("PROPPATCH"),  METHOD("SEARCH"),
    METHOD("UNLOCK"),   METHOD("BIND"),        METHOD("REBIND"),     METHOD("UNBIND"),
    METHOD("ACL"),      METHOD("REPORT"),      METHOD("MKACTIVITY"), METHOD("CHECKOUT"),
    METHOD("MERGE"),    METHOD("M-SEARCH"),    METHOD("NOTIFY"),     METHOD("SUBSCRIBE"),
    METHOD("UNSUBSCRIBE"), METHOD("PURGE"),    METHOD("MKCALENDAR"), METHOD("LINK"),
    METHOD("UNLINK"),   METHOD("SOURCE"),
};
#undef METHOD

/* Whether m[0..n) is a known method (exact) or the start of one (!exact). */
static int known_method(const char *m, size_t n, int exact)
{
    for (size_t i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        size_t k = known_methods[i].len;
        if ((exact ? k == n : k >= n) && (n == 0 || known_methods[i].name[0] == m[0]) &&
            memcmp(known_methods[i].name, m, n) == 0)
            return 1;
    }
    return 0;
}

static int is_method(const http_head *h, const char *name)
{
    return h->method_len == strlen(name) && memcmp(h->method, name, h->method_len) == 0;
}

/* Only HTTP/1.0 and HTTP/1.1 are spoken; the scan checks the digits as the minor one
 * arrives, so a version we do not speak fails before the end of its line. */
static int version_digits_ok(unsigned char major, unsigned char minor)
{
    return major == '1' && (minor == '0' || minor == '1');
}

/* "HTTP/d.d", already checked byte by byte: 10, 11, or -505 for other digits. */
static int version_of(const char *v, const char **why)
{
    if (version_digits_ok((unsigned char)v[5], (unsigned char)v[7])) return 10 + (v[7] - '0');
    return fail(why, HTTP_E_VERSION, "HTTP version not supported");
}

/* origin-form, absolute-form, authority-form for CONNECT, or "*". */
static int check_target(const http_head *h, const char **why)
{
    http_url u;
    int connect = is_method(h, "CONNECT");
    /* The asterisk-form is meant for OPTIONS (RFC 9112 3.2.4), but SSDP sends it with
     * M-SEARCH and both reference parsers take it with any method: the server decides
     * what "*" means for its routes. */
    if (!connect && h->target_len == 1 && h->target[0] == '*') return 0;
    if (cora__http_parse_url(h->target, h->target_len, connect, &u) < 0)
        return fail(why, HTTP_E_BAD, "invalid request-target");
    return 0;
}

/* method SP request-target SP HTTP-version, its bytes already checked by the scan.
 * `check` asks for the checks of the line as a whole (the method, the target's
 * structure); the scan makes them when the line ends, so the second pass, which only
 * fills h in, skips them. */
static int parse_request_line(const char *line, size_t n, http_head *h, int check,
                              const char **why)
{
    const char *sp1 = memchr(line, ' ', n);
    const char *tgt = sp1 + 1;
    const char *sp2 = memchr(tgt, ' ', n - (size_t)(tgt - line));
    h->method = line;
    h->method_len = (size_t)(sp1 - line);
    h->target = tgt;
    h->target_len = (size_t)(sp2 - tgt);
    int v = version_of(sp2 + 1, why);
    if (v < 0) return v;
    h->version = v;
    if (!check) return 0;
    if (!known_method(h->method, h->method_len, 1))
        return fail(why, HTTP_E_NOT_IMPL, "unknown method");
    return check_target(h, why);
}

/* HTTP-version SP 3DIGIT [SP reason-phrase], its bytes already checked by the scan. */
static int parse_status_line(const char *line, size_t n, http_head *h, const char **why)
{
    int v = version_of(line, why);
    if (v < 0) return v;
    h->version = v;
    h->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    if (h->status < 100) return fail(why, HTTP_E_BAD, "status code below 100");
    h->reason = line + (n > 12 ? 13 : n);
    h->reason_len = n > 12 ? n - 13 : 0;
    return 0;
}

static int parse_start_line(int kind, const char *line, size_t n, http_head *h, int check,
                            const char **why)
{
    if (kind == HTTP_REQUEST) return parse_request_line(line, n, h, check, why);
    return parse_status_line(line, n, h, why);
}

/* ---- what the fields mean ------------------------------------------------------ */

/* What the fields say about framing, gathered while they are split. */
struct framing {
    int lengths;         /* Content-Length fields seen */
    int te_fields;       /* Transfer-Encoding fields seen */
    int te_chunked;      /* times "chunked" was listed */
    int te_last_chunked; /* the last coding listed is chunked */
    int te_other;        /* a coding other than chunked was listed */
    int conn_upgrade;    /* Connection: upgrade */
    int has_upgrade;     /* an Upgrade field */
};

/* Calls fn on each element of a comma-separated list (RFC 9110 5.6.1), trimmed of
 * whitespace; empty elements are skipped, as RFC 9110 asks, unless keep_empty is set.
 * Transfer-Encoding sets it: ", chunked" is refused rather than read two ways (it
 * is not chunked to libhttp-parser), since framing must be unambiguous. Stops at the
 * first negative return. */
static int each_element(const char *v, size_t n, int keep_empty,
                        int (*fn)(const char *, size_t, void *), void *arg)
{
    for (size_t i = 0;; i++) {
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (s < e && is_ows((unsigned char)v[s]))
            s++;
        while (e > s && is_ows((unsigned char)v[e - 1]))
            e--;
        if (e > s || keep_empty) {
            int r = fn(v + s, e - s, arg);
            if (r < 0) return r;
        }
        if (i >= n) return 0;
    }
}

/* What a Connection list element updates: the head's flags, and the framing's
 * conn_upgrade (NULL where an upgrade token means nothing). */
struct connection_ctx {
    unsigned *flags;
    int *upgrade;
};

static int connection_token(const char *t, size_t n, void *arg)
{
    struct connection_ctx *c = arg;
    if (span_is(t, n, "close")) *c->flags |= HTTP_F_CLOSE;
    if (span_is(t, n, "keep-alive")) *c->flags |= HTTP_F_KEEPALIVE;
    if (span_is(t, n, "upgrade") && c->upgrade) *c->upgrade = 1;
    return 0;
}

static int expectation(const char *t, size_t n, void *arg)
{
    if (span_is(t, n, "100-continue")) *(unsigned *)arg |= HTTP_F_CONTINUE;
    return 0;
}

/* One transfer-coding: a token, perhaps with parameters (which chunked has none of). */
static int transfer_coding(const char *t, size_t n, void *arg)
{
    struct framing *f = arg;
    size_t i = 0;
    while (i < n && is((unsigned char)t[i], C_TCHAR))
        i++;
    size_t name = i;
    while (i < n && is_ows((unsigned char)t[i]))
        i++;
    if (name == 0 || (i < n && t[i] != ';')) return HTTP_E_BAD;
    int chunked = span_is(t, name, "chunked");
    if (chunked && i < n) return HTTP_E_BAD;
    f->te_chunked += chunked;
    f->te_other |= !chunked;
    f->te_last_chunked = chunked;
    return 0;
}

/* 1*DIGIT, below 2^63. Returns 0 or -1. */
static int parse_length(const char *v, size_t n, uint64_t *out)
{
    uint64_t x = 0;
    if (n == 0) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)v[i] - '0';
        if (d > 9 || x > (MAX_LENGTH - d) / 10) return -1;
        x = x * 10 + d;
    }
    *out = x;
    return 0;
}

/* Notes what one field means for framing and the connection. */
static int interpret_field(const cora_http_header *f, http_head *h, struct framing *fr,
                           const char **why)
{
    const char *n = f->name, *v = f->value;
    size_t nl = f->name_len, vl = f->value_len;
    if (span_is(n, nl, "content-length")) {
        if (fr->lengths++ > 0) return fail(why, HTTP_E_BAD, "repeated Content-Length");
        if (parse_length(v, vl, &h->content_length) < 0)
            return fail(why, HTTP_E_BAD, "invalid Content-Length");
        h->flags |= HTTP_F_HAS_LENGTH;
    } else if (span_is(n, nl, "transfer-encoding")) {
        fr->te_fields++;
        if (each_element(v, vl, 1, transfer_coding, fr) < 0)
            return fail(why, HTTP_E_BAD, "invalid Transfer-Encoding");
    } else if (span_is(n, nl, "connection")) {
        struct connection_ctx c = {&h->flags, &fr->conn_upgrade};
        each_element(v, vl, 0, connection_token, &c);
    } else if (span_is(n, nl, "proxy-connection")) {
        /* A pre-standard name some clients still send; http-parser and llhttp read it
         * like Connection, so close and keep-alive count, never upgrade. */
        struct connection_ctx c = {&h->flags, NULL};
        each_element(v, vl, 0, connection_token, &c);
    } else if (span_is(n, nl, "upgrade")) {
        fr->has_upgrade = 1;
    } else if (span_is(n, nl, "expect")) {
        each_element(v, vl, 0, expectation, &h->flags);
    }
    return 0;
}

/* Transfer-Encoding against Content-Length and the message kind (RFC 9112 6.1, 6.3):
 * the checks that stop request smuggling. */
static int settle_framing(int kind, http_head *h, const struct framing *f, const char **why)
{
    if (f->conn_upgrade && f->has_upgrade) h->flags |= HTTP_F_UPGRADE;
    if (f->te_fields == 0) return 0;
    if (f->lengths > 0) return fail(why, HTTP_E_BAD, "both Content-Length and Transfer-Encoding");
    if (f->te_chunked > 1) return fail(why, HTTP_E_BAD, "chunked listed twice");
    if (kind == HTTP_RESPONSE) {
        h->flags |= f->te_last_chunked ? HTTP_F_CHUNKED : HTTP_F_TE_OTHER;
        return 0;
    }
    if (!f->te_last_chunked) return fail(why, HTTP_E_BAD, "chunked is not the final coding");
    if (f->te_other) return fail(why, HTTP_E_NOT_IMPL, "unsupported transfer coding");
    h->flags |= HTTP_F_CHUNKED;
    return 0;
}

/* Splits a field line "name: value" (without its CRLF), dropping the whitespace
 * around the value; the scan guarantees the colon. */
static void split_field(const char *line, size_t n, cora_http_header *f)
{
    const char *colon = memchr(line, ':', n);
    size_t s = (size_t)(colon - line) + 1, e = n;
    while (s < e && is_ows((unsigned char)line[s]))
        s++;
    while (e > s && is_ows((unsigned char)line[e - 1]))
        e--;
    f->name = line;
    f->name_len = (size_t)(colon - line);
    f->value = line + s;
    f->value_len = e - s;
}

enum { SEEN_LENGTH = 1, SEEN_TE = 2, SEEN_CHUNKED = 4 };

/* What one Transfer-Encoding line adds to the ones before it: "chunked" twice, or
 * (in a request) anything after "chunked", is wrong whatever follows, so it fails
 * when the line ends. */
static int check_te_line(http_head_parser *p, const struct framing *fr, const char **why)
{
    if (fr->te_chunked > 1 || (fr->te_chunked && (p->framing & SEEN_CHUNKED)))
        return fail(why, HTTP_E_BAD, "chunked listed twice");
    if (p->kind == HTTP_REQUEST &&
        ((p->framing & SEEN_CHUNKED) || (fr->te_chunked && !fr->te_last_chunked)))
        return fail(why, HTTP_E_BAD, "chunked is not the final coding");
    if (fr->te_chunked) p->framing |= SEEN_CHUNKED;
    p->framing |= SEEN_TE;
    return 0;
}

/* The framing fields, checked as soon as their line ends, so that a bad or
 * conflicting one fails before the head is complete (finish_head checks them
 * again, with the order-dependent rules). */
static int check_field_line(http_head_parser *p, const char *line, size_t n, const char **why)
{
    cora_http_header f;
    split_field(line, n, &f);
    if (span_is(f.name, f.name_len, "content-length")) {
        uint64_t v;
        if (p->framing & SEEN_LENGTH) return fail(why, HTTP_E_BAD, "repeated Content-Length");
        if (parse_length(f.value, f.value_len, &v) < 0)
            return fail(why, HTTP_E_BAD, "invalid Content-Length");
        p->framing |= SEEN_LENGTH;
    } else if (span_is(f.name, f.name_len, "transfer-encoding")) {
        struct framing fr = {0};
        /* A TAB after the first coding ("chunked<TAB>") is whitespace to RFC 9110 but
         * not to libhttp-parser, which then frames the body differently: refused, so
         * that the framing reads one way to every parser on the path. */
        const char *end = line + n;
        if (memchr(f.value, '\t', (size_t)(end - f.value)) ||
            each_element(f.value, f.value_len, 1, transfer_coding, &fr) < 0)
            return fail(why, HTTP_E_BAD, "invalid Transfer-Encoding");
        int r = check_te_line(p, &fr, why);
        if (r < 0) return r;
    }
    if ((p->framing & SEEN_LENGTH) && (p->framing & SEEN_TE))
        return fail(why, HTTP_E_BAD, "both Content-Length and Transfer-Encoding");
    return 0;
}

/* ---- pass 1: the incremental scan --------------------------------------------- */

enum {
    S_START,
    S_START_LF,
    S_METHOD,
    S_TARGET0,  /* the first byte of the request-target decides its form: */
    S_T_PATH,   /* origin-form, or the path, query and fragment of absolute-form */
    S_T_SCHEME, /* absolute-form: scheme letters, then "://" */
    S_T_SLASH1,
    S_T_SLASH2,
    S_T_AUTH0,   /* the first byte of the authority */
    S_T_AUTH,    /* userinfo, host and port, up to '/', '?' or SP */
    S_T_HOST,    /* the same after an '@' (a second one is refused) */
    S_T_CONNECT, /* authority-form (CONNECT) */
    S_T_STAR,    /* asterisk-form */
    S_RQ_VER,    /* + 0..7: the bytes of "HTTP/d.d" */
    S_RQ_CR = S_RQ_VER + 8,
    S_RS_VER, /* + 0..7 */
    S_RS_SP = S_RS_VER + 8,
    S_STATUS, /* + 0..2: the status digits */
    S_STATUS_END = S_STATUS + 3,
    S_REASON,
    S_LINE_LF,
    S_FIELD_START,
    S_NAME,
    S_VALUE,
    S_CL_OWS1,                   /* a Content-Length value: whitespace, */
    S_CL_DIGIT,                  /* + k: digits, k of them significant (0..19), */
    S_CL_OWS2 = S_CL_DIGIT + 20, /* whitespace, then the CR */
    S_VALUE_LF,
    S_END_LF,
    S_DONE,
};

struct limits {
    size_t max_line, max_head, max_fields;
};

static int in_start_line(int s)
{
    return s >= S_METHOD && s <= S_REASON;
}

/* Byte k of "HTTP/d.d". */
static int version_byte_ok(int k, unsigned char c)
{
    if (k < 5) return c == (unsigned char)"HTTP/"[k];
    if (k == 6) return c == '.';
    return is_digit(c);
}

/* An unexpected byte: the description names line-ending mistakes as such, since
 * they are the usual ones (and the ones a lenient parser would have let through). */
static int bad_byte(const char **why, unsigned char c, const char *what)
{
    if (c == '\n') return fail(why, HTTP_E_BAD, "bare LF");
    if (c == '\r') return fail(why, HTTP_E_BAD, "line ends too early");
    return fail(why, HTTP_E_BAD, what);
}

/* A byte of "HTTP/d.d", starting at state `first`; `major` is the byte two places
 * back, the major version when c is the minor one. */
static int step_version(int s, int first, unsigned char c, unsigned char major, const char **why)
{
    if (!version_byte_ok(s - first, c)) return bad_byte(why, c, "invalid version");
    if (s == first + 7 && !version_digits_ok(major, c))
        return fail(why, HTTP_E_VERSION, "HTTP version not supported");
    return s + 1;
}

/* The first byte of the request-target: its form (RFC 9112 3.2). */
static int step_target0(unsigned char c, int connect, const char **why)
{
    if (connect) return is(c, C_AUTH) ? S_T_CONNECT : bad_byte(why, c, "invalid request-target");
    if (c == '/') return S_T_PATH;
    if (c == '*') return S_T_STAR;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return S_T_SCHEME;
    return bad_byte(why, c, "invalid request-target");
}

/* A byte of the request-target after its first. The structure is checked as the
 * bytes arrive, as http-parser does, so a malformed target fails at the byte that
 * breaks it; the finer rules (host names, ports, IPv6) wait for the end of the line,
 * where cora__http_parse_url sees the whole target. */
static int step_target(int s, unsigned char c, const char **why)
{
    if (c == ' ' &&
        (s == S_T_PATH || s == S_T_AUTH || s == S_T_HOST || s == S_T_CONNECT || s == S_T_STAR))
        return S_RQ_VER;
    switch (s) {
    case S_T_PATH:
        return is(c, C_VISIBLE) ? s : bad_byte(why, c, "invalid byte in the target");
    case S_T_SCHEME:
        if (c == ':') return S_T_SLASH1;
        return (c | 0x20) >= 'a' && (c | 0x20) <= 'z' ? s
                                                      : bad_byte(why, c, "invalid request-target");
    case S_T_SLASH1:
    case S_T_SLASH2:
        return c == '/' ? s + 1 : bad_byte(why, c, "invalid request-target");
    case S_T_AUTH0:
        return is(c, C_AUTH) ? (c == '@' ? S_T_HOST : S_T_AUTH)
                             : bad_byte(why, c, "invalid request-target");
    case S_T_AUTH:
    case S_T_HOST:
        if (c == '/' || c == '?') return S_T_PATH;
        if (c == '@')
            return s == S_T_AUTH ? S_T_HOST : fail(why, HTTP_E_BAD, "invalid request-target");
        return is(c, C_AUTH) ? s : bad_byte(why, c, "invalid request-target");
    case S_T_CONNECT:
        return is(c, C_AUTH) && c != '@' ? s : bad_byte(why, c, "invalid request-target");
    default: /* S_T_STAR */
        return bad_byte(why, c, "invalid request-target");
    }
}

/* One byte of the request line (after its first byte); `connect` tells whether the
 * method is CONNECT, which matters when the target starts. */
static int step_request_line(int s, unsigned char c, unsigned char major, int connect,
                             const char **why)
{
    switch (s) {
    case S_METHOD:
        if (c == ' ') return S_TARGET0;
        return is(c, C_TCHAR) ? s : bad_byte(why, c, "invalid byte in the method");
    case S_TARGET0:
        return step_target0(c, connect, why);
    case S_RQ_CR:
        return c == '\r' ? S_LINE_LF : bad_byte(why, c, "invalid version");
    default:
        if (s < S_RQ_VER) return step_target(s, c, why);
        return step_version(s, S_RQ_VER, c, major, why);
    }
}

/* One byte of the status line (after its first byte). */
static int step_status_line(int s, unsigned char c, unsigned char major, const char **why)
{
    if (s < S_RS_SP) return step_version(s, S_RS_VER, c, major, why);
    if (s == S_RS_SP) return c == ' ' ? S_STATUS : bad_byte(why, c, "invalid version");
    if (s < S_STATUS_END) return is_digit(c) ? s + 1 : bad_byte(why, c, "invalid status code");
    if (s == S_STATUS_END) {
        if (c == ' ') return S_REASON;
        return c == '\r' ? S_LINE_LF : bad_byte(why, c, "invalid status code");
    }
    /* S_REASON */
    if (c == '\r') return S_LINE_LF;
    return is(c, C_VALUE) ? s : bad_byte(why, c, "invalid byte in the reason phrase");
}

/* The first byte of a message, or of an empty line before it. */
static int step_start(const http_head_parser *p, int s, unsigned char c, const char **why)
{
    if (s == S_START_LF) return c == '\n' ? S_START : fail(why, HTTP_E_BAD, "bare CR");
    if (c == '\r') return S_START_LF;
    if (p->kind == HTTP_RESPONSE)
        return c == 'H' ? S_RS_VER + 1 : bad_byte(why, c, "invalid version");
    return is(c, C_TCHAR) ? S_METHOD : bad_byte(why, c, "invalid byte in the method");
}

/* A field name, judged at its colon: a framing field that conflicts with an earlier
 * one fails before its value arrives. Returns the state for the value. */
static int check_field_name(const http_head_parser *p, const char *name, size_t n, const char **why)
{
    if (span_is(name, n, "content-length")) {
        if (p->framing & SEEN_LENGTH) return fail(why, HTTP_E_BAD, "repeated Content-Length");
        if (p->framing & SEEN_TE)
            return fail(why, HTTP_E_BAD, "both Content-Length and Transfer-Encoding");
        return S_CL_OWS1;
    }
    if (span_is(name, n, "transfer-encoding") && (p->framing & SEEN_LENGTH))
        return fail(why, HTTP_E_BAD, "both Content-Length and Transfer-Encoding");
    return S_VALUE;
}

/* A byte of a Content-Length value: OWS 1*DIGIT OWS, checked as it arrives. The
 * state counts the significant digits, so a value of 2^63 or more fails at the digit
 * that makes it so: at the 19th the last 19 bytes are compared with INT64_MAX. */
static int step_length(int s, const char *buf, size_t i, const char **why)
{
    unsigned char c = (unsigned char)buf[i];
    if (is_digit(c) && s != S_CL_OWS2) {
        int k = s == S_CL_OWS1 ? 0 : s - S_CL_DIGIT;
        if (k == 0 && c == '0') return S_CL_DIGIT;
        if (++k == 19 && memcmp(buf + i - 18, "9223372036854775807", 19) > 0) k = 20;
        if (k == 20) return fail(why, HTTP_E_BAD, "invalid Content-Length");
        return S_CL_DIGIT + k;
    }
    if (is_ows(c)) return s == S_CL_OWS1 ? s : S_CL_OWS2;
    if (c == '\r' && s != S_CL_OWS1) return S_VALUE_LF;
    return bad_byte(why, c, "invalid Content-Length");
}

/* One byte of a field line or of the final CRLF. */
static int step_field(int s, unsigned char c, const char **why)
{
    switch (s) {
    case S_FIELD_START:
        if (c == '\r') return S_END_LF;
        if (is_ows(c)) return fail(why, HTTP_E_BAD, "obsolete line folding");
        return is(c, C_TCHAR) ? S_NAME : bad_byte(why, c, "invalid byte in a field name");
    case S_NAME:
        if (c == ':') return S_VALUE;
        if (is_ows(c)) return fail(why, HTTP_E_BAD, "whitespace before a colon");
        return is(c, C_TCHAR) ? S_NAME : bad_byte(why, c, "invalid byte in a field name");
    case S_VALUE:
        if (c == '\r') return S_VALUE_LF;
        return is(c, C_VALUE) ? S_VALUE : bad_byte(why, c, "invalid byte in a field value");
    case S_VALUE_LF:
    case S_LINE_LF:
        return c == '\n' ? S_FIELD_START : fail(why, HTTP_E_BAD, "bare CR");
    default: /* S_END_LF */
        return c == '\n' ? S_DONE : fail(why, HTTP_E_BAD, "bare CR");
    }
}

/* step() for a byte of a field line or of the final CRLF, with the checks of a whole
 * line once it ends (the start line, or a framing field) and the field count. */
static int step_field_line(http_head_parser *p, const char *buf, size_t i, const struct limits *l,
                           size_t cap, const char **why)
{
    unsigned char c = (unsigned char)buf[i];
    int s = p->state;
    if (s >= S_CL_OWS1 && s <= S_CL_OWS2) return step_length(s, buf, i, why);
    s = step_field(s, c, why);
    if (s < 0) return s;
    if (p->state == S_LINE_LF) {
        http_head tmp;
        int r = parse_start_line(p->kind, buf + p->line, i - 1 - p->line, &tmp, 1, why);
        if (r < 0) return r;
    } else if (p->state == S_VALUE_LF) {
        int r = check_field_line(p, buf + p->line, i - 1 - p->line, why);
        if (r < 0) return r;
    } else if (s == S_NAME && p->state == S_FIELD_START) {
        if (p->fields >= l->max_fields || p->fields >= cap)
            return fail(why, HTTP_E_HEADERS, "too many header fields");
        p->fields++;
        p->line = i;
    } else if (s == S_VALUE) {
        return check_field_name(p, buf + p->line, i - p->line, why);
    }
    return s;
}

/* Moves the state past buf[i]: the byte checked in its context, and the method
 * checked as it grows (so an unknown one fails before the line ends). */
static int step(http_head_parser *p, const char *buf, size_t i, const struct limits *l, size_t cap,
                const char **why)
{
    unsigned char c = (unsigned char)buf[i];
    int s = p->state;
    if (s == S_START || s == S_START_LF) {
        s = step_start(p, s, c, why);
        if (s == S_METHOD || s == S_RS_VER + 1) p->line = i;
    } else if (in_start_line(s)) {
        unsigned char major = i >= 2 ? (unsigned char)buf[i - 2] : 0;
        int connect =
            s == S_TARGET0 && i - 1 - p->line == 7 && !memcmp(buf + p->line, "CONNECT", 7);
        s = p->kind == HTTP_REQUEST ? step_request_line(s, c, major, connect, why)
                                    : step_status_line(s, c, major, why);
    } else {
        return step_field_line(p, buf, i, l, cap, why);
    }
    /* The method is judged byte by byte: a token that cannot become a known method
     * fails at once, as in the reference parsers. */
    if (s == S_METHOD && !known_method(buf + p->line, i + 1 - p->line, 0))
        return fail(why, HTTP_E_NOT_IMPL, "unknown method");
    if (s == S_TARGET0 && !known_method(buf + p->line, i - p->line, 1))
        return fail(why, HTTP_E_NOT_IMPL, "unknown method");
    return s;
}

/* Where a run of bytes of the current state's class ends, so that the long parts of
 * a head (target, reason, values, names) are skipped in a tight loop. */
static size_t skip_run(const http_head_parser *p, const char *buf, size_t i, size_t end,
                       const struct limits *l)
{
    unsigned cls;
    unsigned char stop = 0; /* a byte of the class that still needs step() */
    switch (p->state) {
    case S_METHOD:
        cls = C_TCHAR;
        break;
    case S_T_PATH:
        cls = C_VISIBLE;
        break;
    case S_T_AUTH:
    case S_T_CONNECT:
        cls = C_AUTH;
        stop = '@';
        break;
    case S_REASON:
    case S_VALUE:
        cls = C_VALUE;
        break;
    case S_NAME:
        cls = C_TCHAR;
        break;
    default:
        return i;
    }
    /* Stop at the line limit, where step() will judge the next byte. */
    if (in_start_line(p->state) && p->line + l->max_line < end) end = p->line + l->max_line;
    while (i < end && is((unsigned char)buf[i], cls) && (unsigned char)buf[i] != stop)
        i++;
    return i;
}

/* Scans buf[p->scanned..end). Returns the head's length once its final LF is seen, 0
 * if it needs more bytes, or an error. */
static ssize_t scan_head(http_head_parser *p, const char *buf, size_t end, const struct limits *l,
                         size_t cap, const char **why)
{
    size_t i = p->scanned;
    while (i < end) {
        size_t run = i;
        i = skip_run(p, buf, i, end, l);
        /* step() judges the method as it grows; after a run of it, judging the run
         * once is the same, since every prefix of a known method is a prefix too. */
        if (p->state == S_METHOD && i > run && !known_method(buf + p->line, i - p->line, 0)) {
            p->state = fail(why, HTTP_E_NOT_IMPL, "unknown method");
            return p->state;
        }
        /* The usual versions whole: what eight steps would conclude. */
        if (p->state == S_RQ_VER && end - i >= 8 && i + 8 - p->line <= l->max_line &&
            (!memcmp(buf + i, "HTTP/1.1", 8) || !memcmp(buf + i, "HTTP/1.0", 8))) {
            p->state = S_RQ_CR;
            i += 8;
        }
        if (i == end) break;
        if (in_start_line(p->state) && buf[i] != '\r' && i - p->line >= l->max_line) {
            int code = p->kind == HTTP_REQUEST ? HTTP_E_URI_TOO_LONG : HTTP_E_BAD;
            p->state = fail(why, code, "start line too long");
            return p->state;
        }
        int s = step(p, buf, i, l, cap, why);
        if (s < 0) {
            p->state = s;
            return s;
        }
        p->state = s;
        i++;
        if (s == S_DONE) {
            p->scanned = i;
            return (ssize_t)i;
        }
    }
    p->scanned = i;
    return 0;
}

/* ---- pass 2: the head as a whole ----------------------------------------------- */

/* Adds one field line (without its CRLF) to h->headers and notes its meaning. */
static int add_field(http_head *h, const char *line, size_t n, struct framing *fr, const char **why)
{
    if (h->nheaders >= h->headers_cap) return fail(why, HTTP_E_HEADERS, "too many header fields");
    cora_http_header *f = &h->headers[h->nheaders++];
    split_field(line, n, f);
    return interpret_field(f, h, fr, why);
}

/* The end of the line that starts at buf[i]; the scan guarantees its CRLF. */
static size_t line_end(const char *buf, size_t i, size_t end)
{
    const char *cr = memchr(buf + i, '\r', end - i);
    return (size_t)(cr - buf);
}

static ssize_t finish_head(const http_head_parser *p, const char *buf, size_t end, http_head *h,
                           const char **why)
{
    /* The start line follows any empty lines, each a CRLF (the scan saw to that). */
    size_t start = 0;
    while (buf[start] == '\r')
        start += 2;
    size_t eol = line_end(buf, start, end);
    h->method = h->target = h->reason = NULL;
    h->method_len = h->target_len = h->reason_len = 0;
    h->status = 0;
    h->nheaders = 0;
    h->flags = 0;
    h->content_length = 0;
    int r = parse_start_line(p->kind, buf + start, eol - start, h, 0, why);
    if (r < 0) return r;
    struct framing fr = {0};
    /* Field lines run up to the final CRLF, which sits at end - 2. */
    for (size_t i = eol + 2; i < end - 2;) {
        size_t e = line_end(buf, i, end);
        r = add_field(h, buf + i, e - i, &fr, why);
        if (r < 0) return r;
        i = e + 2;
    }
    r = settle_framing(p->kind, h, &fr, why);
    return r < 0 ? r : (ssize_t)end;
}

void cora__http_parser_init(http_head_parser *p, int kind)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->state = S_START;
}

ssize_t cora__http_parse_head(http_head_parser *p, const char *buf, size_t len,
                              const http_limits *lim, http_head *h, const char **why)
{
    struct limits l = {DEFAULT_MAX_LINE, DEFAULT_MAX_HEAD, DEFAULT_MAX_HEADERS};
    if (lim && lim->max_line) l.max_line = lim->max_line;
    if (lim && lim->max_head) l.max_head = lim->max_head;
    if (lim && lim->max_headers) l.max_fields = lim->max_headers;
    if (p->state < 0) return fail(why, p->state, "the head was already refused");
    if (p->state == S_DONE) return finish_head(p, buf, p->scanned, h, why);
    if (len < p->scanned) return fail(why, HTTP_E_BAD, "the buffer shrank");
    /* Never look past max_head bytes: a head that has not ended there is too large,
     * whatever follows. */
    size_t end = len < l.max_head ? len : l.max_head;
    ssize_t r = scan_head(p, buf, end, &l, h->headers ? h->headers_cap : 0, why);
    if (r == 0 && len > l.max_head) {
        p->state = fail(why, HTTP_E_HEADERS, "head too large");
        return p->state;
    }
    if (r <= 0) return r;
    r = finish_head(p, buf, (size_t)r, h, why);
    if (r < 0) p->state = (int)r;
    return r;
}

/* ---- framing helpers ----------------------------------------------------------- */

enum http_body cora__http_body_kind(const http_head *h, int kind, const char *req_method)
{
    if (kind == HTTP_REQUEST) {
        /* A CONNECT request has no content: after its head the tunnel begins. */
        if (is_method(h, "CONNECT")) return HTTP_BODY_NONE;
        if (h->flags & HTTP_F_CHUNKED) return HTTP_BODY_CHUNKED;
        return (h->flags & HTTP_F_HAS_LENGTH) ? HTTP_BODY_LENGTH : HTTP_BODY_NONE;
    }
    if (h->status < 200 || h->status == 204 || h->status == 304) return HTTP_BODY_NONE;
    if (req_method && strcmp(req_method, "HEAD") == 0) return HTTP_BODY_NONE;
    if (req_method && strcmp(req_method, "CONNECT") == 0 && h->status < 300) return HTTP_BODY_NONE;
    if (h->flags & HTTP_F_CHUNKED) return HTTP_BODY_CHUNKED;
    if (h->flags & HTTP_F_TE_OTHER) return HTTP_BODY_EOF;
    return (h->flags & HTTP_F_HAS_LENGTH) ? HTTP_BODY_LENGTH : HTTP_BODY_EOF;
}

int cora__http_keep_alive(const http_head *h)
{
    if (h->flags & HTTP_F_CLOSE) return 0;
    if (h->version >= 11) return 1;
    /* RFC 9112 6.1: Transfer-Encoding in an HTTP/1.0 message means its framing
     * cannot be trusted, so the connection closes after it. */
    if (h->flags & (HTTP_F_CHUNKED | HTTP_F_TE_OTHER)) return 0;
    return (h->flags & HTTP_F_KEEPALIVE) != 0;
}

const cora_http_header *cora__http_find_header(const http_head *h, const char *name)
{
    for (size_t i = 0; i < h->nheaders; i++)
        if (span_is(h->headers[i].name, h->headers[i].name_len, name)) return &h->headers[i];
    return NULL;
}

/* ---- chunked transfer coding -------------------------------------------------- */

/* Decoder states, in the order of RFC 9112 7.1:
 *   SIZE0 -hex-> SIZE [";" extensions] CR -> SIZE_LF -LF-> DATA -> DATA_CR -> DATA_LF -> SIZE0
 *   ... a zero size -> TR_START (trailer fields, like header fields) -CR-> END_LF -> DONE
 * Extensions are checked as strictly as llhttp does: no whitespace around ';' or '='.
 */
enum {
    K_SIZE0,
    K_SIZE,
    K_EXT_NAME0,
    K_EXT_NAME,
    K_EXT_VAL0,
    K_EXT_TOKEN,
    K_EXT_QUOTED,
    K_EXT_QESC,
    K_EXT_QEND,
    K_SIZE_LF,
    K_DATA,
    K_DATA_CR,
    K_DATA_LF,
    K_TR_START,
    K_TR_NAME,
    K_TR_VALUE,
    K_TR_LF,
    K_END_LF,
    K_DONE,
    K_ERROR,
};

void cora__http_chunked_init(http_chunked *d)
{
    memset(d, 0, sizeof(*d));
    d->state = K_SIZE0;
}

int cora__http_chunked_done(const http_chunked *d)
{
    return d->state == K_DONE;
}

/* A byte of the chunk size: at most 16 hex digits and below 2^63. */
static int chunk_size_digit(http_chunked *d, unsigned char c)
{
    int v = hex_value(c);
    if (v < 0) return -1;
    if (d->aux > 16 || d->remaining > (MAX_LENGTH - (uint64_t)v) / 16) return -1;
    d->remaining = d->remaining * 16 + (uint64_t)v;
    return K_SIZE;
}

/* A byte of the size line after the size: chunk extensions up to the CR. */
static int chunk_ext_byte(int s, unsigned char c)
{
    switch (s) {
    case K_SIZE:
    case K_EXT_NAME:
    case K_EXT_TOKEN:
    case K_EXT_QEND:
        if (c == ';') return K_EXT_NAME0;
        if (c == '\r') return K_SIZE_LF;
        if (s == K_EXT_NAME && c == '=') return K_EXT_VAL0;
        return (s == K_EXT_NAME || s == K_EXT_TOKEN) && is(c, C_TCHAR) ? s : -1;
    case K_EXT_NAME0:
        return is(c, C_TCHAR) ? K_EXT_NAME : -1;
    case K_EXT_VAL0:
        if (c == '"') return K_EXT_QUOTED;
        return is(c, C_TCHAR) ? K_EXT_TOKEN : -1;
    case K_EXT_QUOTED:
        if (c == '"') return K_EXT_QEND;
        if (c == '\\') return K_EXT_QESC;
        return is(c, C_QDTEXT) ? s : -1;
    default: /* K_EXT_QESC: quoted-pair */
        return is(c, C_VALUE) ? K_EXT_QUOTED : -1;
    }
}

/* The framing fields, which a trailer section may not carry (RFC 9110 6.5.1): a
 * parser that merged trailers into the head would frame the message anew. */
static const char *const framing_names[] = {"content-length", "transfer-encoding"};

/* While a trailer field's name arrives, `remaining` (idle in the trailer section)
 * tracks which framing names it still matches: bit k for framing_names[k], and the
 * name's length so far from bit 8 up. */
static void trailer_name_byte(http_chunked *d, unsigned char c, int first)
{
    uint64_t pos = first ? 0 : d->remaining >> 8, alive = first ? 3 : d->remaining & 0xff;
    for (unsigned k = 0; k < 2; k++)
        if (pos >= strlen(framing_names[k]) || framing_names[k][pos] != (char)lower(c))
            alive &= ~(1u << k);
    d->remaining = (pos + 1) << 8 | alive;
}

static int trailer_is_framing(const http_chunked *d)
{
    uint64_t pos = d->remaining >> 8;
    for (unsigned k = 0; k < 2; k++)
        if ((d->remaining & (1u << k)) && pos == strlen(framing_names[k])) return 1;
    return 0;
}

/* A byte of the trailer section, checked like a header field line. */
static int chunk_trailer_byte(http_chunked *d, int s, unsigned char c)
{
    switch (s) {
    case K_TR_START:
        if (c == '\r') return K_END_LF;
        if (!is(c, C_TCHAR)) return -1;
        trailer_name_byte(d, c, 1);
        return K_TR_NAME;
    case K_TR_NAME:
        if (c == ':') return trailer_is_framing(d) ? -1 : K_TR_VALUE;
        if (!is(c, C_TCHAR)) return -1;
        trailer_name_byte(d, c, 0);
        return s;
    case K_TR_VALUE:
        if (c == '\r') return K_TR_LF;
        return is(c, C_VALUE) ? s : -1;
    case K_TR_LF:
        return c == '\n' ? K_TR_START : -1;
    default: /* K_END_LF */
        return c == '\n' ? K_DONE : -1;
    }
}

/* Moves the decoder past one byte outside chunk data. */
static int chunk_step(http_chunked *d, unsigned char c)
{
    int s = d->state;
    if (s <= K_SIZE_LF) {
        if (++d->aux > MAX_SIZE_LINE) return -1;
        if (s == K_SIZE0 || (s == K_SIZE && hex_value(c) >= 0)) return chunk_size_digit(d, c);
        if (s != K_SIZE_LF) return chunk_ext_byte(s, c);
        if (c != '\n') return -1;
        d->aux = 0;
        return d->remaining ? K_DATA : K_TR_START;
    }
    if (s == K_DATA_CR) return c == '\r' ? K_DATA_LF : -1;
    if (s == K_DATA_LF) return c == '\n' ? K_SIZE0 : -1;
    size_t max = d->max_trailer ? d->max_trailer : DEFAULT_MAX_TRAILER;
    if (++d->aux > max) return -1;
    return chunk_trailer_byte(d, s, c);
}

ssize_t cora__http_chunked_decode(http_chunked *d, const char *buf, size_t len, const char **data,
                                  size_t *dlen)
{
    *data = NULL;
    *dlen = 0;
    size_t i = 0;
    while (i < len && d->state != K_DONE) {
        if (d->state == K_ERROR) return HTTP_E_BAD;
        if (d->state == K_DATA) {
            size_t n = len - i;
            if (n > d->remaining) n = (size_t)d->remaining;
            *data = buf + i;
            *dlen = n;
            d->remaining -= n;
            if (d->remaining == 0) d->state = K_DATA_CR;
            return (ssize_t)(i + n);
        }
        int s = chunk_step(d, (unsigned char)buf[i]);
        if (s < 0) {
            d->state = K_ERROR;
            return HTTP_E_BAD;
        }
        d->state = s;
        i++;
    }
    return d->state == K_ERROR ? HTTP_E_BAD : (ssize_t)i;
}

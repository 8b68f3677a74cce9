/* src/http/common.c: small pieces the HTTP server and client share: reason phrases,
 * a growable buffer, escapes, dates and content types. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/internal.h" /* cora__malloc: allocations the fault sweep can fail */

const char *cora_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 202:
        return "Accepted";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 303:
        return "See Other";
    case 304:
        return "Not Modified";
    case 307:
        return "Temporary Redirect";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 415:
        return "Unsupported Media Type";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 426:
        return "Upgrade Required";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "";
    }
}

/* ---- buffer --------------------------------------------------------------------- */

void cora__hbuf_reset(http_buf *b)
{
    b->len = 0;
    b->failed = 0;
}

void cora__hbuf_free(http_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

int cora__hbuf_reserve(http_buf *b, size_t extra)
{
    if (b->failed) return -ENOMEM;
    if (b->cap - b->len > extra) return 0; /* always room for a NUL too */
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    char *d = cora__realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return -ENOMEM;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void cora__hbuf_add(http_buf *b, const void *p, size_t n)
{
    if (cora__hbuf_reserve(b, n) < 0) return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cora__hbuf_str(http_buf *b, const char *s)
{
    cora__hbuf_add(b, s, strlen(s));
}

void cora__hbuf_fmt(http_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        cora__hbuf_add(b, small, (size_t)n);
        return;
    }
    if (cora__hbuf_reserve(b, (size_t)n) < 0) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ---- strings -------------------------------------------------------------------- */

int cora__http_ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

int cora__http_valid_name(const char *s)
{
    if (!s || !*s) return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s)) return 0;
    return 1;
}

int cora__http_valid_value(const char *s)
{
    if (!s) return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 0;
    return 1;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (unsigned char)tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

ssize_t cora__http_unescape(const char *src, size_t len, char *dst, int plus)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (i + 2 >= len) return -1;
            int hi = hexval((unsigned char)src[i + 1]), lo = hexval((unsigned char)src[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            if (c == '\0') return -1;
            i += 2;
        } else if (plus && c == '+') {
            c = ' ';
        }
        dst[o++] = c;
    }
    dst[o] = '\0';
    return (ssize_t)o;
}

/* ---- dates ---------------------------------------------------------------------- */

static const char wdays[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void cora__http_date(time_t t, char out[30])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Years past 9999 would not fit the format; HTTP dates never need them. */
    if (tm.tm_year > 8099) tm.tm_year = 8099;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7],
             tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
    memcpy(out, tmp, 29);
    out[29] = '\0';
}

int cora__http_parse_date(const char *s, time_t *t)
{
    char wd[4], mon[4];
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int n = 0;
    if (sscanf(s, "%3s %d %3s %d %d:%d:%d GMT%n", wd, &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 7 ||
        n == 0)
        return -1;
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mon, months[i]) == 0) tm.tm_mon = i;
    if (tm.tm_mon < 0) return -1;
    tm.tm_year -= 1900;
    *t = timegm(&tm);
    return *t == (time_t)-1 ? -1 : 0;
}

/* ---- content types -------------------------------------------------------------- */

const char *cora__http_content_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"csv", "text/csv; charset=utf-8"},
        {"xml", "application/xml"},
        {"svg", "image/svg+xml"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"pdf", "application/pdf"},
        {"zip", "application/zip"},
        {"gz", "application/gzip"},
        {"tar", "application/x-tar"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
        {"mp3", "audio/mpeg"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
    };
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot && dot[1])
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    return "application/octet-stream";
}

/* src/http/parser.h: the HTTP/1.1 message parser (RFC 9112), internal to cora.
 *
 * Pure, zero-copy and restartable, in the manner of picohttpparser: functions of
 * (buffer, limits) that return how many bytes they consumed, "incomplete" or an error.
 * Every pointer they hand out points into the caller's buffer; they know nothing of
 * sockets or loops. A parser remembers how far it already scanned, so feeding a head
 * one byte at a time (a slowloris client) costs linear time, not quadratic.
 *
 * Strict where RFC 9112 allows a recipient to be: bare LF and bare CR line endings,
 * obsolete line folding, whitespace before a header's colon, invalid token or field
 * value bytes, both Content-Length and Transfer-Encoding, a bad or
 * repeated-and-different Content-Length, and anything but "chunked" last in a request's
 * Transfer-Encoding are all refused rather than guessed at (request smuggling
 * defences). Errors are negated HTTP status codes, so a server can answer them as is.
 *
 * Functions are cora__http_* so that nothing clashes with libhttp-parser (http_*), which
 * the differential test links beside cora.
 */
#ifndef CORA_HTTP_PARSER_H
#define CORA_HTTP_PARSER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cora/http.h" /* cora_http_header */

enum http_kind { HTTP_REQUEST = 0, HTTP_RESPONSE = 1 };

/* Errors: the negated status a server answers with. A client maps any of them to
 * -EPROTO. */
enum {
    HTTP_E_BAD = -400,          /* malformed */
    HTTP_E_TOO_LARGE = -413,    /* body over the limit (the caller checks lengths) */
    HTTP_E_URI_TOO_LONG = -414, /* request line longer than max_line */
    HTTP_E_HEADERS = -431,      /* head longer than max_head, or too many fields */
    HTTP_E_NOT_IMPL = -501,     /* a transfer coding other than chunked */
    HTTP_E_VERSION = -505,      /* HTTP/2.0, HTTP/3.1...: a version we do not speak */
};

typedef struct http_limits {
    size_t max_line;    /* request or status line, CRLF excluded; 0: 8 KiB */
    size_t max_head;    /* the whole head, final CRLF CRLF included; 0: 16 KiB */
    size_t max_headers; /* header fields; 0: 100 */
} http_limits;

/* Flags in http_head.flags, derived from the header fields. */
enum {
    HTTP_F_CHUNKED = 1u << 0,    /* Transfer-Encoding ends in chunked */
    HTTP_F_CLOSE = 1u << 1,      /* Connection: close */
    HTTP_F_KEEPALIVE = 1u << 2,  /* Connection: keep-alive (matters for HTTP/1.0) */
    HTTP_F_UPGRADE = 1u << 3,    /* Connection: upgrade and an Upgrade field */
    HTTP_F_CONTINUE = 1u << 4,   /* Expect: 100-continue */
    HTTP_F_TE_OTHER = 1u << 5,   /* Transfer-Encoding present, chunked not last
                                    (allowed in a response only: read until close) */
    HTTP_F_HAS_LENGTH = 1u << 6, /* a Content-Length field (content_length is set) */
};

typedef struct http_head {
    /* Request line (requests). */
    const char *method;
    size_t method_len;
    const char *target;
    size_t target_len;
    /* Status line (responses). */
    int status; /* 100..999 */
    const char *reason;
    size_t reason_len;
    /* Both. */
    int version; /* 10 or 11 (HTTP/1.0, HTTP/1.1) */
    cora_http_header *headers; /* in: caller's array; out: the fields in order, names
                                  as sent, values without surrounding whitespace */
    size_t headers_cap;        /* in: room in headers (fields beyond it: -431) */
    size_t nheaders;           /* out */
    uint64_t content_length;   /* valid when HTTP_F_HAS_LENGTH */
    unsigned flags;
} http_head;

/* The state that makes a head parse restartable. Zero it (or cora__http_parser_init) before
 * the first call of each message. */
typedef struct http_head_parser {
    size_t scanned; /* bytes already checked for the end of the head */
    int kind;       /* HTTP_REQUEST or HTTP_RESPONSE */
    /* Internal: where the scan of buf[0..scanned) left off, so that each byte is
     * checked once, in its context, as it arrives (an invalid byte fails at once). */
    int state;        /* position in the grammar, or the HTTP_E_* error once found */
    size_t line;      /* offset of the line being scanned */
    size_t fields;    /* header fields begun so far */
    unsigned framing; /* Content-Length / Transfer-Encoding fields seen so far */
} http_head_parser;

void cora__http_parser_init(http_head_parser *p, int kind);

/* Parses one head from buf[0..len), which holds everything received so far for this
 * message (the same bytes as last call, perhaps more). Returns the head's length in
 * bytes (> 0, the CRLF CRLF included) with *h filled, 0 when more bytes are needed,
 * or an HTTP_E_* error. Once len exceeds the limits with no end of line or head in
 * sight it fails at once (-414 or -431) rather than waiting for more.
 * `why`, when not NULL, gets a static string describing an error. */
ssize_t cora__http_parse_head(http_head_parser *p, const char *buf, size_t len, const http_limits *lim,
                        http_head *h, const char **why);

/* How the body that follows a head is framed (RFC 9112 section 6.3). For a response,
 * req_method is the method of the request it answers ("HEAD" and CONNECT-2xx have no
 * body); NULL for requests. */
enum http_body { HTTP_BODY_NONE, HTTP_BODY_LENGTH, HTTP_BODY_CHUNKED, HTTP_BODY_EOF };
enum http_body cora__http_body_kind(const http_head *h, int kind, const char *req_method);

/* Whether the connection may carry another message after this one: HTTP/1.1 without
 * Connection: close, or HTTP/1.0 with Connection: keep-alive. */
int cora__http_keep_alive(const http_head *h);

/* The first field named `name` (case-insensitive), or NULL. */
const cora_http_header *cora__http_find_header(const http_head *h, const char *name);

/* ---- chunked transfer coding ----------------------------------------------------- */

typedef struct http_chunked {
    int state;
    uint64_t remaining;   /* data bytes left in the current chunk */
    size_t aux;           /* bytes seen in the current size line / trailer section */
    size_t max_trailer;   /* 0: 16 KiB of trailer fields */
} http_chunked;

void cora__http_chunked_init(http_chunked *d);

/* Decodes from buf[0..len). Returns the bytes consumed (>= 0), or HTTP_E_BAD. When the
 * consumed bytes include chunk data, *data and *dlen give it (a span inside buf; the
 * call stops after one span so the caller can take it); otherwise *dlen is 0. Returns
 * with everything consumed and no data when it needs more bytes. Chunk extensions
 * are checked and skipped; trailer fields are checked and dropped. */
ssize_t cora__http_chunked_decode(http_chunked *d, const char *buf, size_t len, const char **data,
                            size_t *dlen);

/* Non-zero once the last chunk and the trailer section are consumed. */
int cora__http_chunked_done(const http_chunked *d);

/* ---- URLs ------------------------------------------------------------------------ */

/* A split absolute URL ("http://user@host:port/path?query#frag") or, for CONNECT,
 * an authority ("host:port"). Spans point into the input; absent parts have len 0
 * (and ptr NULL). port is 0 when the URL names none. IPv6 literals are returned
 * without their brackets. */
typedef struct http_span {
    const char *ptr;
    size_t len;
} http_span;

typedef struct http_url {
    http_span scheme, userinfo, host, path, query, fragment;
    int port;
} http_url;

/* Splits url[0..len). Also accepts an origin-form target ("/path?query") with no
 * scheme or host. Returns 0, or -EINVAL for anything malformed (bytes outside visible
 * ASCII, a bad port, an empty host after "//", ...). */
int cora__http_parse_url(const char *url, size_t len, int is_connect, http_url *out);

#endif

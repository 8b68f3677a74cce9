/* src/http/internal.h: what the HTTP server and client share (src/http/common.c). */
#ifndef CORA_HTTP_INTERNAL_H
#define CORA_HTTP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cora/http.h"

/* A growable byte buffer. Out of memory is remembered (failed) and reported once, at
 * the end, so building a message needs no check after every append. */
typedef struct http_buf {
    char *data;
    size_t len, cap;
    int failed;
} http_buf;

void cora__hbuf_reset(http_buf *b);
void cora__hbuf_free(http_buf *b);
int cora__hbuf_reserve(http_buf *b, size_t extra);
void cora__hbuf_add(http_buf *b, const void *p, size_t n);
void cora__hbuf_str(http_buf *b, const char *s);
void cora__hbuf_fmt(http_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Case-insensitive comparison of a counted string with a C string. */
int cora__http_ieq(const char *a, size_t alen, const char *b);

/* Whether a header name or value may go on the wire as given: a token, and a value of
 * visible bytes, spaces and tabs (no CR or LF: header injection). */
int cora__http_valid_name(const char *s);
int cora__http_valid_value(const char *s);

/* Percent-decodes src[0..len) into dst (room for len + 1 bytes), NUL-terminated.
 * `plus` turns '+' into a space (query strings). Returns the decoded length, or -1
 * for a bad escape or an encoded NUL. */
ssize_t cora__http_unescape(const char *src, size_t len, char *dst, int plus);

/* The IMF-fixdate of t ("Sun, 06 Nov 1994 08:49:37 GMT"): 29 bytes and a NUL. */
void cora__http_date(time_t t, char out[30]);
/* Parses an IMF-fixdate. Returns 0 with *t set, or -1. */
int cora__http_parse_date(const char *s, time_t *t);

/* A content type for a file name, from its extension ("application/octet-stream"
 * when unknown). */
const char *cora__http_content_type(const char *path);

/* Server: hands a request's connection over to another protocol (the WebSocket
 * upgrade). Sends `head`, a complete response head (101 Switching Protocols), and
 * marks the request answered and its connection to close once the handler returns.
 * Sets *s to the connection's stream, which the server still owns and closes after the
 * handler, and moves the bytes that came after the request head into *early
 * (malloc'd, *nearly bytes; NULL when none). Returns 0, or -EBUSY when the request
 * was already answered or has a body, or a write error. */
typedef struct cora_stream cora_stream;
int cora__http_upgrade(cora_http_req *req, const char *head, size_t len, cora_stream **s,
                       char **early, size_t *nearly);

#endif

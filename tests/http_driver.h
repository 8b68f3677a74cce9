/* tests/http_driver.h: drives cora's HTTP parser over a byte stream, as a connection
 * would, for the parser tests, the differential test and the fuzz targets.
 *
 * A stream may hold several pipelined messages: the driver parses a head, then the
 * body its framing announces (by length, chunked, or up to the end of the input),
 * then the next head, and stops at an upgrade (CONNECT, 101, or an accepted Upgrade
 * request) or after a message that closes the connection (bytes after it are an
 * error). The input arrives in steps: each call of drv_feed() sees all the bytes
 * received so far, perhaps at a new address, as a socket buffer that was moved.
 * What it saw is written to a drv_outcome, whose strings are copies, so outcomes of
 * differently split feeds can be compared field by field.
 */
#ifndef CORA_TEST_HTTP_DRIVER_H
#define CORA_TEST_HTTP_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "../src/http/parser.h"

#define DRV_MAX_MSGS 16
#define DRV_MAX_FIELDS 256

typedef struct drv_field {
    char *name, *value;
    size_t name_len, value_len;
} drv_field;

typedef struct drv_msg {
    char *method, *target, *reason;
    size_t method_len, target_len, reason_len;
    int status, version;
    unsigned flags;
    uint64_t content_length;
    drv_field *fields;
    size_t nfields;
    char *body;
    size_t body_len, body_cap;
    int body_kind;  /* enum http_body */
    int keep_alive; /* cora__http_keep_alive, and a body that does not end at EOF */
    int complete;   /* the whole body arrived */
} drv_msg;

typedef struct drv_outcome {
    int error;        /* 0 or the HTTP_E_* that stopped the stream */
    const char *why;  /* the parser's description of the error */
    size_t error_at;  /* bytes received when the error was seen */
    size_t nmsgs;     /* heads parsed (the first DRV_MAX_MSGS are in msgs) */
    size_t ncomplete; /* messages whose body fully arrived */
    drv_msg msgs[DRV_MAX_MSGS];
    int upgraded;          /* the stream switched protocols (or became a tunnel) */
    size_t upgrade_at;     /* where the bytes of the new protocol start */
    int partial;           /* input ended inside a head */
    size_t framed_no_body; /* 1xx/204/304 responses with Content-Length or Transfer-Encoding */
} drv_outcome;

typedef struct drv_opts {
    int kind;           /* HTTP_REQUEST or HTTP_RESPONSE */
    int skip_body;      /* treat every body as absent (a response to HEAD) */
    http_limits limits; /* zero: the defaults */
    size_t headers_cap; /* zero: DRV_MAX_FIELDS */
    size_t max_trailer; /* zero: the decoder's default */
} drv_opts;

typedef struct drv {
    drv_opts opts;
    int phase;
    size_t pos; /* offset of the first byte not consumed yet */
    uint64_t left;
    http_head_parser hp;
    http_chunked ch;
    cora_http_header fields[DRV_MAX_FIELDS];
    drv_outcome out;
} drv;

void drv_init(drv *d, const drv_opts *opts);
/* buf[0..recv) holds every byte received so far (recv never shrinks). */
void drv_feed(drv *d, const char *buf, size_t recv);
void drv_outcome_free(drv_outcome *o);

/* A buffer whose end touches a PROT_NONE page, so that reading one byte past what
 * was placed there faults. */
typedef struct guard {
    char *base;
    size_t size; /* usable bytes before the guard page */
} guard;

void guard_init(guard *g, size_t capacity);
void guard_free(guard *g);
/* Copies data[0..n) so that its last byte is the last readable one; returns where. */
char *guard_place(guard *g, const char *data, size_t n);

/* Feeds input[0..n) in steps ending at steps[0] < steps[1] < ... < n (the last step is
 * always n, added if missing), into a fresh driver. When `move` is set, every step
 * copies the bytes received so far right before the guard page (so an over-read of
 * even a partial buffer faults); otherwise the input sits there once, whole. */
void drv_run(const drv_opts *opts, const char *input, size_t n, const size_t *steps, size_t nsteps,
             int move, guard *g, drv_outcome *out);

/* NULL when a and b are equal in verdict and in every field, else what differs. */
const char *drv_outcome_diff(const drv_outcome *a, const drv_outcome *b);

/* Validates what the parser handed out against the contract in parser.h: spans
 * inside buf[0..len), counts within their caps, flags coherent. NULL when fine. */
const char *drv_check_head(const http_head *h, int kind, const char *buf, size_t len, ssize_t ret,
                           const http_limits *lim);

#endif

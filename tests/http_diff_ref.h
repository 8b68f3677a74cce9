/* tests/http_diff_ref.h: Debian's libhttp-parser 2.9.4 as a reference parser.
 *
 * Its header declares HTTP_REQUEST, HTTP_RESPONSE and http_* names that clash with
 * cora's parser.h, so it is wrapped in its own translation unit (http_diff_ref.c)
 * behind this neutral interface.
 */
#ifndef CORA_TEST_HTTP_DIFF_REF_H
#define CORA_TEST_HTTP_DIFF_REF_H

#include <stddef.h>

#define REF_MAX_MSGS 16

typedef struct ref_field {
    char *name, *value;
    size_t name_len, value_len;
} ref_field;

typedef struct ref_msg {
    const char *method; /* http_method_str, static */
    char *url, *reason;
    size_t url_len, reason_len;
    int status, version;
    ref_field *fields;
    size_t nfields, fields_cap;
    int field_done; /* the last callback was a value: the next name starts a field */
    char *body;
    size_t body_len, body_cap;
    int keep_alive; /* http_should_keep_alive() when the message completed */
    int chunked;    /* F_CHUNKED was set */
    int complete;
} ref_msg;

typedef struct ref_outcome {
    int error;              /* 0, or the http_errno that stopped the parser */
    const char *error_name; /* http_errno_name() */
    size_t error_at;        /* bytes the parser consumed before the error */
    size_t nmsgs;           /* heads completed */
    size_t ncomplete;
    ref_msg msgs[REF_MAX_MSGS];
    int upgraded;
    size_t upgrade_at;
    int head_pending; /* a head completed whose message has not */
} ref_outcome;

/* Parses data[0..len) whole as requests (response 0) or responses; skip_body makes
 * on_headers_complete answer "no body" (a response to HEAD). */
void ref_run(int response, int skip_body, const char *data, size_t len, ref_outcome *out);
void ref_free(ref_outcome *o);

/* http_parser_parse_url: 0 when the URL parses; parts as offsets into url. */
typedef struct ref_url {
    int ok;
    size_t off[7], len[7]; /* schema, host, port, path, query, fragment, userinfo */
    unsigned present;      /* bit i: part i is there */
    unsigned port;
} ref_url;
void ref_parse_url(const char *url, size_t len, int is_connect, ref_url *out);

#endif

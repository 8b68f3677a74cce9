/* tests/test_http_parser.c: cora's HTTP/1.1 parser against the conformance vectors
 * of http-parser and llhttp (tests/vectors/), plus unit cases for its limits, its
 * strictness and its cost when fed one byte at a time.
 *
 * Every vector is fed three ways: whole, one byte at a time (a growing buffer, the
 * same parser state), and split in two at every position. Each time the bytes
 * received so far are copied so that they end right before a PROT_NONE page, so a
 * read of even one byte past what arrived faults. All feeds must reach the same
 * outcome, and that outcome must match the vector: same verdict, and for accepted
 * messages the same method, target, status, version, fields, de-chunked body,
 * Content-Length, keep-alive and upgrade.
 *
 * cora is stricter than both references where RFC 9112 lets a recipient be: every
 * entry that http-parser accepts only in a lenient build (needs_lenient), or that
 * llhttp's strict mode refuses (llhttp_strict_error, strict_error), must be refused.
 * The few other differences are listed in `deviations` below with their reasons.
 */
#include "harness_pure.h"

#include <errno.h>
#include <stdlib.h>

#include "http_driver.h"
#include "http_vectors.h"

/* Inputs up to this size are copied before the guard page at every step; larger ones
 * (the generated megabyte bodies) sit there once, whole, to keep the run short. */
#define MOVE_LIMIT (16 * 1024)
/* Inputs up to this size are split at every position, larger ones at 257 places. */
#define SPLIT_LIMIT (16 * 1024)
/* Inputs up to this size are fed one byte at a time, larger ones in 7919-byte steps. */
#define BYTEWISE_LIMIT (256 * 1024)

static guard g_guard;
static size_t g_guard_cap;

static guard *guard_for(size_t n)
{
    if (n > g_guard_cap) {
        if (g_guard.base) guard_free(&g_guard);
        g_guard_cap = n < 65536 ? 65536 : n;
        guard_init(&g_guard, g_guard_cap);
    }
    return &g_guard;
}

/* ---- feeding one input every way ------------------------------------------------- */

typedef struct feed_result {
    drv_outcome whole;
    size_t error_at; /* bytes received when the byte-at-a-time feed saw the error */
    int mismatches;  /* feeds whose outcome differed from the whole one */
} feed_result;

static int compare_feed(const char *label, const drv_outcome *whole, drv_outcome *other,
                        const char *how, size_t at)
{
    const char *d = drv_outcome_diff(whole, other);
    if (d) printf("  %s: %s (split %zu) differs from the whole feed in %s\n", label, how, at, d);
    drv_outcome_free(other);
    return d != NULL;
}

static void feed_all_ways(const drv_opts *o, const char *in, size_t n, const char *label,
                          feed_result *fr)
{
    guard *g = guard_for(n);
    int move = n <= MOVE_LIMIT;
    memset(fr, 0, sizeof(*fr));
    drv_run(o, in, n, NULL, 0, 1, g, &fr->whole);

    size_t stride = n <= BYTEWISE_LIMIT ? 1 : 7919;
    size_t nsteps = n / stride + 1;
    size_t *steps = malloc(nsteps * sizeof(size_t));
    for (size_t i = 0; i < nsteps; i++)
        steps[i] = (i + 1) * stride;
    drv_outcome o2;
    drv_run(o, in, n, steps, nsteps, move, g, &o2);
    fr->error_at = o2.error_at;
    fr->mismatches += compare_feed(label, &fr->whole, &o2, "byte-at-a-time feed", 0);
    free(steps);

    size_t npos = n <= SPLIT_LIMIT ? (n ? n - 1 : 0) : 257;
    for (size_t i = 0; i < npos && fr->mismatches < 3; i++) {
        size_t at = n <= SPLIT_LIMIT ? i + 1 : (i + 1) * (n / (npos + 1));
        drv_run(o, in, n, &at, 1, move, g, &o2);
        fr->mismatches += compare_feed(label, &fr->whole, &o2, "two-part feed", at);
    }
}

/* ---- per-file bookkeeping ---------------------------------------------------------- */

typedef struct tally {
    const char *file;
    int checked, accepted, refused, deviations, failures;
    int early, late; /* refusals at or before the offending byte, and after it */
} tally;

static void report(const tally *t)
{
    printf("%s: %d vectors checked: %d accepted, %d refused as expected, %d known "
           "deviations; refusals at the offending byte %d, later %d; %d failures\n",
           t->file, t->checked, t->accepted, t->refused, t->deviations, t->early, t->late,
           t->failures);
}

static void problem(tally *t, const json_t *e, const char *what)
{
    printf("  FAIL %s: \"%s\": %s\n", t->file, vec_name(e), what);
    t->failures++;
}

/* The byte-at-a-time feed must have refused the input no later than the end of the
 * line that holds the offending byte (a framing field is judged as a whole when its
 * line ends); the tally counts how many were refused right at that byte. */
static void note_error_offset(tally *t, const json_t *e, const json_t *err, const char *in,
                              size_t n, size_t error_at)
{
    const json_t *off = json_object_get(err, "offset");
    if (!json_is_integer(off)) return;
    size_t o = (size_t)json_integer_value(off);
    if (error_at <= o + 1) {
        t->early++;
        return;
    }
    t->late++;
    if (getenv("CORA_TEST_VERBOSE"))
        printf("  late: \"%s\" refused at %zu, offending byte %zu\n", vec_name(e), error_at, o);
    const char *lf = o < n ? memchr(in + o, '\n', n - o) : NULL;
    size_t bound = lf ? (size_t)(lf - in) + 1 : n;
    if (error_at > bound) problem(t, e, "refused later than the end of the offending line");
}

/* ---- checking a message against an http-parser entry ------------------------------ */

static int hp_version(const json_t *e)
{
    const json_t *v = json_object_get(e, "version");
    return (int)(json_integer_value(json_array_get(v, 0)) * 10 +
                 json_integer_value(json_array_get(v, 1)));
}

static const char *hp_fields(const json_t *e, const drv_msg *m)
{
    const json_t *hs = json_object_get(e, "headers");
    size_t want = json_array_size(hs);
    /* http-parser lists trailer fields after the head's; cora checks and drops them. */
    if (want < m->nfields || (want > m->nfields && m->body_kind != HTTP_BODY_CHUNKED))
        return "number of header fields";
    for (size_t i = 0; i < m->nfields; i++) {
        const json_t *pair = json_array_get(hs, i);
        const drv_field *f = &m->fields[i];
        if (!vec_equal(json_array_get(pair, 0), f->name, f->name_len)) return "field name";
        /* http-parser keeps trailing whitespace in a value; cora trims it. */
        if (!vec_equal_trimmed(json_array_get(pair, 1), f->value, f->value_len))
            return "field value";
    }
    return NULL;
}

static const char *hp_framing(const json_t *e, const drv_msg *m)
{
    const json_t *body = json_object_get(e, "body");
    const json_t *size = json_object_get(e, "body_size");
    if (json_is_string(body) && !vec_equal(body, m->body, m->body_len)) return "body";
    if (json_is_integer(size) && (size_t)json_integer_value(size) != m->body_len)
        return "body size";
    const json_t *cl = json_object_get(e, "content_length");
    if (json_is_integer(cl) != !!(m->flags & HTTP_F_HAS_LENGTH)) return "Content-Length presence";
    if (json_is_integer(cl) && (uint64_t)json_integer_value(cl) != m->content_length)
        return "Content-Length";
    if (json_is_true(json_object_get(e, "keep_alive")) != m->keep_alive) return "keep-alive";
    int eof = json_is_true(json_object_get(e, "message_complete_on_eof"));
    if (eof != (m->body_kind == HTTP_BODY_EOF)) return "body ending at EOF";
    if (!eof && !m->complete) return "message incomplete";
    return NULL;
}

static const char *hp_message(const json_t *e, int kind, const drv_outcome *o, const char *in,
                              size_t n)
{
    if (o->error) return "refused";
    if (o->nmsgs != 1) return "not exactly one message";
    const drv_msg *m = &o->msgs[0];
    if (kind == HTTP_REQUEST) {
        if (!vec_equal(json_object_get(e, "method"), m->method, m->method_len)) return "method";
        if (!vec_equal(json_object_get(e, "url"), m->target, m->target_len)) return "url";
    } else {
        if (json_integer_value(json_object_get(e, "status_code")) != m->status) return "status";
        if (!vec_equal(json_object_get(e, "reason"), m->reason, m->reason_len)) return "reason";
    }
    if (hp_version(e) != m->version) return "version";
    const char *bad = hp_fields(e, m);
    if (bad) return bad;
    int upgrade = json_is_true(json_object_get(e, "upgrade"));
    if (upgrade != o->upgraded) return "upgrade";
    if (upgrade &&
        !vec_equal(json_object_get(e, "upgrade_data"), in + o->upgrade_at, n - o->upgrade_at))
        return "upgrade data";
    return upgrade ? NULL : hp_framing(e, m);
}

/* Where cora's outcome differs from http-parser's for reasons other than strictness
 * about the same grammar. `refuse`: cora refuses the message; else cora accepts it
 * but hands on different bytes as upgrade data. */
static const struct hp_deviation {
    const char *file, *define; /* the entry's #define in test.c */
    int refuse;
    const char *why;
} hp_deviations[] = {
    {"http-parser-requests.json", "NO_HTTP_VERSION", 1,
     "HTTP/0.9 request line: cora speaks HTTP/1.0 and 1.1 only"},
    {"http-parser-requests.json", "SOURCE_ICE_REQUEST", 1, "ICE/1.0 is not HTTP"},
    {"http-parser-requests.json", "POST_MULTI_TE_LAST_CHUNKED", 1,
     "a transfer coding other than chunked: cora implements none and answers 501 "
     "(RFC 9112 6.1)"},
    {"http-parser-responses.json", "HTTP_VERSION_0_9", 1,
     "HTTP/0.9: 505, as for any version but 1.0/1.1"},
    {"http-parser-responses.json", "HTTP_101_RESPONSE_WITH_UPGRADE_HEADER_AND_CONTENT_LENGTH", 0,
     "a 1xx response ends with its head (RFC 9110 15.2): cora, like llhttp, hands the bytes "
     "after it on as the new protocol's, where http-parser 2.9.4 reads a body first"},
    {"http-parser-responses.json", "HTTP_101_RESPONSE_WITH_UPGRADE_HEADER_AND_TRANSFER_ENCODING", 0,
     "as above"},
};

static const struct hp_deviation *hp_deviation_of(const char *file, const json_t *e)
{
    for (size_t i = 0; i < sizeof(hp_deviations) / sizeof(hp_deviations[0]); i++)
        if (strcmp(hp_deviations[i].file, file) == 0 &&
            strcmp(hp_deviations[i].define, json_string_value(json_object_get(e, "define"))) == 0)
            return &hp_deviations[i];
    return NULL;
}

/* For a 101 whose body http-parser read: cora's upgrade data is that body and then
 * http-parser's upgrade data. */
static const char *hp_upgrade_deviation(const json_t *e, const drv_outcome *o, const char *in,
                                        size_t n)
{
    size_t un;
    char *u = vec_bytes(json_object_get(e, "upgrade_data"), &un);
    const char *bad = NULL;
    if (o->error || !o->upgraded)
        bad = "not upgraded";
    else if (n - o->upgrade_at < un || memcmp(in + n - un, u, un) != 0)
        bad = "upgrade data";
    free(u);
    return bad;
}

static int hp_must_refuse(const json_t *e)
{
    return json_array_size(json_object_get(e, "needs_lenient")) > 0 ||
           json_is_object(json_object_get(e, "llhttp_strict_error")) ||
           json_is_true(json_object_get(e, "expect_error"));
}

static void check_verdict(tally *t, const json_t *e, const feed_result *fr, int refuse,
                          const char *in, size_t n)
{
    t->checked++;
    if (fr->mismatches) problem(t, e, "the outcome depends on how the input was split");
    if (refuse && !fr->whole.error) problem(t, e, "accepted, but must be refused");
    if (refuse && fr->whole.error) {
        t->refused++;
        const json_t *err = json_object_get(e, "llhttp_strict_error");
        if (!err) err = json_object_get(e, "strict_error");
        if (json_is_object(err)) note_error_offset(t, e, err, in, n, fr->error_at);
    }
    if (!refuse && fr->whole.error) {
        char msg[256];
        snprintf(msg, sizeof(msg), "refused (%d, %s), but must be accepted", fr->whole.error,
                 fr->whole.why);
        problem(t, e, msg);
    }
    if (!refuse && !fr->whole.error) t->accepted++;
}

static void run_hp_messages(const char *file, int kind)
{
    tally t = {.file = file};
    json_t *all = vec_load(file);
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *in = vec_input(e, &n);
        drv_opts o = {.kind = kind};
        feed_result fr;
        feed_all_ways(&o, in, n, vec_name(e), &fr);
        const struct hp_deviation *dev = hp_deviation_of(file, e);
        int refuse = hp_must_refuse(e) || (dev && dev->refuse);
        check_verdict(&t, e, &fr, refuse, in, n);
        const char *bad = NULL;
        if (dev) {
            t.deviations++;
            if (!dev->refuse) bad = hp_upgrade_deviation(e, &fr.whole, in, n);
        } else if (!refuse) {
            bad = hp_message(e, kind, &fr.whole, in, n);
        }
        if (bad) problem(&t, e, bad);
        drv_outcome_free(&fr.whole);
        free(in);
    }
    json_decref(all);
    report(&t);
    assert_int_equal(t.checked, (int)i);
    assert_int_equal(t.failures, 0);
}

static void http_parser_requests(void **state)
{
    run_hp_messages("http-parser-requests.json", HTTP_REQUEST);
}

static void http_parser_responses(void **state)
{
    run_hp_messages("http-parser-responses.json", HTTP_RESPONSE);
}

/* http-parser's one-shot inputs: `expect_error` or a strict llhttp error must be
 * refused; the valid near-misses must be accepted with as many complete messages. */
static void http_parser_invalid(void **state)
{
    tally t = {.file = "http-parser-invalid.json"};
    json_t *all = vec_load(t.file);
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *in = vec_input(e, &n);
        const char *type = json_string_value(json_object_get(e, "type"));
        drv_opts o = {.kind = strcmp(type, "response") == 0 ? HTTP_RESPONSE : HTTP_REQUEST};
        feed_result fr;
        feed_all_ways(&o, in, n, vec_name(e), &fr);
        int refuse = hp_must_refuse(e);
        check_verdict(&t, e, &fr, refuse, in, n);
        size_t want = (size_t)json_integer_value(json_object_get(e, "messages_complete"));
        if (!refuse && fr.whole.ncomplete != want) problem(&t, e, "number of complete messages");
        drv_outcome_free(&fr.whole);
        free(in);
    }
    json_decref(all);
    report(&t);
    assert_int_equal(t.checked, (int)i);
    assert_int_equal(t.failures, 0);
}

/* ---- llhttp ------------------------------------------------------------------------- */

/* Where cora's verdict differs from llhttp's strict mode for reasons other than
 * strictness about the same grammar. cora refuses all of these. */
static const struct deviation {
    const char *file;
    int line;
    const char *why;
} deviations[] = {
    {"test/request/sample.md", 314, "HTTP/0.9 request line: cora speaks HTTP/1.0 and 1.1 only"},
    {"test/request/method.md", 372, "ICE/1.0 is not HTTP"},
    {"test/request/method.md", 400, "RTSP/1.0 is not HTTP"},
    {"test/request/method.md", 430, "RTSP/1.0 is not HTTP"},
    {"test/request/method.md", 458,
     "PRI, the HTTP/2 preface: an unknown method (501) to an HTTP/1.1 parser"},
    {"test/request/method.md", 482,
     "QUERY: a method newer than libhttp-parser 2.9.4 (which refuses it); cora answers 501"},
    {"test/request/uri.md", 188,
     "'_' in a CONNECT host: http-parser's strict build refuses it (its `hostname underscore` "
     "entry needs_lenient)"},
    {"test/request/transfer-encoding.md", 751,
     "a transfer coding other than chunked: cora implements none and answers 501 "
     "(RFC 9112 6.1)"},
    {"test/request/transfer-encoding.md", 793, "as above"},
    {"test/response/sample.md", 40, "RTSP/1.0 is not HTTP"},
    {"test/response/sample.md", 60, "ICE/1.0 is not HTTP"},
    {"test/response/sample.md", 645, "HTTP/0.9: 505, as for any version but 1.0/1.1"},
};

static const struct deviation *deviation_of(const json_t *e)
{
    const char *file = json_string_value(json_object_get(e, "file"));
    int line = (int)json_integer_value(json_object_get(e, "line"));
    for (size_t i = 0; i < sizeof(deviations) / sizeof(deviations[0]); i++)
        if (strcmp(deviations[i].file, file) == 0 && deviations[i].line == line)
            return &deviations[i];
    return NULL;
}

static int has_flag(const json_t *flags, const char *name)
{
    size_t i;
    json_t *f;
    json_array_foreach(flags, i, f) if (strcmp(json_string_value(f), name) == 0) return 1;
    return 0;
}

/* llhttp's flags, mapped to cora's: its UPGRADE means an Upgrade field alone, cora's
 * means Connection: upgrade as well. */
static unsigned ll_flags(const json_t *m)
{
    const json_t *fl = json_object_get(m, "flags");
    unsigned f = 0;
    if (has_flag(fl, "CONNECTION_CLOSE")) f |= HTTP_F_CLOSE;
    if (has_flag(fl, "CONNECTION_KEEP_ALIVE")) f |= HTTP_F_KEEPALIVE;
    if (has_flag(fl, "CONNECTION_UPGRADE") && has_flag(fl, "UPGRADE")) f |= HTTP_F_UPGRADE;
    if (has_flag(fl, "CHUNKED")) f |= HTTP_F_CHUNKED;
    if (has_flag(fl, "CONTENT_LENGTH")) f |= HTTP_F_HAS_LENGTH;
    if (has_flag(fl, "TRANSFER_ENCODING") && !has_flag(fl, "CHUNKED")) f |= HTTP_F_TE_OTHER;
    return f;
}

static const char *ll_fields(const json_t *m, const drv_msg *c)
{
    const json_t *hs = json_object_get(m, "headers");
    size_t want = json_array_size(hs);
    /* llhttp lists trailer fields after the head's; cora checks and drops them. */
    if (want < c->nfields || (want > c->nfields && c->body_kind != HTTP_BODY_CHUNKED))
        return "number of header fields";
    for (size_t i = 0; i < c->nfields; i++) {
        const json_t *pair = json_array_get(hs, i);
        if (!vec_equal(json_array_get(pair, 0), c->fields[i].name, c->fields[i].name_len))
            return "field name";
        if (!vec_equal_trimmed(json_array_get(pair, 1), c->fields[i].value, c->fields[i].value_len))
            return "field value";
    }
    return NULL;
}

static const char *ll_head(const json_t *m, int kind, const drv_msg *c)
{
    if (!json_is_true(json_object_get(m, "headers_complete"))) return "head not complete there";
    if (kind == HTTP_REQUEST) {
        if (!vec_equal(json_object_get(m, "method"), c->method, c->method_len)) return "method";
        if (!vec_equal(json_object_get(m, "url"), c->target, c->target_len)) return "url";
    } else {
        if (json_integer_value(json_object_get(m, "status_code")) != c->status) return "status";
        const json_t *r = json_object_get(m, "reason");
        if (r && !vec_equal(r, c->reason, c->reason_len)) return "reason";
    }
    const char *v = json_string_value(json_object_get(m, "version"));
    if (!v || v[0] != '1' || v[1] != '.' || (v[2] - '0') + 10 != c->version) return "version";
    if (ll_flags(m) != c->flags) return "flags";
    if ((c->flags & HTTP_F_HAS_LENGTH) &&
        (uint64_t)json_integer_value(json_object_get(m, "content_length")) != c->content_length)
        return "Content-Length";
    return ll_fields(m, c);
}

static const char *ll_message(const json_t *m, int kind, const drv_msg *c)
{
    const char *bad = ll_head(m, kind, c);
    if (bad) return bad;
    const json_t *body = json_object_get(m, "body");
    if (body ? !vec_equal(body, c->body, c->body_len) : c->body_len != 0) return "body";
    if (json_is_true(json_object_get(m, "complete")) != c->complete) return "complete";
    return NULL;
}

/* Every head cora parsed must be llhttp's, in order; for accepted streams also the
 * number of messages, their completeness and the upgrade. */
static const char *ll_outcome(const json_t *e, int kind, const drv_outcome *o, const char *in,
                              size_t n)
{
    const json_t *msgs = json_object_get(e, "messages");
    size_t heads = 0, i;
    json_t *m;
    json_array_foreach(msgs, i, m) heads += json_is_true(json_object_get(m, "headers_complete"));
    if (o->nmsgs > json_array_size(msgs)) return "more messages than llhttp saw";
    for (i = 0; i < o->nmsgs && i < DRV_MAX_MSGS; i++) {
        m = json_array_get(msgs, i);
        const char *bad =
            o->error ? ll_head(m, kind, &o->msgs[i]) : ll_message(m, kind, &o->msgs[i]);
        if (bad) return bad;
    }
    if (o->error) return NULL;
    if (o->nmsgs != heads) return "number of heads";
    if ((size_t)json_integer_value(json_object_get(e, "messages_complete")) != o->ncomplete)
        return "number of complete messages";
    const json_t *up = json_object_get(e, "upgrade");
    if (json_is_object(up) != o->upgraded) return "upgrade";
    if (o->upgraded &&
        !vec_equal(json_object_get(up, "data"), in + o->upgrade_at, n - o->upgrade_at))
        return "upgrade data";
    return NULL;
}

static void run_llhttp(const char *file)
{
    tally t = {.file = file};
    json_t *all = vec_load(file);
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *in = vec_input(e, &n);
        const char *mode = json_string_value(json_object_get(e, "mode"));
        const json_t *harness = json_object_get(e, "harness");
        drv_opts o = {.kind = strncmp(mode, "response", 8) == 0 ? HTTP_RESPONSE : HTTP_REQUEST,
                      .skip_body = json_is_true(json_object_get(harness, "skipBody"))};
        feed_result fr;
        feed_all_ways(&o, in, n, vec_name(e), &fr);
        const struct deviation *dev = deviation_of(e);
        int refuse = dev || json_is_object(json_object_get(e, "strict_error"));
        check_verdict(&t, e, &fr, refuse, in, n);
        if (dev && fr.whole.error) t.deviations++;
        const char *bad = dev ? NULL : ll_outcome(e, o.kind, &fr.whole, in, n);
        if (bad) problem(&t, e, bad);
        drv_outcome_free(&fr.whole);
        free(in);
    }
    json_decref(all);
    report(&t);
    assert_int_equal(t.checked, (int)i);
    assert_int_equal(t.failures, 0);
}

static void llhttp_requests(void **state)
{
    run_llhttp("llhttp-requests.json");
}

static void llhttp_responses(void **state)
{
    run_llhttp("llhttp-responses.json");
}

/* ---- URLs ------------------------------------------------------------------------------ */

static int span_equal(const json_t *want, const http_span *s)
{
    if (!want) return s->len == 0;
    return vec_equal(want, s->ptr, s->len);
}

/* A URL that splits must also be accepted as the target of a request line, and one
 * that does not must be refused there: the head parser uses the same rules. */
static const char *url_in_request(const char *u, size_t n, int is_connect, int valid)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f) return NULL;
    if (n == 0) return NULL;
    char req[1024];
    int len = snprintf(req, sizeof(req), "%s %.*s HTTP/1.1\r\n\r\n", is_connect ? "CONNECT" : "GET",
                       (int)n, u);
    http_head_parser p;
    cora__http_parser_init(&p, HTTP_REQUEST);
    http_head h = {0};
    ssize_t r = cora__http_parse_head(&p, req, (size_t)len, NULL, &h, NULL);
    if (valid && r != len) return "valid URL refused in a request line";
    if (!valid && r >= 0) return "invalid URL accepted in a request line";
    return NULL;
}

static const char *hp_url(const json_t *e, const char *u, size_t n)
{
    int is_connect = json_is_true(json_object_get(e, "is_connect"));
    int valid = json_is_true(json_object_get(e, "valid"));
    const char *p = u ? guard_place(guard_for(n), u, n) : NULL;
    http_url out;
    int r = cora__http_parse_url(p, n, is_connect, &out);
    if ((r == 0) != valid) return valid ? "refused" : "accepted";
    const char *bad = u ? url_in_request(u, n, is_connect, valid) : NULL;
    if (bad || !valid) return bad;
    const json_t *parts = json_object_get(e, "parts");
    static const char *keys[] = {"schema", "userinfo", "host", "path", "query", "fragment"};
    const http_span *spans[] = {&out.scheme, &out.userinfo, &out.host,
                                &out.path,   &out.query,    &out.fragment};
    for (size_t k = 0; k < 6; k++)
        if (!span_equal(json_object_get(parts, keys[k]), spans[k])) return keys[k];
    const json_t *port = json_object_get(e, "port_number");
    if ((json_is_integer(port) ? json_integer_value(port) : 0) != out.port) return "port";
    return NULL;
}

static void http_parser_urls(void **state)
{
    tally t = {.file = "http-parser-urls.json"};
    json_t *all = vec_load(t.file);
    size_t i, valid = 0;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n = 0;
        char *u = vec_bytes(json_object_get(e, "url"), &n);
        const char *bad = hp_url(e, u, n);
        if (bad) problem(&t, e, bad);
        valid += json_is_true(json_object_get(e, "valid"));
        t.checked++;
        free(u);
    }
    json_decref(all);
    t.accepted = (int)valid;
    t.refused = t.checked - (int)valid;
    report(&t);
    assert_int_equal(t.checked, (int)i);
    assert_int_equal(t.failures, 0);
}

/* llhttp reports the whole authority ("user@host:port", brackets kept) as `host`. */
static const char *ll_url(const json_t *e, const char *u, size_t n)
{
    int valid = !json_is_true(json_object_get(e, "expect_error"));
    http_url out;
    int r = cora__http_parse_url(guard_place(guard_for(n), u, n), n, 0, &out);
    if ((r == 0) != valid) return valid ? "refused" : "accepted";
    const char *bad = url_in_request(u, n, 0, valid);
    if (bad || !valid) return bad;
    const json_t *parts = json_object_get(e, "parts");
    static const char *keys[] = {"schema", "path", "query", "fragment"};
    const http_span *spans[] = {&out.scheme, &out.path, &out.query, &out.fragment};
    for (size_t k = 0; k < 4; k++)
        if (!span_equal(json_object_get(parts, keys[k]), spans[k])) return keys[k];
    const json_t *host = json_object_get(parts, "host");
    if (!host) return out.host.len ? "host" : NULL;
    size_t a = out.scheme.len + 3, z = a;
    while (z < n && u[z] != '/' && u[z] != '?' && u[z] != '#')
        z++;
    if (!vec_equal(host, u + a, z - a)) return "authority";
    if (out.host.ptr < guard_place(guard_for(n), u, n) + a) return "host outside the authority";
    return NULL;
}

static void llhttp_urls(void **state)
{
    tally t = {.file = "llhttp-urls.json"};
    json_t *all = vec_load(t.file);
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *u = vec_input(e, &n);
        const char *bad = ll_url(e, u, n);
        if (bad) problem(&t, e, bad);
        t.checked++;
        if (json_is_true(json_object_get(e, "expect_error")))
            t.refused++;
        else
            t.accepted++;
        free(u);
    }
    json_decref(all);
    report(&t);
    assert_int_equal(t.checked, (int)i);
    assert_int_equal(t.failures, 0);
}

/* ---- unit cases: one head, fed in steps ------------------------------------------------ */

static cora_http_header g_fields[256];

static void head_init(http_head *h, http_head_parser *p, int kind)
{
    memset(h, 0, sizeof(*h));
    h->headers = g_fields;
    h->headers_cap = 256;
    cora__http_parser_init(p, kind);
}

/* Parses s whole, guarded; returns the parser's result. */
static ssize_t parse_whole(int kind, const char *s, size_t n, const http_limits *lim, http_head *h)
{
    http_head_parser p;
    head_init(h, &p, kind);
    return cora__http_parse_head(&p, guard_place(guard_for(n), s, n), n, lim, h, NULL);
}

/* Feeds s[0..n) one byte at a time; returns the result of the last call and, in
 * *at, how many bytes had arrived when the result stopped being 0. */
static ssize_t parse_bytewise(int kind, const char *s, size_t n, const http_limits *lim, size_t *at)
{
    http_head_parser p;
    http_head h;
    head_init(&h, &p, kind);
    ssize_t r = 0;
    for (size_t k = 1; k <= n; k++) {
        r = cora__http_parse_head(&p, guard_place(guard_for(n), s, k), k, lim, &h, NULL);
        if (r != 0) {
            *at = k;
            return r;
        }
    }
    *at = n;
    return r;
}

/* A request line that never ends: 414 once it exceeds max_line, not later. */
static void limit_request_line(void **state)
{
    size_t n = 20 * 1024;
    char *s = malloc(n);
    memset(s, 'a', n);
    memcpy(s, "GET /", 5);
    http_head h;
    assert_int_equal(parse_whole(HTTP_REQUEST, s, 8192, NULL, &h), 0);
    assert_int_equal(parse_whole(HTTP_REQUEST, s, 8193, NULL, &h), HTTP_E_URI_TOO_LONG);
    size_t at;
    assert_int_equal(parse_bytewise(HTTP_REQUEST, s, n, NULL, &at), HTTP_E_URI_TOO_LONG);
    assert_int_equal(at, 8193);
    /* A custom limit, and a status line: 400 rather than 414. */
    http_limits lim = {.max_line = 100};
    assert_int_equal(parse_bytewise(HTTP_REQUEST, s, n, &lim, &at), HTTP_E_URI_TOO_LONG);
    assert_int_equal(at, 101);
    memcpy(s, "HTTP/1.1 200 ", 13);
    assert_int_equal(parse_bytewise(HTTP_RESPONSE, s, n, &lim, &at), HTTP_E_BAD);
    assert_int_equal(at, 101);
    /* Exactly max_line bytes is fine. */
    const char *ok = "GET /aaaaa HTTP/1.1\r\n\r\n";
    lim.max_line = 19;
    assert_int_equal(parse_whole(HTTP_REQUEST, ok, strlen(ok), &lim, &h), (ssize_t)strlen(ok));
    lim.max_line = 18;
    assert_int_equal(parse_whole(HTTP_REQUEST, ok, strlen(ok), &lim, &h), HTTP_E_URI_TOO_LONG);
    free(s);
}

/* A 20 KiB field line with no CRLF: 431 as soon as the head passes 16 KiB. */
static void limit_head(void **state)
{
    size_t n = 20 * 1024;
    char *s = malloc(n);
    memset(s, 'v', n);
    memcpy(s, "GET / HTTP/1.1\r\nX: ", 19);
    http_head h;
    assert_int_equal(parse_whole(HTTP_REQUEST, s, 16384, NULL, &h), 0);
    assert_int_equal(parse_whole(HTTP_REQUEST, s, 16385, NULL, &h), HTTP_E_HEADERS);
    size_t at;
    assert_int_equal(parse_bytewise(HTTP_REQUEST, s, n, NULL, &at), HTTP_E_HEADERS);
    assert_int_equal(at, 16385);
    /* In 1 KiB steps, the first step past the limit fails. */
    http_head_parser p;
    head_init(&h, &p, HTTP_REQUEST);
    ssize_t r = 0;
    size_t k;
    for (k = 1024; k <= n && r == 0; k += 1024)
        r = cora__http_parse_head(&p, guard_place(guard_for(n), s, k), k, NULL, &h, NULL);
    assert_int_equal(r, HTTP_E_HEADERS);
    assert_int_equal(k - 1024, 17 * 1024);
    /* A head of exactly max_head bytes passes; one more byte does not. */
    http_limits lim = {.max_head = 25};
    const char *ok = "GET / HTTP/1.1\r\nA: bcd\r\n\r\n"; /* 26 bytes */
    assert_int_equal(parse_whole(HTTP_REQUEST, ok, 26, &lim, &h), HTTP_E_HEADERS);
    lim.max_head = 26;
    assert_int_equal(parse_whole(HTTP_REQUEST, ok, 26, &lim, &h), 26);
    free(s);
}

/* Too many fields: 431 when the first byte of the field over the limit arrives. */
static void limit_fields(void **state)
{
    char s[4096];
    size_t n = (size_t)sprintf(s, "GET / HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        n += (size_t)sprintf(s + n, "a%d: b\r\n", i);
    size_t before_last = n - strlen("a100: b\r\n");
    n += (size_t)sprintf(s + n, "\r\n");
    size_t at;
    assert_int_equal(parse_bytewise(HTTP_REQUEST, s, n, NULL, &at), HTTP_E_HEADERS);
    assert_int_equal(at, before_last + 1);
    /* 100 fields are fine. */
    http_head h;
    char *t = strdup(s);
    memcpy(t + before_last, "\r\n", 2);
    assert_int_equal(parse_whole(HTTP_REQUEST, t, before_last + 2, NULL, &h),
                     (ssize_t)before_last + 2);
    assert_int_equal(h.nheaders, 100);
    /* A custom limit, and a caller's array with less room. */
    http_limits lim = {.max_headers = 3};
    assert_int_equal(parse_whole(HTTP_REQUEST, t, before_last + 2, &lim, &h), HTTP_E_HEADERS);
    http_head_parser p;
    head_init(&h, &p, HTTP_REQUEST);
    h.headers_cap = 5;
    assert_int_equal(cora__http_parse_head(&p, t, before_last + 2, NULL, &h, NULL), HTTP_E_HEADERS);
    assert_int_equal(p.fields, 5);
    free(t);
}

/* A slowloris client sends a 16 KiB head one byte per call. Each call must look only
 * at the new byte: after every call `scanned` equals the bytes received, and every
 * byte already scanned is overwritten with NUL (invalid anywhere in a head), so a
 * parser that looked back at them would fail. The original bytes come back just
 * before the final byte, for the one full pass over the finished head. */
static void slowloris_linear(int kind, const char *start, size_t field_len)
{
    size_t cap = 16 * 1024 - 64, n = strlen(start);
    char *s = malloc(cap + 64);
    memcpy(s, start, n);
    size_t line_end = n;
    for (int i = 0; n + field_len + 4 < cap && i < 99; i++) {
        n += (size_t)sprintf(s + n, "x-field-%02d: ", i);
        size_t v = field_len - 16;
        memset(s + n, 'v', v);
        n += v;
        memcpy(s + n, "\r\n", 2);
        n += 2;
    }
    memcpy(s + n, "\r\n", 2);
    n += 2;
    char *work = malloc(n);
    http_head_parser p;
    http_head h;
    head_init(&h, &p, kind);
    size_t total = 0;
    memcpy(work, s, line_end);
    for (size_t k = line_end; k < n; k++) {
        work[k] = s[k];
        if (k == n - 1) memcpy(work, s, n);
        size_t before = p.scanned;
        ssize_t r = cora__http_parse_head(&p, work, k + 1, NULL, &h, NULL);
        total += p.scanned - before;
        if (k < n - 1) {
            assert_int_equal(r, 0);
            assert_int_equal(p.scanned, k + 1);
            if (k + 1 > line_end + 3) memset(work + line_end, 0, k + 1 - 3 - line_end);
        } else {
            assert_int_equal(r, (ssize_t)n);
        }
    }
    /* Each byte was scanned exactly once over all the calls. */
    assert_int_equal(total, n);
    assert_true(n > 14 * 1024);
    assert_true(h.nheaders > 0);
    free(work);
    free(s);
}

static void slowloris(void **state)
{
    /* Many short fields, a few long ones, and a response head. */
    slowloris_linear(HTTP_REQUEST, "GET / HTTP/1.1\r\n", 160);
    slowloris_linear(HTTP_REQUEST, "POST /upload HTTP/1.1\r\n", 5000);
    slowloris_linear(HTTP_RESPONSE, "HTTP/1.1 200 OK\r\n", 200);
}

/* ---- unit cases: strictness ------------------------------------------------------------ */

/* An input and the error it must give. `prefix` is the part that is fine so far;
 * when `early` is set the error must come with the first byte after it. */
typedef struct bad_case {
    int kind;
    const char *prefix, *rest;
    ssize_t code;
    int early;
} bad_case;

#define RQ HTTP_REQUEST
#define RS HTTP_RESPONSE

static const bad_case bad_cases[] = {
    /* Framing that smuggling relies on. */
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding", ": chunked\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length", ": 5\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length", ": 5\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length", ": 6\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length", ": 5\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 5", ", 5\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r", "\n", -400, 0},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: ", "abc\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: ", "-1\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: ", "+5\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 0", "x10\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 4 ", "2\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length:", "\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 922337203685477580", "8\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 0001000000000000000000", "0\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nContent-Length: 1844674407370955161", "6\r\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r", "\n", -501, 0},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r", "\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r", "\n\r\n",
     -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r", "\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r", "\n\r\n",
     -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r", "\n", -400, 0},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunkedchunked\r\n\r", "\n", -400, 0},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;a=b\r", "\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r", "\n", -400, 0},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: , chunked\r", "\n\r\n", -400, 1},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n\r", "\n", -400, 0},
    {RQ, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\t\r", "\n\r\n", -400, 1},
    {RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r", "\n\r\n", -400, 1},
    /* Line endings and folding. */
    {RQ, "GET / HTTP/1.1\r\nX: a\r\n", " b\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a\r\n", "\tb\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r", "X: a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a\r", "Y: b\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a\r\n\r", "\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1", "\nX: a\n\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a", "\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a\r\n", "\n", -400, 1},
    {RQ, "", "\nGET / HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "\r", "GET / HTTP/1.1\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 200 OK\r\nX: a\r\n", " b\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 200 OK", "\nX: a\r\n\r\n", -400, 1},
    /* Field names and values. */
    {RQ, "GET / HTTP/1.1\r\nX", " : a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX", "\t: a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\n", ": a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nF", "@o: a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nF", "\x01o: a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nF", "\xc3o: a\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a", "\x7f\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a", "\x01\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a", "\x1b\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX: a", "\v\r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.1\r\nX", "\r\n\r\n", -400, 1},
    /* Request lines. */
    {RQ, "GET / HTTP/2.0\r", "\n\r\n", -505, 1},
    {RQ, "GET / HTTP/1.2\r", "\n\r\n", -505, 1},
    {RQ, "GET / HTTP/0.9\r", "\n\r\n", -505, 1},
    {RQ, "PRI", " * HTTP/2.0\r\n\r\nSM\r\n\r\n", -501, 1},
    {RQ, "GET / HTTP/", "10.0\r\n\r\n", -400, 0},
    {RQ, "GET / HTTP/1.1", " \r\n\r\n", -400, 1},
    {RQ, "GET / HTTP/1.", "x\r\n\r\n", -400, 1},
    {RQ, "GET / H", "TTPS/1.1\r\n\r\n", -400, 0},
    {RQ, "GET / ", "http/1.1\r\n\r\n", -400, 1},
    {RQ, "GET /", "\r\n\r\n", -400, 1},
    {RQ, "GET ", " / HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET /", "\xce\xb4 HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET /", "\t HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "G", "@T / HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "", " GET / HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "", "FOO / HTTP/1.1\r\n\r\n", -501, 1},
    {RQ, "GE", "X / HTTP/1.1\r\n\r\n", -501, 1},
    {RQ, "GET", "S / HTTP/1.1\r\n\r\n", -501, 1},
    {RQ, "", "get / HTTP/1.1\r\n\r\n", -501, 1},
    {RQ, "GET http://a_b/ HTTP/1.1\r", "\n\r\n", -400, 1},
    {RQ, "GET hostname:", "443 HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET ", "0/ HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET http://a@b", "@c/ HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET http://host", "#f HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET http://", "/x HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET *", "x HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "GET http://a:99999/ HTTP/1.1\r", "\n\r\n", -400, 1},
    {RQ, "CONNECT ", "/ HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "CONNECT a", "/b HTTP/1.1\r\n\r\n", -400, 1},
    {RQ, "CONNECT host HTTP/1.1\r", "\n\r\n", -400, 1},
    /* Status lines. */
    {RS, "HTTP/1.1 2", "0 OK\r\n\r\n", -400, 0},
    {RS, "HTTP/1.1 20", " OK\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 ", " 200 OK\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 099 Low\r", "\n\r\n", -400, 1},
    {RS, "HTTP/1.1 2000", " OK\r\n\r\n", -400, 1},
    {RS, "HTTP/2.0 200 OK\r", "\n\r\n", -505, 1},
    {RS, "HTTP/1.1", "\t200 OK\r\n\r\n", -400, 1},
    {RS, "", "RTSP/1.0 200 OK\r\n\r\n", -400, 1},
    {RS, "HTTP/1.1 200 O", "\x01K\r\n\r\n", -400, 1},
};

/* Each bad head must give its error: whole, and byte by byte no later than the first
 * byte of `rest` when the error is about a byte (else at the end of the head). */
static void strictness(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const bad_case *c = &bad_cases[i];
        char s[512];
        size_t pn = strlen(c->prefix),
               n = (size_t)snprintf(s, sizeof(s), "%s%s", c->prefix, c->rest);
        http_head h;
        size_t at;
        ssize_t whole = parse_whole(c->kind, s, n, NULL, &h);
        ssize_t bytewise = parse_bytewise(c->kind, s, n, NULL, &at);
        size_t bound = c->early ? pn + 1 : n;
        if (whole != c->code || bytewise != c->code || at > bound)
            printf("case %zu (%s|%s): whole %zd, bytewise %zd at %zu, want %zd by %zu\n", i,
                   c->prefix, c->rest, whole, bytewise, at, c->code, bound);
        assert_int_equal(whole, c->code);
        assert_int_equal(bytewise, c->code);
        assert_true(at <= bound);
    }
}

/* Heads that must be accepted, with what they must give. */
static void accepted_heads(void **state)
{
    http_head h;
    const char *s = "\r\n\r\nGET /a?b#c HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive, Upgrade\r\n"
                    "Upgrade: websocket\r\nExpect: 100-Continue\r\nX-Empty:\r\nX-Ws: \t a b \t\r\n"
                    "Content-Length: 0005\r\n\r\n";
    assert_int_equal(parse_whole(RQ, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.method_len, 3);
    assert_memory_equal(h.method, "GET", 3);
    assert_int_equal(h.target_len, 6);
    assert_memory_equal(h.target, "/a?b#c", 6);
    assert_int_equal(h.version, 10);
    assert_int_equal(h.nheaders, 7);
    assert_int_equal(h.headers[4].value_len, 0);
    assert_int_equal(h.headers[5].value_len, 3);
    assert_memory_equal(h.headers[5].value, "a b", 3);
    assert_int_equal(h.flags,
                     HTTP_F_KEEPALIVE | HTTP_F_UPGRADE | HTTP_F_CONTINUE | HTTP_F_HAS_LENGTH);
    assert_int_equal(h.content_length, 5);
    assert_true(cora__http_keep_alive(&h));
    assert_int_equal(cora__http_body_kind(&h, RQ, NULL), HTTP_BODY_LENGTH);
    assert_ptr_equal(cora__http_find_header(&h, "content-LENGTH"), &h.headers[6]);
    assert_null(cora__http_find_header(&h, "Content-Len"));

    s = "HTTP/1.1 200\r\n\r\n";
    assert_int_equal(parse_whole(RS, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.status, 200);
    assert_int_equal(h.reason_len, 0);
    s = "HTTP/1.1 404 \r\n\r\n";
    assert_int_equal(parse_whole(RS, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.status, 404);
    assert_int_equal(h.reason_len, 0);
    s = "HTTP/1.0 500 Ori\xc3\xabntatie probleem\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_int_equal(parse_whole(RS, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.reason_len, strlen("Ori\xc3\xabntatie probleem"));
    assert_int_equal(h.flags, HTTP_F_TE_OTHER);
    assert_int_equal(cora__http_body_kind(&h, RS, "GET"), HTTP_BODY_EOF);
    assert_int_equal(cora__http_body_kind(&h, RS, "HEAD"), HTTP_BODY_NONE);
    assert_false(cora__http_keep_alive(&h));

    s = "OPTIONS * HTTP/1.1\r\n\r\n";
    assert_int_equal(parse_whole(RQ, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    s = "CONNECT [::1]:443 HTTP/1.1\r\nContent-Length: 3\r\n\r\n";
    assert_int_equal(parse_whole(RQ, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(cora__http_body_kind(&h, RQ, NULL), HTTP_BODY_NONE);
    s = "POST http://u:p@example.com:8080/x HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n";
    assert_int_equal(parse_whole(RQ, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.flags, HTTP_F_CHUNKED);
    assert_int_equal(cora__http_body_kind(&h, RQ, NULL), HTTP_BODY_CHUNKED);
    s = "POST / HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n";
    assert_int_equal(parse_whole(RQ, s, strlen(s), NULL, &h), (ssize_t)strlen(s));
    assert_int_equal(h.content_length, (uint64_t)INT64_MAX);
}

/* Framing and keep-alive decisions (RFC 9112 6.3, 9.3). */
static void framing_rules(void **state)
{
    static const struct {
        int kind;
        const char *head, *req_method;
        enum http_body body;
        int keep_alive;
    } cases[] = {
        {RQ, "GET / HTTP/1.1\r\n\r\n", NULL, HTTP_BODY_NONE, 1},
        {RQ, "GET / HTTP/1.0\r\n\r\n", NULL, HTTP_BODY_NONE, 0},
        {RQ, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", NULL, HTTP_BODY_NONE, 0},
        {RQ, "GET / HTTP/1.1\r\nConnection: x, CLOSE\r\n\r\n", NULL, HTTP_BODY_NONE, 0},
        {RQ, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n",
         NULL, HTTP_BODY_CHUNKED, 0},
        {RS, "HTTP/1.1 200 OK\r\n\r\n", "GET", HTTP_BODY_EOF, 1},
        {RS, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD", HTTP_BODY_NONE, 1},
        {RS, "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", "GET", HTTP_BODY_NONE, 1},
        {RS, "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET",
         HTTP_BODY_NONE, 1},
        {RS, "HTTP/1.1 100 Continue\r\n\r\n", "POST", HTTP_BODY_NONE, 1},
        {RS, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "CONNECT", HTTP_BODY_NONE, 1},
        {RS, "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", "CONNECT", HTTP_BODY_LENGTH, 1},
        {RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", NULL, HTTP_BODY_EOF, 1},
        {RS, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", NULL, HTTP_BODY_CHUNKED,
         1},
        {RS, "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", NULL,
         HTTP_BODY_LENGTH, 1},
        {RS, "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\n\r\n", NULL, HTTP_BODY_EOF, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_head h;
        size_t n = strlen(cases[i].head);
        assert_int_equal(parse_whole(cases[i].kind, cases[i].head, n, NULL, &h), (ssize_t)n);
        if (cora__http_body_kind(&h, cases[i].kind, cases[i].req_method) != cases[i].body ||
            cora__http_keep_alive(&h) != cases[i].keep_alive)
            printf("framing case %zu: %s", i, cases[i].head);
        assert_int_equal(cora__http_body_kind(&h, cases[i].kind, cases[i].req_method),
                         cases[i].body);
        assert_int_equal(cora__http_keep_alive(&h), cases[i].keep_alive);
    }
}

/* An error sticks: later calls with more bytes return it again. */
static void errors_stick(void **state)
{
    const char *s = "GET / HTTP/1.1\r\nX: \x01\r\n\r\n";
    http_head_parser p;
    http_head h;
    head_init(&h, &p, RQ);
    const char *why = NULL;
    assert_int_equal(cora__http_parse_head(&p, s, 21, NULL, &h, &why), HTTP_E_BAD);
    assert_non_null(why);
    assert_int_equal(cora__http_parse_head(&p, s, strlen(s), NULL, &h, NULL), HTTP_E_BAD);
}

/* ---- unit cases: chunked ---------------------------------------------------------------- */

/* Decodes s in steps of `step` bytes (0: whole); returns 1 when done, 0 when more is
 * needed, -1 on error; the data goes to out. */
static int dechunk(const char *s, size_t n, size_t step, size_t max_trailer, char *out,
                   size_t *olen, size_t *err_at)
{
    http_chunked d;
    cora__http_chunked_init(&d);
    d.max_trailer = max_trailer;
    size_t pos = 0, recv = 0;
    *olen = 0;
    while (recv < n) {
        recv = step && recv + step < n ? recv + step : n;
        while (pos < recv && !cora__http_chunked_done(&d)) {
            const char *buf = guard_place(guard_for(n), s, recv), *data;
            size_t dlen;
            ssize_t r = cora__http_chunked_decode(&d, buf + pos, recv - pos, &data, &dlen);
            if (r < 0) {
                *err_at = recv;
                return -1;
            }
            if (dlen) memcpy(out + *olen, data, dlen);
            *olen += dlen;
            pos += (size_t)r;
        }
        if (cora__http_chunked_done(&d)) return pos == n ? 1 : 2;
    }
    return 0;
}

static const struct chunk_case {
    const char *in;
    int result; /* 1 done, 0 incomplete, -1 error */
    const char *body;
} chunk_cases[] = {
    {"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 1, "hello world"},
    {"5;a=b;c;d=\"x\\\"y;z\"\r\nhello\r\n0;e\r\n\r\n", 1, "hello"},
    {"A\r\n0123456789\r\n000\r\nVary: *\r\nX:\r\n\r\n", 1, "0123456789"},
    {"7fffffffffffffff\r\nab", 0, "ab"},
    {"0000000000000001\r\nx\r\n0\r\n\r\n", 1, "x"},
    {"00000000000000001\r\nx\r\n0\r\n\r\n", -1, ""},
    {"8000000000000000\r\n", -1, ""},
    {"ffffffffffffffff\r\n", -1, ""},
    {"10000000000000000\r\n", -1, ""},
    {"5 \r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5 ;a\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5; a\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5;a =b\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5;a= b\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5;\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5;a=\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5;a=\"b\r\nhello\r\n0\r\n\r\n", -1, ""},
    {"5\nhello\r\n0\r\n\r\n", -1, ""},
    {"5\r\nhelloX\r\n0\r\n\r\n", -1, "hello"},
    {"5\r\nhello\n0\r\n\r\n", -1, "hello"},
    {"\r\n", -1, ""},
    {"x\r\n", -1, ""},
    {"0\r\n X: y\r\n\r\n", -1, ""},
    {"0\r\nX : y\r\n\r\n", -1, ""},
    {"0\r\nX: \x01\r\n\r\n", -1, ""},
    {"0\r\nX: y\n\r\n", -1, ""},
    {"0\r\n\r\nGET", 2, ""},
    {"0\r\nContent-Length: 5\r\n\r\n", -1, ""},
    {"0\r\nX: 1\r\ntransfer-ENCODING: chunked\r\n\r\n", -1, ""},
    {"0\r\nContent-Lengthy: 5\r\nContent-Lengt: 5\r\nTransfer: x\r\n\r\n", 1, ""},
};

static void chunked_cases(void **state)
{
    char out[256];
    for (size_t i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
        const struct chunk_case *c = &chunk_cases[i];
        size_t n = strlen(c->in);
        for (size_t step = 0; step <= 2; step++) {
            size_t olen = 0, at = 0;
            int r = dechunk(c->in, n, step, 0, out, &olen, &at);
            if (r != c->result || olen != strlen(c->body) || memcmp(out, c->body, olen) != 0)
                printf("chunk case %zu step %zu: got %d \"%.*s\"\n", i, step, r, (int)olen, out);
            assert_int_equal(r, c->result);
            assert_int_equal(olen, strlen(c->body));
            assert_memory_equal(out, c->body, olen);
        }
    }
}

/* The size line and the trailer section are bounded, and fail as soon as they pass
 * the bound. */
static void chunked_limits(void **state)
{
    size_t n = 8192, olen, at = 0;
    char *s = malloc(n), out[16];
    memset(s, 'a', n);
    memcpy(s, "5;", 2);
    assert_int_equal(dechunk(s, n, 1, 0, out, &olen, &at), -1);
    assert_int_equal(at, 4097);
    const char *t = "0\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n";
    assert_int_equal(dechunk(t, strlen(t), 1, 40, out, &olen, &at), -1);
    assert_int_equal(at, 3 + 41);
    assert_int_equal(dechunk(t, strlen(t), 1, 0, out, &olen, &at), 1);
    /* One span per call: the caller can take the data before more is decoded. */
    http_chunked d;
    cora__http_chunked_init(&d);
    const char *two = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", *data;
    size_t dlen;
    assert_int_equal(cora__http_chunked_decode(&d, two, strlen(two), &data, &dlen), 8);
    assert_ptr_equal(data, two + 3);
    assert_int_equal(dlen, 5);
    assert_int_equal(cora__http_chunked_decode(&d, two + 8, strlen(two) - 8, &data, &dlen), 11);
    assert_int_equal(dlen, 6);
    assert_int_equal(cora__http_chunked_decode(&d, two + 19, strlen(two) - 19, &data, &dlen), 7);
    assert_int_equal(dlen, 0);
    assert_true(cora__http_chunked_done(&d));
    assert_int_equal(cora__http_chunked_decode(&d, "x", 1, &data, &dlen), 0);
    free(s);
}

/* ---- unit cases: URLs ------------------------------------------------------------------ */

static void url_cases(void **state)
{
    static const struct {
        const char *url;
        int connect, ok, port;
        const char *host;
    } cases[] = {
        {"http://example.com:65535/", 0, 1, 65535, "example.com"},
        {"http://example.com:65536/", 0, 0, 0, NULL},
        {"http://example.com:0080", 0, 1, 80, "example.com"},
        {"http://[::1]:8080/x", 0, 1, 8080, "::1"},
        {"http://[::1]x/", 0, 0, 0, NULL},
        {"http://[::g]/", 0, 0, 0, NULL},
        {"http://[]/", 0, 0, 0, NULL},
        {"http://[1.2.3.4]/", 0, 0, 0, NULL},
        {"http:/x", 0, 0, 0, NULL},
        {"1http://x/", 0, 0, 0, NULL},
        {"http://x_y/", 0, 0, 0, NULL},
        {"HTTP://X/", 0, 1, 0, "X"},
        {"http://x?q", 0, 1, 0, "x"},
        {"example.com:443", 1, 1, 443, "example.com"},
        {"example.com", 1, 0, 0, NULL},
        {"example.com:99999", 1, 0, 0, NULL},
        {"/a b", 0, 0, 0, NULL},
        {"/\x80", 0, 0, 0, NULL},
        {"*", 0, 0, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_url u;
        size_t n = strlen(cases[i].url);
        int r = cora__http_parse_url(guard_place(guard_for(n), cases[i].url, n), n,
                                     cases[i].connect, &u);
        if ((r == 0) != cases[i].ok) printf("url case %zu: %s gives %d\n", i, cases[i].url, r);
        assert_int_equal(r == 0, cases[i].ok);
        if (r != 0) {
            assert_int_equal(r, -EINVAL);
            continue;
        }
        assert_int_equal(u.port, cases[i].port);
        assert_int_equal(u.host.len, strlen(cases[i].host));
        assert_memory_equal(u.host.ptr, cases[i].host, u.host.len);
    }
}

static int teardown_all(void **state)
{
    if (g_guard.base) guard_free(&g_guard);
    g_guard_cap = 0;
    return 0;
}

static const struct CMUnitTest tests[] = {
    CORA_PURE_TEST(http_parser_requests),
    CORA_PURE_TEST(http_parser_responses),
    CORA_PURE_TEST(http_parser_invalid),
    CORA_PURE_TEST(http_parser_urls),
    CORA_PURE_TEST(llhttp_requests),
    CORA_PURE_TEST(llhttp_responses),
    CORA_PURE_TEST(llhttp_urls),
    CORA_PURE_TEST(limit_request_line),
    CORA_PURE_TEST(limit_head),
    CORA_PURE_TEST(limit_fields),
    CORA_PURE_TEST(slowloris),
    CORA_PURE_TEST(strictness),
    CORA_PURE_TEST(accepted_heads),
    CORA_PURE_TEST(framing_rules),
    CORA_PURE_TEST(errors_stick),
    CORA_PURE_TEST(chunked_cases),
    CORA_PURE_TEST(chunked_limits),
    CORA_PURE_TEST(url_cases),
};

int main(int argc, char **argv)
{
    int r = harness_pure_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]), "http_parser");
    teardown_all(NULL);
    return r;
}

/* tests/test_http_diff.c: cora's HTTP parser against Debian's libhttp-parser 2.9.4.
 *
 * Every raw input of the conformance vectors (tests/vectors/) and of the fuzz corpora
 * (fuzz/corpus/) goes through both parsers, fed whole:
 *
 *   - where libhttp-parser refuses, cora must refuse too: being more lenient than
 *     the reference is a bug;
 *   - where both accept, they must agree on every message: method, target, status,
 *     version, fields, body, keep-alive and upgrade, except for the differences
 *     listed in `known_differences` (each with its reason);
 *   - where only cora refuses, it must be for one of the stricter rules listed in
 *     `stricter_rules`, keyed by the description cora gives; a refusal for any other
 *     reason fails the test.
 *
 * Debian builds libhttp-parser with HTTP_PARSER_STRICT=0, so it takes raw UTF-8 in
 * targets, bare LF line endings, folded lines and more: most of cora's stricter
 * verdicts are those. The summary printed at the end counts each.
 */
#include "harness_pure.h"

#include <dirent.h>
#include <stdlib.h>

#include "http_diff_ref.h"
#include "http_driver.h"
#include "http_vectors.h"

/* Why cora may refuse what libhttp-parser accepts: cora's description of the error,
 * and the rule behind it. */
static const struct stricter_rule {
    const char *why;
    const char *rule;
} stricter_rules[] = {
    {"bare LF", "RFC 9112 2.2: lines end in CRLF; a bare LF is refused (llhttp strict too)"},
    {"bare CR", "RFC 9112 2.2: a CR not followed by LF is refused"},
    {"line ends too early", "CR inside the request line: an HTTP/0.9 request or a bare CR"},
    {"obsolete line folding", "RFC 9112 5.2: obs-fold is refused (llhttp strict too)"},
    {"whitespace before a colon", "RFC 9112 5.1: MUST be refused (http-parser's non-strict "
                                  "build keeps it in the name)"},
    {"invalid byte in the target", "the request-target is visible ASCII only: raw UTF-8, TAB "
                                   "and FF are refused (http-parser's strict build too)"},
    {"invalid request-target", "the target must be origin-, absolute-, authority- (CONNECT) or "
                               "asterisk-form; hosts are letters, digits, '-' and '.' "
                               "(http-parser's strict build)"},
    {"invalid byte in a field name", "field names are tokens (RFC 9110 5.1)"},
    {"invalid byte in a field value", "field values are VCHAR, obs-text, SP and HTAB"},
    {"invalid byte in the reason phrase", "the reason phrase is VCHAR, obs-text, SP and HTAB"},
    {"invalid version", "only \"HTTP/\" DIGIT \".\" DIGIT"},
    {"HTTP version not supported", "505 for any version but HTTP/1.0 and HTTP/1.1"},
    {"status code below 100", "status codes are 100..999 (RFC 9110 15)"},
    {"invalid status code", "a status code is exactly three digits"},
    {"invalid Content-Length", "1*DIGIT below 2^63 (lengths fit in off_t)"},
    {"repeated Content-Length", "any second Content-Length field is refused"},
    {"both Content-Length and Transfer-Encoding",
     "RFC 9112 6.1: request smuggling defence (http-parser's allow_chunked_length lets it by)"},
    {"unsupported transfer coding", "RFC 9112 6.1: a coding cora does not implement gets 501"},
    {"chunked is not the final coding", "RFC 9112 6.3: a request whose final coding is not "
                                        "chunked is refused"},
    {"chunked listed twice", "RFC 9112 7: chunked MUST NOT be applied twice"},
    {"invalid Transfer-Encoding", "transfer-codings are tokens, chunked takes no parameters, "
                                  "the list has no empty elements (\", chunked\") and no TAB "
                                  "after its first coding"},
    {"invalid chunked body", "chunk grammar as strict as llhttp's: no whitespace in or around "
                             "extensions or after the size, sizes below 2^63, size lines up "
                             "to 4 KiB, trailer sections up to 16 KiB, and no Content-Length or "
                             "Transfer-Encoding among the trailer fields (RFC 9110 6.5.1)"},
    {"head too large", "heads are limited to 16 KiB (http-parser: 80 KiB)"},
    {"start line too long", "request and status lines are limited to 8 KiB"},
    {"too many header fields", "at most 100 fields (http-parser: no limit)"},
    {"bytes after a closing message", "RFC 9112 9.6: nothing is read after Connection: close "
                                      "(http-parser's non-strict build goes on)"},
};

/* Where both accept but may disagree, and why; keyed by a short tag. */
static const struct known_difference {
    const char *tag;
    const char *reason;
} known_differences[] = {
    {"1xx", "a 1xx response ends with its head (RFC 9110 15.2): cora hands what follows a 101 "
            "on as the new protocol's bytes, http-parser reads a body first"},
    {"1.0+TE", "RFC 9112 6.1: a message with Transfer-Encoding in HTTP/1.0 closes the "
               "connection; http-parser keeps it alive"},
    {"trailers", "http-parser lists trailer fields with the head's; cora drops them"},
    {"close+tab", "\"Connection: close<TAB>\": http-parser 2.9.4 misses the token, llhttp and "
                  "cora close (the safe side)"},
    {"empty list element", "\"Connection: x,,keep-alive\": RFC 9110 5.6.1 skips empty list "
                           "elements; http-parser 2.9.4 misses the token after them"},
    {"no-body status", "1xx, 204 and 304 responses have no content (RFC 9110 6.4.1): http-parser "
                       "2.9.4 reads a body after one that has Content-Length or Transfer-Encoding"},
};

/* Where libhttp-parser refuses input that RFC 9112 allows and cora accepts: the only
 * cases in which cora may be the more lenient, each recognised by a specific test in
 * reference_mistake(). */
static const struct reference_mistake {
    const char *tag;
    const char *reason;
} reference_mistakes[] = {
    {"tab in Content-Length", "OWS around a field value includes HTAB (RFC 9110 5.5); "
                              "http-parser 2.9.4 refuses \"Content-Length:<TAB>42\", llhttp "
                              "accepts it (its strict-mode vector says so)"},
    {"no-body status", "http-parser misframes what follows a 1xx/204/304 response with "
                       "Content-Length or Transfer-Encoding (RFC 9110 6.4.1), then refuses it"},
    {"Transfer-Encoding prefix", "http-parser 2.9.4 takes a field whose name only starts "
                                 "with \"Transfer-Encoding\" (\"Transfer-Encodingx\") for one"},
};

typedef struct tally {
    int inputs, agree_accept, agree_refuse, stricter, known, failures;
    int rule_counts[sizeof(stricter_rules) / sizeof(stricter_rules[0])];
    int known_counts[sizeof(known_differences) / sizeof(known_differences[0])];
    int mistake_counts[sizeof(reference_mistakes) / sizeof(reference_mistakes[0])];
} tally;

static tally g_tally;

/* Prints the first 300 bytes of an input, escaped, and a newline. */
static void dump_input(const char *in, size_t n)
{
    printf("input (%zu bytes): \"", n);
    for (size_t i = 0; i < n && i < 300; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("%s\"\n", n > 300 ? "..." : "");
}

static void fail_input(const char *label, const char *what, const char *in, size_t n)
{
    printf("  FAIL %s: %s; ", label, what);
    dump_input(in, n);
    g_tally.failures++;
}

static int known(const char *tag)
{
    for (size_t i = 0; i < sizeof(known_differences) / sizeof(known_differences[0]); i++)
        if (strcmp(known_differences[i].tag, tag) == 0) {
            g_tally.known_counts[i]++;
            return 1;
        }
    return 0;
}

static int no_body_status(const drv_msg *m)
{
    return m->status && (m->status < 200 || m->status == 204 || m->status == 304);
}

static int has_framing(const drv_msg *m)
{
    return (m->flags & (HTTP_F_HAS_LENGTH | HTTP_F_CHUNKED | HTTP_F_TE_OTHER)) != 0;
}

static int ci_prefix(const char *s, size_t n, const char *lit)
{
    size_t k = strlen(lit);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++)
        if ((s[i] | 0x20) != lit[i]) return 0;
    return 1;
}

/* Whether a line of the input starts with `name` (and holds a TAB, when `tab`). */
static int line_with(const char *in, size_t n, const char *name, int tab)
{
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && in[i - 1] != '\n') continue;
        size_t e = i;
        while (e < n && in[e] != '\n')
            e++;
        if (ci_prefix(in + i, e - i, name) && (!tab || memchr(in + i, '\t', e - i))) return 1;
    }
    return 0;
}

/* Whether a field name only starts with "Transfer-Encoding" ("Transfer-Encoding1"). */
static int fake_te_name(const char *in, size_t n)
{
    for (size_t i = 0; i + 18 <= n; i++)
        if ((i == 0 || in[i - 1] == '\n') && ci_prefix(in + i, n - i, "transfer-encoding") &&
            in[i + 17] != ':')
            return 1;
    return 0;
}

/* Whether libhttp-parser's refusal is one of its known mistakes; counts it. */
static int reference_mistake(const drv_outcome *c, const ref_outcome *r, const char *in, size_t n)
{
    int which = -1;
    if (strcmp(r->error_name, "HPE_INVALID_CONTENT_LENGTH") == 0 &&
        line_with(in, n, "content-length:", 1))
        which = 0;
    if ((strcmp(r->error_name, "HPE_INVALID_TRANSFER_ENCODING") == 0 ||
         strcmp(r->error_name, "HPE_UNEXPECTED_CONTENT_LENGTH") == 0) &&
        fake_te_name(in, n))
        which = 2;
    if (which < 0 && c->framed_no_body) which = 1;
    if (which < 0) return 0;
    g_tally.mistake_counts[which]++;
    return 1;
}

static int same_bytes(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* http-parser keeps the whitespace after a value; cora trims it. */
static int same_value(const char *c, size_t cn, const char *r, size_t rn)
{
    while (rn && (r[rn - 1] == ' ' || r[rn - 1] == '\t'))
        rn--;
    while (rn && (r[0] == ' ' || r[0] == '\t'))
        r++, rn--;
    return same_bytes(c, cn, r, rn);
}

static const char *compare_fields(const drv_msg *c, const ref_msg *r)
{
    if (r->nfields < c->nfields) return "number of fields";
    if (r->nfields > c->nfields && !(c->body_kind == HTTP_BODY_CHUNKED && known("trailers")))
        return "number of fields";
    for (size_t i = 0; i < c->nfields; i++) {
        const drv_field *a = &c->fields[i];
        const ref_field *b = &r->fields[i];
        if (!same_bytes(a->name, a->name_len, b->name, b->name_len)) return "field name";
        if (!same_value(a->value, a->value_len, b->value, b->value_len)) return "field value";
    }
    return NULL;
}

static const char *compare_head(int kind, const drv_msg *c, const ref_msg *r)
{
    if (kind == HTTP_REQUEST) {
        if (!r->method || strcmp(c->method, r->method) != 0) return "method";
        if (!same_bytes(c->target, c->target_len, r->url, r->url_len)) return "target";
    } else {
        if (c->status != r->status) return "status";
        if (!same_bytes(c->reason, c->reason_len, r->reason, r->reason_len)) return "reason";
    }
    if (c->version != r->version) return "version";
    return compare_fields(c, r);
}

/* Whether a field is Connection or Proxy-Connection (which both parsers read alike). */
static int is_connection(const ref_field *f)
{
    return f->value && ((f->name_len == 10 && ci_prefix(f->name, 10, "connection")) ||
                        (f->name_len == 16 && ci_prefix(f->name, 16, "proxy-connection")));
}

/* Whether the reference saw a Connection field with a TAB in its value. */
static int connection_tab(const ref_msg *r)
{
    for (size_t i = 0; i < r->nfields; i++)
        if (is_connection(&r->fields[i]) &&
            memchr(r->fields[i].value, '\t', r->fields[i].value_len))
            return 1;
    return 0;
}

/* Whether the reference saw a Connection field whose list has an empty element. */
static int connection_empty_element(const ref_msg *r)
{
    for (size_t i = 0; i < r->nfields; i++) {
        const ref_field *f = &r->fields[i];
        if (!is_connection(f)) continue;
        int empty = 1; /* no token since the last comma (or the start) */
        for (size_t k = 0; k < f->value_len; k++) {
            char ch = f->value[k];
            if (ch == ',' && empty) return 1;
            if (ch == ',')
                empty = 1;
            else if (ch != ' ' && ch != '\t')
                empty = 0;
        }
    }
    return 0;
}

/* A whole message both parsers completed. */
static const char *compare_message(int kind, const drv_msg *c, const ref_msg *r)
{
    const char *bad = compare_head(kind, c, r);
    if (bad) return bad;
    if (!same_bytes(c->body, c->body_len, r->body, r->body_len)) return "body";
    if (c->complete != r->complete) return "completeness";
    if (c->complete && c->keep_alive != r->keep_alive) {
        int te10 = c->version == 10 && (c->flags & (HTTP_F_CHUNKED | HTTP_F_TE_OTHER));
        if (te10 && known("1.0+TE")) return NULL;
        if (!c->keep_alive && connection_tab(r) && known("close+tab")) return NULL;
        if (connection_empty_element(r) && known("empty list element")) return NULL;
        return "keep-alive";
    }
    return NULL;
}

static const char *compare_accepted(int kind, const drv_outcome *c, const ref_outcome *r)
{
    size_t n = c->nmsgs < r->nmsgs ? c->nmsgs : r->nmsgs;
    for (size_t i = 0; i < n && i < DRV_MAX_MSGS && i < REF_MAX_MSGS; i++) {
        const drv_msg *cm = &c->msgs[i];
        if (kind == HTTP_RESPONSE && cm->status == 101 && c->upgraded) {
            const char *bad = compare_head(kind, cm, &r->msgs[i]);
            if (bad) return bad;
            if (r->upgraded && r->upgrade_at == c->upgrade_at) return NULL;
            return known("1xx") ? NULL : "upgrade";
        }
        const char *bad = compare_message(kind, cm, &r->msgs[i]);
        /* After a misframed no-body response the two see different messages. */
        if (bad && no_body_status(cm) && has_framing(cm) && !compare_head(kind, cm, &r->msgs[i]))
            return known("no-body status") ? NULL : bad;
        if (bad) return bad;
    }
    if (c->nmsgs != r->nmsgs) return "number of messages";
    if (c->upgraded != r->upgraded || c->upgrade_at != r->upgrade_at) return "upgrade";
    return NULL;
}

/* One input through both parsers. */
static void diff_one(int kind, int skip_body, const char *in, size_t n, const char *label)
{
    static guard g;
    if (!g.base || g.size < n) {
        if (g.base) guard_free(&g);
        guard_init(&g, n < 65536 ? 65536 : n);
    }
    drv_opts o = {.kind = kind, .skip_body = skip_body};
    drv_outcome c;
    drv_run(&o, in, n, NULL, 0, 1, &g, &c);
    ref_outcome r;
    ref_run(kind == HTTP_RESPONSE, skip_body, in, n, &r);
    g_tally.inputs++;
    /* Bytes after an upgrade belong to another protocol, so a reference error
     * there is not a verdict on HTTP. */
    int ref_refused = r.error && !(c.upgraded && r.error_at >= c.upgrade_at);
    if (ref_refused && !c.error && reference_mistake(&c, &r, in, n)) {
        g_tally.known++;
    } else if (ref_refused && !c.error) {
        char what[160];
        snprintf(what, sizeof(what), "libhttp-parser refuses (%s at %zu), cora accepts",
                 r.error_name, r.error_at);
        fail_input(label, what, in, n);
    } else if (ref_refused) {
        g_tally.agree_refuse++;
    } else if (c.error) {
        size_t k = 0, nr = sizeof(stricter_rules) / sizeof(stricter_rules[0]);
        while (k < nr && strcmp(stricter_rules[k].why, c.why) != 0)
            k++;
        if (k == nr) {
            char what[160];
            snprintf(what, sizeof(what), "cora refuses (%s) for no documented rule", c.why);
            fail_input(label, what, in, n);
        } else {
            g_tally.rule_counts[k]++;
            g_tally.stricter++;
            /* CORA_TEST_VERBOSE=1 lists them, to review the rules against real inputs. */
            if (getenv("CORA_TEST_VERBOSE")) {
                printf("  stricter (%s) %s: ", c.why, label);
                dump_input(in, n);
            }
        }
    } else {
        const char *bad = compare_accepted(kind, &c, &r);
        if (bad) {
            char what[160];
            snprintf(what, sizeof(what), "both accept but differ in %s", bad);
            fail_input(label, what, in, n);
        } else {
            g_tally.agree_accept++;
        }
    }
    drv_outcome_free(&c);
    ref_free(&r);
}

static void print_tally(const char *what)
{
    tally *t = &g_tally;
    printf("%s: %d inputs: %d both accept and agree, %d both refuse, %d only cora refuses, "
           "%d only libhttp-parser refuses (its known mistakes), %d failures\n",
           what, t->inputs, t->agree_accept, t->agree_refuse, t->stricter, t->known, t->failures);
    for (size_t i = 0; i < sizeof(stricter_rules) / sizeof(stricter_rules[0]); i++)
        if (t->rule_counts[i])
            printf("  cora stricter, %4d x \"%s\": %s\n", t->rule_counts[i], stricter_rules[i].why,
                   stricter_rules[i].rule);
    for (size_t i = 0; i < sizeof(known_differences) / sizeof(known_differences[0]); i++)
        if (t->known_counts[i])
            printf("  known difference, %4d x %s: %s\n", t->known_counts[i],
                   known_differences[i].tag, known_differences[i].reason);
    for (size_t i = 0; i < sizeof(reference_mistakes) / sizeof(reference_mistakes[0]); i++)
        if (t->mistake_counts[i])
            printf("  only libhttp-parser refuses, %4d x %s: %s\n", t->mistake_counts[i],
                   reference_mistakes[i].tag, reference_mistakes[i].reason);
}

/* ---- the vectors ----------------------------------------------------------------- */

static int kind_of(const json_t *e, int fallback)
{
    const char *t = json_string_value(json_object_get(e, "type"));
    if (!t) t = json_string_value(json_object_get(e, "mode"));
    if (!t) return fallback;
    return strncmp(t, "response", 8) == 0 ? HTTP_RESPONSE : HTTP_REQUEST;
}

static void diff_file(const char *file, int fallback)
{
    json_t *all = vec_load(file);
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *in = vec_input(e, &n);
        const json_t *harness = json_object_get(e, "harness");
        diff_one(kind_of(e, fallback), json_is_true(json_object_get(harness, "skipBody")), in, n,
                 vec_name(e));
        free(in);
    }
    json_decref(all);
}

static void diff_vectors(void **state)
{
    memset(&g_tally, 0, sizeof(g_tally));
    diff_file("http-parser-requests.json", HTTP_REQUEST);
    diff_file("http-parser-responses.json", HTTP_RESPONSE);
    diff_file("http-parser-invalid.json", HTTP_REQUEST);
    diff_file("llhttp-requests.json", HTTP_REQUEST);
    diff_file("llhttp-responses.json", HTTP_RESPONSE);
    print_tally("vectors");
    assert_int_equal(g_tally.inputs, 47 + 30 + 99 + 166 + 85);
    assert_int_equal(g_tally.failures, 0);
}

/* ---- URLs ------------------------------------------------------------------------- */

typedef struct url_tally {
    int inputs, agree_accept, agree_refuse, failures;
    int non_visible, underscore, ipv6, asterisk, other_stricter;
} url_tally;

/* Why cora refused a URL that http-parser's non-strict build accepts. */
static int url_stricter(url_tally *t, const char *u, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f) return ++t->non_visible;
    if (u[0] == '*') return ++t->asterisk; /* "*" alone is the asterisk-form */
    if (memchr(u, '_', n)) return ++t->underscore;
    if (memchr(u, '[', n)) return ++t->ipv6;
    return 0;
}

static int same_part(const char *u, const http_span *s, const ref_url *r, int part)
{
    if (!(r->present & (1u << part))) return s->len == 0;
    return same_bytes(s->ptr, s->len, u + r->off[part], r->len[part]);
}

static void diff_url(url_tally *t, const char *u, size_t n, int is_connect, const char *label)
{
    http_url c;
    ref_url r;
    int ok = cora__http_parse_url(u, n, is_connect, &c) == 0;
    ref_parse_url(u, n, is_connect, &r);
    t->inputs++;
    if (ok && !r.ok) {
        fail_input(label, "libhttp-parser refuses the URL, cora accepts", u, n);
        t->failures++;
    } else if (!ok && !r.ok) {
        t->agree_refuse++;
    } else if (!ok) {
        if (!url_stricter(t, u, n)) {
            t->other_stricter++;
            fail_input(label, "cora refuses the URL for no documented rule", u, n);
            t->failures++;
        }
    } else {
        const http_span *parts[] = {&c.scheme, &c.host,     NULL,       &c.path,
                                    &c.query,  &c.fragment, &c.userinfo};
        for (int i = 0; i < 7; i++)
            if (parts[i] && !same_part(u, parts[i], &r, i)) {
                fail_input(label, "URL parts differ", u, n);
                t->failures++;
                return;
            }
        if ((r.present & 4 ? (int)r.port : 0) != c.port) {
            fail_input(label, "URL ports differ", u, n);
            t->failures++;
            return;
        }
        t->agree_accept++;
    }
}

static void print_url_tally(const char *what, const url_tally *t)
{
    printf("%s: %d URL checks: %d both accept and agree, %d both refuse; cora stricter: %d "
           "with bytes outside visible ASCII (http-parser's non-strict build takes them), "
           "%d with '_' in a host (refused by http-parser's strict build), %d IPv6 literals "
           "inet_pton refuses, %d starting with '*' (not URLs: the head parser takes \"*\" "
           "alone as the asterisk-form, http-parser any \"*...\"); %d failures\n",
           what, t->inputs, t->agree_accept, t->agree_refuse, t->non_visible, t->underscore,
           t->ipv6, t->asterisk, t->failures);
}

static void diff_urls(void **state)
{
    url_tally t = {0};
    json_t *all = vec_load("http-parser-urls.json");
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *u = vec_bytes(json_object_get(e, "url"), &n);
        if (!u) continue;
        diff_url(&t, u, n, json_is_true(json_object_get(e, "is_connect")), vec_name(e));
        free(u);
    }
    json_decref(all);
    all = vec_load("llhttp-urls.json");
    json_array_foreach(all, i, e)
    {
        size_t n;
        char *u = vec_input(e, &n);
        diff_url(&t, u, n, 0, vec_name(e));
        free(u);
    }
    json_decref(all);
    print_url_tally("URL vectors", &t);
    assert_int_equal(t.inputs, 45 + 21);
    assert_int_equal(t.failures, 0);
}

/* ---- the fuzz corpora -------------------------------------------------------------- */

static char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096;
    char *buf = malloc(cap);
    *n = 0;
    for (size_t r; (r = fread(buf + *n, 1, cap - *n, f)) > 0;) {
        *n += r;
        if (*n == cap) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    return buf;
}

/* Calls fn on every file of fuzz/corpus/<target>/; returns how many. */
static int each_corpus_file(const char *target, void (*fn)(const char *, size_t, const char *))
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/%s", CORA_FUZZ_CORPUS, target);
    DIR *d = opendir(dir);
    if (!d) {
        printf("no corpus at %s\n", dir);
        return 0;
    }
    int count = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[8192];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t n;
        char *data = read_file(path, &n);
        if (!data) continue;
        fn(data, n, e->d_name);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void corpus_request(const char *d, size_t n, const char *name)
{
    diff_one(HTTP_REQUEST, 0, d, n, name);
}

static void corpus_response(const char *d, size_t n, const char *name)
{
    diff_one(HTTP_RESPONSE, 0, d, n, name);
    diff_one(HTTP_RESPONSE, 1, d, n, name);
}

/* A chunked body goes behind a request head that announces it. */
static void corpus_chunked(const char *d, size_t n, const char *name)
{
    static const char head[] = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    char *in = malloc(sizeof(head) - 1 + n);
    memcpy(in, head, sizeof(head) - 1);
    memcpy(in + sizeof(head) - 1, d, n);
    diff_one(HTTP_REQUEST, 0, in, sizeof(head) - 1 + n, name);
    free(in);
}

static url_tally g_url_tally;

/* A URL alone, and as the target of a request line when it can be one. */
static void corpus_url(const char *d, size_t n, const char *name)
{
    diff_url(&g_url_tally, d, n, 0, name);
    diff_url(&g_url_tally, d, n, 1, name);
    if (n == 0 || n > 4000 || memchr(d, ' ', n) || memchr(d, '\r', n) || memchr(d, '\n', n)) return;
    char *in = malloc(n + 32);
    int len = sprintf(in, "GET ");
    memcpy(in + len, d, n);
    len += (int)n;
    len += sprintf(in + len, " HTTP/1.1\r\n\r\n");
    diff_one(HTTP_REQUEST, 0, in, (size_t)len, name);
    free(in);
}

static void diff_corpus(void **state)
{
    memset(&g_tally, 0, sizeof(g_tally));
    memset(&g_url_tally, 0, sizeof(g_url_tally));
    int files = each_corpus_file("fuzz_request", corpus_request);
    files += each_corpus_file("fuzz_response", corpus_response);
    files += each_corpus_file("fuzz_chunked", corpus_chunked);
    int url_files = each_corpus_file("fuzz_url", corpus_url);
    printf("corpus: %d message files, %d URL files\n", files, url_files);
    print_tally("corpus messages");
    print_url_tally("corpus URLs", &g_url_tally);
    assert_true(files > 0 && url_files > 0);
    assert_int_equal(g_tally.failures + g_url_tally.failures, 0);
}

static const struct CMUnitTest tests[] = {
    CORA_PURE_TEST(diff_vectors),
    CORA_PURE_TEST(diff_urls),
    CORA_PURE_TEST(diff_corpus),
};

CORA_PURE_TEST_MAIN("http_diff", tests)

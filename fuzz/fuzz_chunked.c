/* fuzz/fuzz_chunked.c: the chunked decoder alone. The input is a chunked body; it is
 * decoded whole, one byte at a time and split in two, with the default trailer limit
 * and a tiny one, and every way must give the same verdict, the same data and the
 * same end. Each call must respect the contract: consume no more than it was given,
 * hand out data inside what it consumed, and make progress. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct dec_out {
    int verdict; /* 1 done, 0 needs more, -1 refused */
    size_t end;  /* where the body ended, when done */
    char *data;
    size_t dlen;
} dec_out;

/* One call of the decoder on buf[pos..recv), checked against its contract. Returns
 * the bytes consumed, or -1. */
static ssize_t decode_once(http_chunked *d, const char *buf, size_t pos, size_t recv, dec_out *o)
{
    const char *data = NULL;
    size_t dlen = 0;
    ssize_t r = cora__http_chunked_decode(d, buf + pos, recv - pos, &data, &dlen);
    if (r < 0) {
        if (r != HTTP_E_BAD) fuzz_fail("chunked", "an error other than HTTP_E_BAD");
        return -1;
    }
    if ((size_t)r > recv - pos) fuzz_fail("chunked", "consumed more than it was given");
    if (dlen && (data < buf + pos || data + dlen > buf + pos + r))
        fuzz_fail("chunked", "data outside the consumed bytes");
    if (!dlen && data) fuzz_fail("chunked", "a data pointer without a length");
    if (r == 0 && !cora__http_chunked_done(d)) fuzz_fail("chunked", "no progress");
    o->data = realloc(o->data, o->dlen + dlen + 1);
    if (dlen) memcpy(o->data + o->dlen, data, dlen);
    o->dlen += dlen;
    return r;
}

static void decode(const char *in, size_t n, size_t max_trailer, const size_t *steps, size_t nsteps,
                   int move, dec_out *o)
{
    http_chunked d;
    cora__http_chunked_init(&d);
    d.max_trailer = max_trailer;
    memset(o, 0, sizeof(*o));
    guard *g = fuzz_guard(n);
    const char *fixed = move ? NULL : guard_place(g, in, n);
    size_t pos = 0;
    for (size_t i = 0; i <= nsteps && o->verdict == 0; i++) {
        size_t recv = i < nsteps ? steps[i] : n;
        const char *buf = move ? guard_place(g, in, recv) : fixed;
        while (pos < recv && !cora__http_chunked_done(&d)) {
            ssize_t r = decode_once(&d, buf, pos, recv, o);
            if (r < 0) {
                o->verdict = -1;
                break;
            }
            pos += (size_t)r;
        }
        if (cora__http_chunked_done(&d) && o->verdict == 0) {
            o->verdict = 1;
            o->end = pos;
        }
        if (recv == n) break;
    }
    if (o->verdict == -1) {
        const char *data;
        size_t dlen;
        if (cora__http_chunked_decode(&d, "0\r\n\r\n", 5, &data, &dlen) != HTTP_E_BAD)
            fuzz_fail("chunked", "an error did not stick");
    }
}

static void same(const dec_out *a, const dec_out *b, const char *how)
{
    if (a->verdict != b->verdict) fuzz_fail(how, "verdict");
    if (a->end != b->end) fuzz_fail(how, "end of the body");
    if (a->dlen != b->dlen || (a->dlen && memcmp(a->data, b->data, a->dlen) != 0))
        fuzz_fail(how, "data");
}

static void run(const char *in, size_t n, size_t max_trailer)
{
    dec_out whole, other;
    decode(in, n, max_trailer, NULL, 0, 1, &whole);
    size_t *steps = malloc((n + 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        steps[i] = i + 1;
    steps[n] = n;
    decode(in, n, max_trailer, steps, n, n <= 1024, &other);
    same(&whole, &other, "byte-at-a-time decode differs from the whole one");
    free(other.data);
    free(steps);
    for (size_t at = 1; at < n; at += n / 7 + 1) {
        decode(in, n, max_trailer, &at, 1, 1, &other);
        same(&whole, &other, "two-part decode differs from the whole one");
        free(other.data);
    }
    free(whole.data);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run((const char *)data, size, 0);
    run((const char *)data, size, 8);
    return 0;
}

/* fuzz/fuzz_common.c: see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bytewise feeds copy the received bytes before the guard page at every step up to
 * this size (quadratic, so kept small); larger inputs grow in place. */
#define FUZZ_MOVE_LIMIT 1024

static guard g;

guard *fuzz_guard(size_t n)
{
    if (!g.base || g.size < n) {
        if (g.base) guard_free(&g);
        guard_init(&g, n < 65536 ? 65536 : n);
    }
    return &g;
}

void fuzz_fail(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz: %s: %s\n", what, detail ? detail : "");
    abort();
}

/* A cheap hash of the input, to pick split points that differ between inputs. */
static size_t pick(const uint8_t *data, size_t size, size_t salt)
{
    size_t h = 2166136261u ^ salt;
    for (size_t i = 0; i < size && i < 64; i++)
        h = (h ^ data[i]) * 16777619u;
    return size > 1 ? 1 + h % (size - 1) : 1;
}

static void check_same(const drv_outcome *whole, drv_outcome *other, const char *how)
{
    const char *d = drv_outcome_diff(whole, other);
    if (d) fuzz_fail(how, d);
    drv_outcome_free(other);
}

static void stream_with(const drv_opts *o, const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    guard *gd = fuzz_guard(size);
    drv_outcome whole, other;
    drv_run(o, in, size, NULL, 0, 1, gd, &whole);

    size_t *steps = malloc((size + 1) * sizeof(size_t));
    for (size_t i = 0; i < size; i++)
        steps[i] = i + 1;
    steps[size] = size;
    drv_run(o, in, size, steps, size, size <= FUZZ_MOVE_LIMIT, gd, &other);
    check_same(&whole, &other, "byte-at-a-time feed differs from the whole one");
    free(steps);

    for (size_t k = 0; k < 3 && size > 1; k++) {
        size_t at = k == 0 ? size / 2 : pick(data, size, k);
        drv_run(o, in, size, &at, 1, 1, gd, &other);
        check_same(&whole, &other, "two-part feed differs from the whole one");
    }
    drv_outcome_free(&whole);
}

void fuzz_stream(int kind, const uint8_t *data, size_t size)
{
    drv_opts o = {.kind = kind};
    stream_with(&o, data, size);
    /* Tight limits reach the limit checks with small inputs. */
    drv_opts tight = {.kind = kind,
                      .limits = {.max_line = 40, .max_head = 160, .max_headers = 5},
                      .headers_cap = 4,
                      .max_trailer = 24};
    stream_with(&tight, data, size);
    if (kind == HTTP_RESPONSE) {
        drv_opts head = {.kind = kind, .skip_body = 1};
        stream_with(&head, data, size);
    }
}

/* fuzz/fuzz_ws_frame.c: the pure WebSocket codec (src/ws/frame.c) on arbitrary bytes.
 *
 * The same input goes through each part, every one checked against its contract:
 *   - the frame header parser: its verdict on every prefix agrees with the whole
 *     (more bytes never turn an error into a header, nor change a header), and what
 *     it reads, written back by cora__ws_put_header, reads the same again;
 *   - masking: against a byte-by-byte XOR, in two pieces as whole, and undone by
 *     masking again;
 *   - UTF-8: whole, fed one byte at a time and split in two give one verdict, and a
 *     failure sticks;
 *   - close payloads (the input, up to 125 bytes): the verdict follows the code and
 *     the reason;
 *   - Sec-WebSocket-Extensions (the input up to its first NUL): both sides answer
 *     -1, 0 or 1; a malformed header is malformed to both; an accepted response is
 *     itself an offer that is accepted with the same response, and the client reads
 *     it back to the same parameters.
 * Every input sits right before a PROT_NONE page (fuzz_guard), so an over-read faults
 * even in the corpus replay without AddressSanitizer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/ws/frame.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *place(const void *p, size_t n)
{
    return (const uint8_t *)guard_place(fuzz_guard(n), p, n);
}

static void check_header(const uint8_t *data, size_t size)
{
    ws_frame f, g;
    ssize_t r = cora__ws_parse_header(place(data, size), size, &f);
    if (r != 0 && r != -WS_CLOSE_PROTOCOL && (r < 2 || r > WS_MAX_HEADER))
        fuzz_fail("header", "a result outside the contract");
    /* Prefixes: "need more" until the header or the error, then the same answer. */
    size_t upto = size < WS_MAX_HEADER + 2 ? size : WS_MAX_HEADER + 2;
    int erred = 0;
    for (size_t k = 0; k <= upto; k++) {
        ssize_t rk = cora__ws_parse_header(place(data, k), k, &g);
        if (rk < 0) {
            if (r >= 0) fuzz_fail("header", "a prefix refused, the whole accepted");
            erred = 1;
        } else if (erred) {
            fuzz_fail("header", "an error undone by more bytes");
        } else if (rk > 0) {
            if (rk != r || memcmp(&f, &g, sizeof(f)) != 0)
                fuzz_fail("header", "a prefix parsed differently from the whole");
        } else if (r > 0 && k >= (size_t)r) {
            fuzz_fail("header", "more bytes asked for than the header has");
        }
    }
    if (r <= 0) return;
    if (f.len >> 63) fuzz_fail("header", "a length with its top bit set");
    if (f.opcode >= 8 && (!f.fin || f.len > WS_MAX_CONTROL))
        fuzz_fail("header", "bad control frame");
    if (!f.masked && memcmp(f.mask, "\0\0\0\0", 4) != 0) fuzz_fail("header", "a mask unmasked");
    uint8_t out[WS_MAX_HEADER];
    size_t n = cora__ws_put_header(out, f.fin, f.rsv, f.opcode, f.masked ? f.mask : NULL, f.len);
    if (n > (size_t)r) fuzz_fail("header", "written longer than the shortest form");
    if (cora__ws_parse_header(place(out, n), n, &g) != (ssize_t)n || memcmp(&f, &g, sizeof(f)) != 0)
        fuzz_fail("header", "written and read back differently");
    if (n == (size_t)r && memcmp(out, data, n) != 0)
        fuzz_fail("header", "a shortest-form header written differently");
}

static void check_mask(const uint8_t *data, size_t size)
{
    if (size < 5) return;
    const uint8_t *mask = data;
    uint64_t off = data[4];
    size_t n = size - 5;
    uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
    memcpy(a, data + 5, n);
    memcpy(b, data + 5, n);
    cora__ws_mask(a, n, mask, off);
    for (size_t i = 0; i < n; i++)
        if (a[i] != (data[5 + i] ^ mask[(off + i) % 4])) fuzz_fail("mask", "differs from XOR");
    size_t at = n ? data[4] % (n + 1) : 0;
    cora__ws_mask(b, at, mask, off);
    cora__ws_mask(b + at, n - at, mask, off + at);
    if (memcmp(a, b, n) != 0) fuzz_fail("mask", "in two pieces differs from whole");
    cora__ws_mask(a, n, mask, off);
    if (memcmp(a, data + 5, n) != 0) fuzz_fail("mask", "twice is not the identity");
    free(a);
    free(b);
}

static void check_utf8(const uint8_t *data, size_t size)
{
    int whole = cora__ws_utf8_valid(place(data, size), size);
    ws_utf8 u;
    cora__ws_utf8_init(&u);
    size_t failed = size;
    for (size_t i = 0; i < size; i++) {
        int r = cora__ws_utf8_feed(&u, place(data + i, 1), 1);
        if (r < 0 && failed == size) failed = i;
        if (r == 0 && failed < size) fuzz_fail("utf8", "a failure did not stick");
    }
    int bytewise = failed == size && cora__ws_utf8_complete(&u);
    if (whole != bytewise) fuzz_fail("utf8", "byte by byte differs from whole");
    if (failed < size && cora__ws_utf8_valid(data, failed + 1))
        fuzz_fail("utf8", "failed at a byte that ends valid text");
    size_t at = size ? (size_t)data[0] * 131 % (size + 1) : 0;
    cora__ws_utf8_init(&u);
    int r = cora__ws_utf8_feed(&u, place(data, at), at);
    if (r == 0) r = cora__ws_utf8_feed(&u, place(data + at, size - at), size - at);
    if ((r == 0 && cora__ws_utf8_complete(&u)) != whole) fuzz_fail("utf8", "a split differs");
    if ((r < 0) != (failed < size)) fuzz_fail("utf8", "a split fails where bytes do not");
}

static void check_close(const uint8_t *data, size_t size)
{
    size_t n = size < WS_MAX_CONTROL ? size : WS_MAX_CONTROL;
    unsigned code = 0;
    int r = cora__ws_parse_close(place(data, n), n, &code);
    int want;
    if (n == 0)
        want = 0;
    else if (n == 1 || !cora__ws_close_code_valid((unsigned)data[0] << 8 | data[1]))
        want = -WS_CLOSE_PROTOCOL;
    else
        want = cora__ws_utf8_valid(data + 2, n - 2) ? 0 : -WS_CLOSE_INVALID_DATA;
    if (r != want) fuzz_fail("close", "a verdict against the rules");
    if (r == 0 && code != (n ? (unsigned)data[0] << 8 | data[1] : WS_CLOSE_NO_STATUS))
        fuzz_fail("close", "the wrong code");
}

static int bits_ok(int b)
{
    return b >= 8 && b <= 15;
}

static void check_deflate(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t n = nul ? (size_t)(nul - data) : size;
    char *s = malloc(n + 1);
    memcpy(s, data, n);
    s[n] = '\0';
    const char *h = (const char *)place(s, n + 1);
    ws_deflate d, e;
    char resp[WS_DEFLATE_RESP_MAX], again[WS_DEFLATE_RESP_MAX];
    int r = cora__ws_deflate_accept(h, &d, resp, sizeof(resp));
    int a = cora__ws_deflate_parse_answer(h, &e);
    if (r < -1 || r > 1 || a < -1 || a > 1) fuzz_fail("deflate", "a result outside the contract");
    if (r == -1 && a != -1) fuzz_fail("deflate", "malformed to the server only");
    if (r != 1 && resp[0]) fuzz_fail("deflate", "a response without an agreement");
    if (a == 1 && (!bits_ok(e.server_max_window_bits) || !bits_ok(e.client_max_window_bits) ||
                   e.client_max_window_bits == 8))
        fuzz_fail("deflate", "answer window bits out of range");
    if (r == 1) {
        if (strncmp(resp, "permessage-deflate", 18) != 0)
            fuzz_fail("deflate", "a response not ours");
        if (!bits_ok(d.server_max_window_bits) || d.server_max_window_bits == 8 ||
            !bits_ok(d.client_max_window_bits))
            fuzz_fail("deflate", "offer window bits out of range");
        /* The response, read as an offer, is accepted with the same response. */
        ws_deflate d2;
        if (cora__ws_deflate_accept(resp, &d2, again, sizeof(again)) != 1 ||
            strcmp(resp, again) != 0 || memcmp(&d, &d2, sizeof(d)) != 0)
            fuzz_fail("deflate", "the response is not a fixed point");
        /* The client reads it back, unless it cannot deflate with that window. */
        int b = cora__ws_deflate_parse_answer(resp, &e);
        if (d.client_max_window_bits == 8 ? b != -1 : b != 1 || memcmp(&d, &e, sizeof(d)) != 0)
            fuzz_fail("deflate", "the client reads the response differently");
        /* Too little room declines. */
        if (cora__ws_deflate_accept(h, &d2, again, strlen(resp)) != 0 || again[0])
            fuzz_fail("deflate", "a response cut short");
    }
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_header(data, size);
    check_mask(data, size);
    check_utf8(data, size);
    check_close(data, size);
    check_deflate(data, size);
    return 0;
}

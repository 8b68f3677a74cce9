/* tests/test_ws_frame.c: the pure WebSocket codec (src/ws/frame.c) against the RFC
 * examples and Autobahn's cases in tests/vectors/websocket-cases.json, plus tables
 * and exhaustive checks of its own.
 *
 * UTF-8 is checked against a reference written differently (it decodes code points
 * and judges them, where cora runs a DFA over byte classes): every payload whole,
 * split in two at every position, fed one byte at a time (where it must fail exactly
 * at the first byte no valid text can continue), and shifted behind ASCII so that
 * cora's word-at-a-time path meets it at every alignment. Frame headers are parsed
 * from right before a PROT_NONE page, so an over-read faults.
 */
#include "harness_pure.h"

#include <jansson.h>
#include <stdlib.h>
#include <zlib.h>

#include "../src/ws/frame.h"
#include "http_driver.h" /* guard pages */

#ifndef CORA_WS_VECTORS
#error "CORA_WS_VECTORS must name tests/vectors/websocket-cases.json"
#endif

/* ---- helpers --------------------------------------------------------------------- */

static json_t *load_cases(void)
{
    json_error_t err;
    json_t *j = json_load_file(CORA_WS_VECTORS, 0, &err);
    if (!j) fail_msg("%s: %s", CORA_WS_VECTORS, err.text);
    assert_true(json_is_object(j));
    return j;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The bytes of a hex string (malloc'd; at least one byte allocated). */
static uint8_t *unhex(const char *h, size_t *n)
{
    size_t len = strlen(h);
    assert_int_equal(len % 2, 0);
    uint8_t *out = malloc(len / 2 + 1);
    for (size_t i = 0; i < len / 2; i++) {
        int a = hexval(h[2 * i]), b = hexval(h[2 * i + 1]);
        assert_true(a >= 0 && b >= 0);
        out[i] = (uint8_t)(a << 4 | b);
    }
    *n = len / 2;
    return out;
}

static uint8_t *json_hex(const json_t *o, const char *key, size_t *n)
{
    const char *h = json_string_value(json_object_get(o, key));
    if (!h) fail_msg("no hex string \"%s\"", key);
    return unhex(h, n);
}

static guard g_guard;

/* p[0..n) copied so that its last byte is the last readable one. */
static const uint8_t *guarded(const void *p, size_t n)
{
    if (!g_guard.base) guard_init(&g_guard, 1 << 20);
    return (const uint8_t *)guard_place(&g_guard, p, n);
}

/* ---- UTF-8: the reference --------------------------------------------------------- */

/* Decodes p[0..n) code point by code point: 1 if it is UTF-8 (RFC 3629), else 0. */
static int ref_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned b = p[i];
        size_t len;
        uint32_t cp, min;
        if (b < 0x80) {
            i++;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            len = 2, cp = b & 0x1f, min = 0x80;
        } else if ((b & 0xf0) == 0xe0) {
            len = 3, cp = b & 0x0f, min = 0x800;
        } else if ((b & 0xf8) == 0xf0) {
            len = 4, cp = b & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + len > n) return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80) return 0;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        i += len;
    }
    return 1;
}

/* Whether p[0..n) begins some valid text: valid, or made valid by one to three more
 * continuation bytes. Only the last character can be cut, so the text up to its lead
 * byte must be valid and the rest completable. The second byte of a character must
 * lie in one of A0-BF, 80-9F, 90-BF, 80-8F, 80-BF, and each of those holds one of
 * the bytes tried. */
static int ref_viable(const uint8_t *p, size_t n)
{
    static const uint8_t cont[] = {0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf};
    if (ref_valid(p, n)) return 1;
    size_t s = n;
    do {
        if (s == 0 || n - s == 4) return 0;
        s--;
    } while ((p[s] & 0xc0) == 0x80);
    if (!ref_valid(p, s)) return 0;
    uint8_t buf[4];
    size_t t = n - s;
    memcpy(buf, p + s, t);
    for (size_t a = 0; a < 6 && t + 1 <= 4; a++) {
        buf[t] = cont[a];
        if (ref_valid(buf, t + 1)) return 1;
        for (size_t b = 0; b < 6 && t + 2 <= 4; b++) {
            buf[t + 1] = cont[b];
            if (ref_valid(buf, t + 2)) return 1;
            for (size_t c = 0; c < 6 && t + 3 <= 4; c++) {
                buf[t + 2] = cont[c];
                if (ref_valid(buf, t + 3)) return 1;
            }
        }
    }
    return 0;
}

/* The index of the first byte after which no valid text can follow, or n. */
static size_t ref_fail_at(const uint8_t *p, size_t n)
{
    for (size_t k = 1; k <= n; k++)
        if (!ref_viable(p, k)) return k - 1;
    return n;
}

/* Feeds p[0..n) to cora one byte at a time, each byte right before the guard page.
 * Returns the index of the byte the validator failed at, or n; *complete as at the
 * end. After a failure, the state must stay failed. */
static size_t feed_bytewise(const uint8_t *p, size_t n, int *complete)
{
    ws_utf8 u;
    cora__ws_utf8_init(&u);
    for (size_t i = 0; i < n; i++) {
        if (cora__ws_utf8_feed(&u, guarded(p + i, 1), 1) < 0) {
            assert_int_equal(cora__ws_utf8_feed(&u, (const uint8_t *)"a", 1), -1);
            assert_false(cora__ws_utf8_complete(&u));
            *complete = 0;
            return i;
        }
    }
    *complete = cora__ws_utf8_complete(&u);
    return n;
}

/* Feeds p[0..n) in two calls split at `at`: 1 if valid and complete. */
static int feed_split(const uint8_t *p, size_t n, size_t at)
{
    ws_utf8 u;
    cora__ws_utf8_init(&u);
    int r = cora__ws_utf8_feed(&u, guarded(p, at), at);
    if (r == 0) r = cora__ws_utf8_feed(&u, guarded(p + at, n - at), n - at);
    return r == 0 && cora__ws_utf8_complete(&u);
}

/* Every way of feeding p[0..n) agrees with the reference, which must agree with
 * `expect` (-1 for "no expectation"). Returns whether the input is valid. */
static int check_utf8_all_ways(const uint8_t *p, size_t n, int expect, const char *label)
{
    int valid = ref_valid(p, n);
    if (expect >= 0 && valid != expect) fail_msg("%s: the reference says %d", label, valid);
    if (cora__ws_utf8_valid(guarded(p, n), n) != valid) fail_msg("%s: whole: wrong verdict", label);
    int complete;
    size_t at = feed_bytewise(p, n, &complete), want = ref_fail_at(p, n);
    if (at != want) fail_msg("%s: byte by byte failed at %zu, must at %zu", label, at, want);
    if (complete != valid) fail_msg("%s: byte by byte: complete %d", label, complete);
    for (size_t i = 0; i <= n; i++)
        if (feed_split(p, n, i) != valid) fail_msg("%s: split at %zu: wrong verdict", label, i);
    return valid;
}

/* ---- UTF-8: the cases ---------------------------------------------------------------- */

/* Autobahn's 6.x payloads, as they are and behind 0..8 ASCII bytes with 9 after. */
static void utf8_payloads(void **state)
{
    json_t *all = load_cases();
    json_t *list = json_object_get(all, "utf8_payloads");
    size_t i, nvalid = 0, count = json_array_size(list);
    json_t *e;
    assert_true(count >= 100);
    json_array_foreach(list, i, e)
    {
        size_t n;
        uint8_t *p = json_hex(e, "hex", &n);
        const char *label = json_string_value(json_object_get(e, "case"));
        int expect = json_is_true(json_object_get(e, "valid"));
        nvalid += check_utf8_all_ways(p, n, expect, label);
        uint8_t *padded = malloc(n + 17);
        for (size_t k = 0; k <= 8; k++) {
            memset(padded, 'a', n + 17);
            memcpy(padded + k, p, n);
            char l2[64];
            snprintf(l2, sizeof(l2), "%s behind %zu ASCII bytes", label, k);
            check_utf8_all_ways(padded, k + n + 9, expect, l2);
        }
        free(padded);
        free(p);
    }
    printf("utf8: %zu payloads, %zu valid, %zu invalid, each fed every way\n", count, nvalid,
           count - nvalid);
    json_decref(all);
}

/* Every code point 0..1FFFFF encoded in every length 1..4 it fits in: valid exactly
 * for the shortest form of a scalar value, and a failure comes at the lead byte when
 * the lead byte alone rules it out (C0, C1, F5-F7), else at the second byte (the
 * overlong, surrogate and too-large forms all show there). */
static void utf8_code_points(void **state)
{
    static const unsigned bits[] = {7, 11, 16, 21};
    static const uint8_t lead[] = {0x00, 0xc0, 0xe0, 0xf0};
    size_t checked = 0;
    for (uint32_t cp = 0; cp < 0x200000; cp++) {
        for (unsigned len = 1; len <= 4; len++) {
            if (cp >> bits[len - 1]) continue;
            uint8_t b[4];
            for (unsigned k = len - 1; k > 0; k--)
                b[k] = (uint8_t)(0x80 | ((cp >> (6 * (len - 1 - k))) & 0x3f));
            b[0] = (uint8_t)(lead[len - 1] | (cp >> (6 * (len - 1))));
            unsigned shortest = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
            int want = len == shortest && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
            if (cora__ws_utf8_valid(b, len) != want)
                fail_msg("U+%04X in %u bytes: verdict %d", cp, len, !want);
            int complete;
            size_t at = feed_bytewise(b, len, &complete);
            size_t must = want ? len : (b[0] == 0xc0 || b[0] == 0xc1 || b[0] >= 0xf5) ? 0 : 1;
            if (at != must)
                fail_msg("U+%04X in %u bytes: failed at %zu, must at %zu", cp, len, at, must);
            checked++;
        }
    }
    printf("utf8: %zu encodings checked\n", checked);
}

/* All strings of one and two bytes fed every way, and all of three bytes whole,
 * against the reference. */
static void utf8_exhaustive(void **state)
{
    for (unsigned a = 0; a < 256; a++) {
        uint8_t b1[1] = {(uint8_t)a};
        check_utf8_all_ways(b1, 1, -1, "one byte");
        for (unsigned b = 0; b < 256; b++) {
            uint8_t b2[2] = {(uint8_t)a, (uint8_t)b};
            int complete;
            if (feed_bytewise(b2, 2, &complete) != ref_fail_at(b2, 2))
                fail_msg("%02x %02x: failed at the wrong byte", a, b);
            if (cora__ws_utf8_valid(b2, 2) != ref_valid(b2, 2)) fail_msg("%02x %02x", a, b);
        }
    }
    size_t nvalid = 0;
    for (uint32_t v = 0; v < (1u << 24); v++) {
        uint8_t b3[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        int r = ref_valid(b3, 3);
        if (cora__ws_utf8_valid(b3, 3) != r) fail_msg("%06x: verdict", v);
        nvalid += r;
    }
    printf("utf8: all 2^24 three-byte strings: %zu valid\n", nvalid);
}

/* Long ASCII runs (the word-at-a-time path) with a bad byte at every position, fed in
 * one call; a failure sticks; characters cut anywhere are not complete. */
static void utf8_runs_and_state(void **state)
{
    static const uint8_t bad[] = {0x80, 0xbf, 0xc0, 0xc1, 0xf5, 0xff};
    uint8_t buf[64];
    for (size_t k = 0; k < sizeof(bad); k++) {
        for (size_t at = 0; at < sizeof(buf); at++) {
            memset(buf, 'x', sizeof(buf));
            buf[at] = bad[k];
            assert_false(cora__ws_utf8_valid(guarded(buf, sizeof(buf)), sizeof(buf)));
            int complete;
            assert_int_equal(feed_bytewise(buf, sizeof(buf), &complete), at);
            ws_utf8 u;
            cora__ws_utf8_init(&u);
            assert_int_equal(cora__ws_utf8_feed(&u, buf, at), 0);
            assert_int_equal(cora__ws_utf8_feed(&u, buf + at, sizeof(buf) - at), -1);
            assert_int_equal(cora__ws_utf8_feed(&u, (const uint8_t *)"ok", 2), -1);
            assert_false(cora__ws_utf8_complete(&u));
        }
    }
    /* U+20AC U+10348 U+00E9 cut after each byte: complete only between characters. */
    static const uint8_t text[] = {0xe2, 0x82, 0xac, 0xf0, 0x90, 0x8d, 0x88, 0xc3, 0xa9};
    static const int boundary[] = {1, 0, 0, 1, 0, 0, 0, 1, 0, 1};
    ws_utf8 u;
    cora__ws_utf8_init(&u);
    assert_true(cora__ws_utf8_complete(&u));
    for (size_t i = 0; i < sizeof(text); i++) {
        assert_int_equal(cora__ws_utf8_feed(&u, text + i, 1), 0);
        assert_int_equal(cora__ws_utf8_complete(&u), boundary[i + 1]);
    }
    assert_int_equal(cora__ws_utf8_feed(&u, NULL, 0), 0);
    assert_true(cora__ws_utf8_valid(NULL, 0));
}

/* ---- frame headers ----------------------------------------------------------------- */

static void check_prefixes_need_more(const uint8_t *h, size_t hlen)
{
    ws_frame f;
    for (size_t k = 0; k < hlen; k++)
        if (cora__ws_parse_header(guarded(h, k), k, &f) != 0)
            fail_msg("a %zu-byte prefix of a %zu-byte header did not ask for more", k, hlen);
}

/* RFC 6455 5.7: the example frames decode to their payloads, and cora writes the
 * same headers. */
static void rfc6455_frames(void **state)
{
    json_t *all = load_cases();
    json_t *frames = json_object_get(json_object_get(all, "rfc6455"), "frames");
    size_t i;
    json_t *e;
    assert_true(json_array_size(frames) >= 8);
    json_array_foreach(frames, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        int whole = json_object_get(e, "hex") != NULL;
        size_t n;
        uint8_t *p = json_hex(e, whole ? "hex" : "hex_header", &n);
        ws_frame f;
        ssize_t h = cora__ws_parse_header(guarded(p, n), n, &f);
        if (h <= 0) fail_msg("%s: parse gave %zd", name, h);
        assert_int_equal(f.opcode, json_integer_value(json_object_get(e, "opcode")));
        assert_int_equal(f.fin, json_is_true(json_object_get(e, "fin")));
        assert_int_equal(f.masked, json_is_true(json_object_get(e, "masked")));
        assert_int_equal(f.rsv, 0);
        uint8_t *mask = NULL;
        if (f.masked) {
            size_t mn;
            mask = json_hex(e, "mask_hex", &mn);
            assert_int_equal(mn, 4);
            assert_memory_equal(f.mask, mask, 4);
        }
        if (whole) {
            const char *text = json_string_value(json_object_get(e, "payload_text"));
            assert_int_equal(f.len, n - (size_t)h);
            assert_int_equal(f.len, strlen(text));
            cora__ws_mask(p + h, (size_t)f.len, f.mask, 0);
            assert_memory_equal(p + h, text, strlen(text));
        } else {
            assert_int_equal((size_t)h, n);
            assert_int_equal(f.len, json_integer_value(json_object_get(e, "payload_len")));
        }
        uint8_t out[WS_MAX_HEADER];
        size_t olen = cora__ws_put_header(out, f.fin, 0, f.opcode, mask, f.len);
        assert_int_equal(olen, (size_t)h);
        assert_memory_equal(out, p, olen);
        check_prefixes_need_more(p, (size_t)h);
        free(mask);
        free(p);
    }
    json_decref(all);
}

/* Every length boundary, with and without a mask: the encoding's size and bytes, and
 * the length read back; a 64-bit length with its top bit set is refused as soon as
 * its first byte arrives. */
static void header_lengths(void **state)
{
    static const struct {
        uint64_t len;
        size_t ext;
        const char *hex; /* the second byte on, unmasked */
    } cases[] = {
        {0, 0, "00"},
        {1, 0, "01"},
        {125, 0, "7d"},
        {126, 2, "7e007e"},
        {127, 2, "7e007f"},
        {65535, 2, "7effff"},
        {65536, 8, "7f0000000000010000"},
        {UINT64_C(4294967296), 8, "7f0000000100000000"},
        {UINT64_C(0x7fffffffffffffff), 8, "7f7fffffffffffffff"},
    };
    static const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int m = 0; m <= 1; m++) {
            uint8_t out[WS_MAX_HEADER];
            size_t hl = cora__ws_put_header(out, 1, 0, WS_OP_BINARY, m ? mask : NULL, cases[i].len);
            assert_int_equal(hl, 2 + cases[i].ext + (m ? 4 : 0));
            size_t wn;
            uint8_t *want = unhex(cases[i].hex, &wn);
            want[0] |= m ? 0x80 : 0;
            assert_int_equal(out[0], 0x82);
            assert_memory_equal(out + 1, want, wn);
            if (m) assert_memory_equal(out + 1 + wn, mask, 4);
            free(want);
            ws_frame f;
            assert_int_equal(cora__ws_parse_header(guarded(out, hl), hl, &f), (ssize_t)hl);
            assert_true(f.len == cases[i].len);
            assert_int_equal(f.masked, m);
            check_prefixes_need_more(out, hl);
        }
    }
    /* 2^63 and 2^64-1: refused at the first length byte, masked or not. */
    for (int top = 0x80; top <= 0xff; top += 0x7f) {
        for (int m = 0; m <= 1; m++) {
            uint8_t h[14] = {0x82, (uint8_t)(127 | (m ? 0x80 : 0)), (uint8_t)top};
            ws_frame f;
            for (size_t k = 3; k <= sizeof(h); k++)
                assert_int_equal(cora__ws_parse_header(guarded(h, k), k, &f), -WS_CLOSE_PROTOCOL);
            assert_int_equal(cora__ws_parse_header(guarded(h, 2), 2, &f), 0);
        }
    }
}

/* What is refused and how early: reserved opcodes and fragmented control frames at
 * the first byte, control frames over 125 bytes at the second. Reserved bits and
 * masking are reported. */
static void header_errors(void **state)
{
    ws_frame f;
    for (unsigned op = 0; op < 16; op++) {
        for (unsigned b0hi = 0; b0hi < 16; b0hi++) { /* FIN and RSV1-3 */
            uint8_t h[2] = {(uint8_t)(b0hi << 4 | op), 5};
            int fin = b0hi >> 3, reserved = (op >= 3 && op <= 7) || op >= 11;
            int bad = reserved || (op >= 8 && !fin);
            ssize_t r1 = cora__ws_parse_header(guarded(h, 1), 1, &f);
            ssize_t r2 = cora__ws_parse_header(guarded(h, 2), 2, &f);
            if (bad) {
                assert_int_equal(r1, -WS_CLOSE_PROTOCOL);
                assert_int_equal(r2, -WS_CLOSE_PROTOCOL);
            } else {
                assert_int_equal(r1, 0);
                assert_int_equal(r2, 2);
                assert_int_equal(f.rsv, b0hi & 7);
                assert_int_equal(f.fin, fin);
                assert_int_equal(f.opcode, op);
            }
        }
    }
    for (unsigned op = WS_OP_CLOSE; op <= WS_OP_PONG; op++) {
        for (unsigned len7 = 124; len7 <= 127; len7++) {
            uint8_t h[2] = {(uint8_t)(0x80 | op), (uint8_t)(0x80 | len7)};
            ssize_t r = cora__ws_parse_header(guarded(h, 2), 2, &f);
            assert_int_equal(r, len7 <= 125 ? 0 : -WS_CLOSE_PROTOCOL); /* 0: the mask is due */
        }
    }
}

/* put then parse gives back every field, for every opcode, FIN, RSV and mask and
 * lengths at each boundary; every truncation asks for more; bytes after the header
 * change nothing. Reserved opcodes and bad control frames written are refused. */
static void header_round_trip(void **state)
{
    static const uint64_t lens[] = {0, 1, 125, 126, 65535, 65536, UINT64_C(0x7fffffffffffffff)};
    static const uint8_t mask[4] = {1, 2, 3, 4};
    size_t checked = 0;
    for (int op = 0; op < 16; op++) {
        for (int fin = 0; fin <= 1; fin++) {
            for (int rsv = 0; rsv < 8; rsv++) {
                for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
                    for (int m = 0; m <= 1; m++) {
                        uint8_t out[WS_MAX_HEADER + 3];
                        size_t hl =
                            cora__ws_put_header(out, fin, rsv, op, m ? mask : NULL, lens[li]);
                        assert_true(hl >= 2 && hl <= WS_MAX_HEADER);
                        memcpy(out + hl, "abc", 3);
                        ws_frame f;
                        memset(&f, 0xee, sizeof(f));
                        ssize_t r = cora__ws_parse_header(guarded(out, hl + 3), hl + 3, &f);
                        int bad = (op >= 3 && op <= 7) || op >= 11 ||
                                  (op >= 8 && (!fin || lens[li] > 125));
                        if (bad) {
                            assert_int_equal(r, -WS_CLOSE_PROTOCOL);
                            continue;
                        }
                        assert_int_equal(r, (ssize_t)hl);
                        assert_int_equal(f.fin, fin);
                        assert_int_equal(f.rsv, rsv);
                        assert_int_equal(f.opcode, op);
                        assert_int_equal(f.masked, m);
                        assert_true(f.len == lens[li]);
                        if (m) assert_memory_equal(f.mask, mask, 4);
                        check_prefixes_need_more(out, hl);
                        checked++;
                    }
                }
            }
        }
    }
    printf("headers: %zu round trips\n", checked);
}

/* ---- masking ------------------------------------------------------------------------ */

/* Every length 0..64 at every alignment and payload offset, against a byte-by-byte
 * reference; a payload unmasked in two pieces equals one unmasked whole. */
static void mask_offsets(void **state)
{
    static const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    static const uint64_t offsets[] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 125, UINT64_C(0x100000003), UINT64_MAX};
    uint8_t src[80], buf[80], want[80];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 151 + 7);
    for (size_t len = 0; len <= 64; len++) {
        for (size_t align = 0; align < 8; align++) {
            for (size_t oi = 0; oi < sizeof(offsets) / sizeof(offsets[0]); oi++) {
                uint64_t off = offsets[oi];
                memcpy(buf, src, sizeof(buf));
                memcpy(want, src, sizeof(want));
                for (size_t k = 0; k < len; k++)
                    want[align + k] ^= mask[(off + k) % 4];
                cora__ws_mask(buf + align, len, mask, off);
                if (memcmp(buf, want, sizeof(buf)) != 0)
                    fail_msg("length %zu, alignment %zu, offset %llu", len, align,
                             (unsigned long long)off);
                cora__ws_mask(buf + align, len, mask, off);
                assert_memory_equal(buf, src, sizeof(buf));
            }
        }
    }
    for (size_t at = 0; at <= 64; at++) {
        memcpy(buf, src, 64);
        memcpy(want, src, 64);
        cora__ws_mask(want, 64, mask, 0);
        cora__ws_mask(buf, at, mask, 0);
        cora__ws_mask(buf + at, 64 - at, mask, at);
        assert_memory_equal(buf, want, 64);
    }
}

/* ---- the handshake ---------------------------------------------------------------- */

static void rfc6455_handshake(void **state)
{
    json_t *all = load_cases();
    json_t *hs = json_object_get(json_object_get(all, "rfc6455"), "handshake");
    const char *key = json_string_value(json_object_get(hs, "sec_websocket_key"));
    const char *accept = json_string_value(json_object_get(hs, "sec_websocket_accept"));
    const char *response = json_string_value(json_object_get(hs, "response"));
    assert_non_null(key);
    assert_true(cora__ws_key_valid(key, strlen(key)));
    char out[29];
    memset(out, 'z', sizeof(out));
    cora__ws_accept_key(key, strlen(key), out);
    assert_string_equal(out, accept);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    char line[64];
    snprintf(line, sizeof(line), "\r\nSec-WebSocket-Accept: %s\r\n", out);
    assert_non_null(strstr(response, line));
    /* Only len bytes of the key count. */
    cora__ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==trailing", 24, out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    cora__ws_accept_key("", 0, out);
    assert_string_equal(out, "Kfh9QIsMVZcl6xEPYxPHzW8SZ8w=");
    json_decref(all);
}

static void key_shapes(void **state)
{
    static const char *bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",   /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===", /* 25 */
        "dGhlIHNhbXBsZSBub25jZQAA",  /* no padding */
        "dGhlIHNhbXBsZSBub25jZ*==",  /* not base64 */
        "dGhlIHNhbXBsZSBub25jZ-==",  /* base64url */
        "dGhlIHNhbXBsZSBub25jZR==",  /* bits past the 16 bytes */
        "dGhlIHNhbXBsZSBub25j=Q==",  /* padding inside */
        "AAAAAAAAAAAAAAAAAAAAAAA=",  /* 17 bytes */
        "AAAAAAAAAAAAAAAAAAAA",      /* 15 bytes */
        " GhlIHNhbXBsZSBub25jZQ==",  /* whitespace */
        "dGhlIHNhbXBsZSBub25jZQ=\0", /* NUL */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 24 : strlen(bad[i]);
        if (cora__ws_key_valid(bad[i], n)) fail_msg("key \"%s\" accepted", bad[i]);
    }
    assert_false(cora__ws_key_valid(NULL, 0));
    assert_true(cora__ws_key_valid("dGhlIHNhbXBsZSBub25jZQ==trailing", 24));
    /* Every 16 bytes, encoded as base64 does it, pass: each value of every digit. */
    for (unsigned v = 0; v < 256; v++) {
        uint8_t raw[16];
        for (size_t k = 0; k < 16; k++)
            raw[k] = (uint8_t)(v + 37 * k);
        raw[15] = (uint8_t)v;
        char enc[29];
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        size_t o = 0;
        for (size_t k = 0; k < 15; k += 3) {
            uint32_t w = (uint32_t)raw[k] << 16 | raw[k + 1] << 8 | raw[k + 2];
            for (int s = 18; s >= 0; s -= 6)
                enc[o++] = b64[(w >> s) & 63];
        }
        enc[o++] = b64[raw[15] >> 2];
        enc[o++] = b64[(raw[15] & 3) << 4];
        enc[o++] = '=';
        enc[o++] = '=';
        enc[o] = '\0';
        if (!cora__ws_key_valid(enc, 24)) fail_msg("key \"%s\" refused", enc);
    }
}

/* ---- close frames -------------------------------------------------------------------- */

/* cora's list (frame.h): 1000-1003, 1007-1014, 3000-4999. */
static int contract_code(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* Every code against the list, and the RFC example's lists in the JSON (which counts
 * 1012-1014, registered with IANA after RFC 6455, as valid too). */
static void close_codes(void **state)
{
    for (unsigned c = 0; c <= 65535; c++)
        if (cora__ws_close_code_valid(c) != contract_code(c)) fail_msg("code %u", c);
    json_t *all = load_cases();
    json_t *cc = json_object_get(json_object_get(all, "rfc6455"), "close_codes");
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(cc, "valid_to_send_and_receive"), i, v)
    {
        if (json_is_integer(v)) {
            unsigned c = (unsigned)json_integer_value(v);
            assert_true(cora__ws_close_code_valid(c));
        } else {
            assert_string_equal(json_string_value(v), "3000-4999");
            for (unsigned c = 3000; c <= 4999; c++)
                assert_true(cora__ws_close_code_valid(c));
        }
    }
    json_array_foreach(json_object_get(cc, "must_not_appear_in_close_frame"), i, v)
        assert_false(cora__ws_close_code_valid((unsigned)json_integer_value(v)));
    json_array_foreach(json_object_get(cc, "invalid"), i, v)
    {
        unsigned lo, hi;
        const char *s = json_string_value(v);
        if (sscanf(s, "%u-%u", &lo, &hi) != 2) {
            assert_string_equal(s, "over 4999");
            lo = 5000, hi = 65535;
        }
        for (unsigned c = lo; c <= hi; c++)
            assert_false(cora__ws_close_code_valid(c));
    }
    json_decref(all);
}

static int parse_close(const void *p, size_t n, unsigned *code)
{
    return cora__ws_parse_close(guarded(p, n), n, code);
}

/* Close payloads: empty, one byte, every code 0..5000, reasons up to the limit and
 * past it, a reason that is not UTF-8. */
static void close_payloads(void **state)
{
    unsigned code = 0;
    assert_int_equal(parse_close("", 0, &code), 0);
    assert_int_equal(code, WS_CLOSE_NO_STATUS);
    for (unsigned b = 0; b < 256; b++) {
        uint8_t one = (uint8_t)b;
        assert_int_equal(parse_close(&one, 1, &code), -WS_CLOSE_PROTOCOL);
    }
    for (unsigned c = 0; c <= 5000; c++) {
        uint8_t p[2] = {(uint8_t)(c >> 8), (uint8_t)c};
        code = 0;
        int r = parse_close(p, 2, &code);
        if (contract_code(c)) {
            assert_int_equal(r, 0);
            assert_int_equal(code, c);
        } else {
            assert_int_equal(r, -WS_CLOSE_PROTOCOL);
        }
    }
    uint8_t p[130];
    p[0] = 0x03, p[1] = 0xe8; /* 1000 */
    memset(p + 2, '*', sizeof(p) - 2);
    assert_int_equal(parse_close(p, 125, &code), 0);
    assert_int_equal(code, 1000);
    assert_int_equal(parse_close(p, 126, &code), -WS_CLOSE_PROTOCOL);
    memcpy(p + 2, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", 11); /* κόσμε */
    assert_int_equal(parse_close(p, 13, &code), 0);
    assert_int_equal(parse_close(p, 12, &code), -WS_CLOSE_INVALID_DATA); /* cut in the middle */
    memcpy(p + 2, "\xed\xa0\x80", 3);                                    /* a surrogate */
    assert_int_equal(parse_close(p, 5, &code), -WS_CLOSE_INVALID_DATA);
    p[0] = 0x03, p[1] = 0xed; /* 1005, with the bad reason: the code is judged first */
    assert_int_equal(parse_close(p, 5, &code), -WS_CLOSE_PROTOCOL);
}

/* Autobahn's family 7: each close frame the client sends is accepted exactly when
 * a correct server answers it with a normal close. */
static void close_autobahn(void **state)
{
    json_t *all = load_cases();
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(json_object_get(all, "cases"), i, c)
    {
        const char *id = json_string_value(json_object_get(c, "id"));
        if (strncmp(id, "7.", 2) != 0) continue;
        size_t k;
        json_t *a;
        json_array_foreach(json_object_get(c, "client_actions"), k, a)
        {
            const char *op = json_string_value(json_object_get(a, "op"));
            if (strcmp(op, "close_frame_raw") != 0 && strcmp(op, "close") != 0) continue;
            uint8_t p[512];
            size_t n = 0;
            json_t *jc = json_object_get(a, "code"), *jr = json_object_get(a, "reason");
            if (json_is_integer(jc)) {
                unsigned v = (unsigned)json_integer_value(jc);
                p[n++] = (uint8_t)(v >> 8), p[n++] = (uint8_t)v;
            }
            if (json_is_string(jr)) {
                size_t rl = strlen(json_string_value(jr));
                assert_true(n + rl <= sizeof(p));
                memcpy(p + n, json_string_value(jr), rl), n += rl;
            } else if (json_is_object(jr)) {
                size_t rl;
                uint8_t *r = json_hex(jr, "hex", &rl);
                assert_true(n + rl <= sizeof(p));
                memcpy(p + n, r, rl), n += rl;
                free(r);
            }
            /* The codes a correct server may answer with; 1000 means a normal close. */
            json_t *codes = json_object_get(json_object_get(c, "expected_close"), "codes");
            int normal = 0, e1002 = 0, e1007 = 0;
            size_t j;
            json_t *x;
            json_array_foreach(codes, j, x)
            {
                json_int_t v = json_integer_value(x);
                normal |= v == 1000, e1002 |= v == 1002, e1007 |= v == 1007;
            }
            int informational = json_is_true(json_object_get(c, "informational"));
            unsigned code = 0;
            int r = parse_close(p, n, &code);
            if (informational) {
                /* 7.1.6 and 7.13.x (codes 5000 and 65535): any answer passes; ours
                 * follows the list. */
                int ok = !json_is_integer(jc) || contract_code((unsigned)json_integer_value(jc));
                assert_int_equal(r, ok ? 0 : -WS_CLOSE_PROTOCOL);
            } else if (normal) {
                if (r != 0) fail_msg("%s: refused with %d", id, r);
                assert_int_equal(code, json_is_integer(jc) ? (unsigned)json_integer_value(jc)
                                                           : WS_CLOSE_NO_STATUS);
            } else {
                if (!((e1002 && r == -WS_CLOSE_PROTOCOL) || (e1007 && r == -WS_CLOSE_INVALID_DATA)))
                    fail_msg("%s: gave %d", id, r);
            }
            checked++;
        }
    }
    assert_true(checked >= 30);
    printf("close: %zu close frames of Autobahn's family 7 checked\n", checked);
    json_decref(all);
}

/* ---- permessage-deflate ------------------------------------------------------------- */

typedef struct pmd_case {
    const char *header;
    int ret;
    const char *resp; /* for accept: the response text */
    int snct, cnct, smwb, cmwb;
} pmd_case;

#define PMD "permessage-deflate"

static const pmd_case offers[] = {
    {NULL, 0, "", 0, 0, 15, 15},
    {"", 0, "", 0, 0, 15, 15},
    {" \t ", 0, "", 0, 0, 15, 15},
    {", ,", 0, "", 0, 0, 15, 15},
    {PMD, 1, PMD, 0, 0, 15, 15},
    {PMD "; client_max_window_bits", 1, PMD, 0, 0, 15, 15},
    {PMD "; client_max_window_bits=10", 1, PMD "; client_max_window_bits=10", 0, 0, 15, 10},
    {PMD "; server_no_context_takeover; client_max_window_bits=10", 1,
     PMD "; server_no_context_takeover; client_max_window_bits=10", 1, 0, 15, 10},
    {PMD "; client_max_window_bits=8", 1, PMD "; client_max_window_bits=8", 0, 0, 15, 8},
    {PMD "; client_no_context_takeover", 1, PMD "; client_no_context_takeover", 0, 1, 15, 15},
    {PMD "; server_max_window_bits=9", 1, PMD "; server_max_window_bits=9", 0, 0, 9, 15},
    {PMD "; server_max_window_bits=15", 1, PMD "; server_max_window_bits=15", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=\"10\"", 1, PMD "; server_max_window_bits=10", 0, 0, 10, 15},
    {PMD "; client_max_window_bits=\"1\\2\"", 1, PMD "; client_max_window_bits=12", 0, 0, 15, 12},
    /* all four, in another order: the longest response */
    {PMD "; client_max_window_bits=15; server_max_window_bits=15; client_no_context_takeover;"
         " server_no_context_takeover",
     1,
     PMD "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=15;"
         " client_max_window_bits=15",
     1, 1, 15, 15},
    /* whitespace around every separator, tabs, case */
    {" permessage-deflate ;server_no_context_takeover ;\tclient_max_window_bits = 12 ,foo ", 1,
     PMD "; server_no_context_takeover; client_max_window_bits=12", 1, 0, 15, 12},
    {"Permessage-Deflate; Server_No_Context_Takeover", 1, PMD "; server_no_context_takeover", 1, 0,
     15, 15},
    /* declined offers */
    {PMD "; server_max_window_bits=8", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=7", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=16", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=09", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=010", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=1a", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=-9", 0, "", 0, 0, 15, 15},
    {PMD "; client_max_window_bits=16", 0, "", 0, 0, 15, 15},
    {PMD "; client_max_window_bits=0", 0, "", 0, 0, 15, 15},
    {PMD "; server_no_context_takeover=1", 0, "", 0, 0, 15, 15},
    {PMD "; client_no_context_takeover=\"x\"", 0, "", 0, 0, 15, 15},
    {PMD "; server_no_context_takeover; server_no_context_takeover", 0, "", 0, 0, 15, 15},
    {PMD "; client_no_context_takeover; client_no_context_takeover", 0, "", 0, 0, 15, 15},
    {PMD "; server_max_window_bits=10; server_max_window_bits=10", 0, "", 0, 0, 15, 15},
    {PMD "; client_max_window_bits; client_max_window_bits=10", 0, "", 0, 0, 15, 15},
    {PMD "; foo", 0, "", 0, 0, 15, 15},
    {PMD "; x-server_no_context_takeover", 0, "", 0, 0, 15, 15},
    {"foo; bar=baz", 0, "", 0, 0, 15, 15},
    {"x-webkit-deflate-frame", 0, "", 0, 0, 15, 15},
    {"permessage-deflat", 0, "", 0, 0, 15, 15},
    /* the first acceptable offer wins, other extensions are skipped */
    {PMD "; server_max_window_bits=8, " PMD "; server_max_window_bits=10", 1,
     PMD "; server_max_window_bits=10", 0, 0, 10, 15},
    {PMD "; foo, " PMD "; client_no_context_takeover", 1, PMD "; client_no_context_takeover", 0, 1,
     15, 15},
    {"x-webkit-deflate-frame; no_context_takeover, mux; quota=\"1\", " PMD, 1, PMD, 0, 0, 15, 15},
    {PMD ", " PMD "; server_no_context_takeover", 1, PMD, 0, 0, 15, 15},
    {", , " PMD " , ,", 1, PMD, 0, 0, 15, 15},
};

/* Headers that break RFC 6455 9.1's grammar, refused whole by both sides even where
 * a good offer comes first. */
static const char *malformed[] = {
    PMD ";",
    PMD "; ",
    PMD "; ; server_no_context_takeover",
    ";" PMD,
    PMD "; =10",
    PMD "; client_max_window_bits=",
    PMD "; client_max_window_bits=\"",
    PMD "; client_max_window_bits=\"10",
    PMD "; client_max_window_bits=\"\"",
    PMD "; client_max_window_bits=\"1 0\"",
    PMD "; client_max_window_bits=\"10\\\"",
    PMD "; client_max_window_bits=\"1\\\"0\"",
    PMD "; client_max_window_bits=1 0",
    PMD "; client_max_window_bits=10=11",
    PMD "; client_max_window_bits==10",
    PMD "; a b",
    "permessage deflate",
    "\"" PMD "\"",
    PMD ", foo;",
    PMD ", foo bar",
    PMD "; server_no_context_takeover, =",
    "per@message-deflate",
    PMD "\r\n",
    PMD "\r\n ; server_no_context_takeover",
    PMD "; client_max_window_bits=1\x80",
    PMD ";\x01",
    PMD "; a=\"b\" c",
    PMD "; a=(b)",
    "; a",
};

static void deflate_offers(void **state)
{
    for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
        const pmd_case *c = &offers[i];
        ws_deflate d;
        memset(&d, 0x55, sizeof(d));
        char resp[WS_DEFLATE_RESP_MAX];
        memset(resp, 'z', sizeof(resp));
        int r = cora__ws_deflate_accept(c->header, &d, resp, sizeof(resp));
        if (r != c->ret) fail_msg("offer \"%s\": %d, want %d", c->header, r, c->ret);
        if (strcmp(resp, c->resp) != 0) fail_msg("offer \"%s\": response \"%s\"", c->header, resp);
        if (r != 1) continue;
        assert_int_equal(d.server_no_context_takeover, c->snct);
        assert_int_equal(d.client_no_context_takeover, c->cnct);
        assert_int_equal(d.server_max_window_bits, c->smwb);
        assert_int_equal(d.client_max_window_bits, c->cmwb);
        /* The client reading that response agrees, unless it cannot deflate that way. */
        ws_deflate back;
        int rb = cora__ws_deflate_parse_answer(resp, &back);
        if (c->cmwb == 8) {
            assert_int_equal(rb, -1);
            continue;
        }
        assert_int_equal(rb, 1);
        assert_memory_equal(&back, &d, sizeof(d));
    }
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        ws_deflate d;
        char resp[WS_DEFLATE_RESP_MAX];
        memset(resp, 'z', sizeof(resp));
        int r = cora__ws_deflate_accept(malformed[i], &d, resp, sizeof(resp));
        if (r != -1) fail_msg("malformed \"%s\": %d", malformed[i], r);
        assert_string_equal(resp, "");
        if (cora__ws_deflate_parse_answer(malformed[i], &d) != -1)
            fail_msg("malformed answer \"%s\" not refused", malformed[i]);
    }
    printf("deflate: %zu offers, %zu malformed headers\n", sizeof(offers) / sizeof(offers[0]),
           sizeof(malformed) / sizeof(malformed[0]));
}

/* The response buffer: exactly enough room works, one byte less declines. */
static void deflate_response_room(void **state)
{
    const pmd_case *longest = NULL;
    for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++)
        if (offers[i].ret == 1 && (!longest || strlen(offers[i].resp) > strlen(longest->resp)))
            longest = &offers[i];
    size_t need = strlen(longest->resp) + 1;
    assert_true(need <= WS_DEFLATE_RESP_MAX);
    char resp[WS_DEFLATE_RESP_MAX];
    ws_deflate d;
    assert_int_equal(cora__ws_deflate_accept(longest->header, &d, resp, need), 1);
    assert_string_equal(resp, longest->resp);
    memset(resp, 'z', sizeof(resp));
    assert_int_equal(cora__ws_deflate_accept(longest->header, &d, resp, need - 1), 0);
    assert_string_equal(resp, "");
    assert_int_equal(cora__ws_deflate_accept(PMD, &d, resp, 0), 0);
    assert_int_equal(cora__ws_deflate_accept(PMD, &d, NULL, 0), 0);
}

/* The offers of Autobahn's families 12 and 13: every one is accepted on its first
 * offer, with a response that echoes what that offer asked of the server. */
static void deflate_autobahn(void **state)
{
    json_t *all = load_cases();
    size_t i, checked = 0;
    json_t *c;
    json_array_foreach(json_object_get(all, "cases"), i, c)
    {
        json_t *pmd = json_object_get(c, "permessage_deflate");
        if (!pmd) continue;
        const char *id = json_string_value(json_object_get(c, "id"));
        char header[1024] = "";
        size_t k;
        json_t *o;
        json_array_foreach(json_object_get(pmd, "client_offers"), k, o)
        {
            if (k) strcat(header, ", ");
            assert_true(strlen(header) + strlen(json_string_value(o)) < sizeof(header) - 3);
            strcat(header, json_string_value(o));
        }
        json_t *first = json_array_get(
            json_object_get(pmd, "offer_params_request_no_context_takeover_and_max_window_bits"),
            0);
        int snct = json_is_true(json_array_get(first, 0));
        int smwb = (int)json_integer_value(json_array_get(first, 1));
        /* Autobahn's offers all carry client_no_context_takeover and a bare
         * client_max_window_bits. */
        char want[WS_DEFLATE_RESP_MAX];
        snprintf(want, sizeof(want), PMD "%s; client_no_context_takeover",
                 snct ? "; server_no_context_takeover" : "");
        if (smwb)
            snprintf(want + strlen(want), sizeof(want) - strlen(want),
                     "; server_max_window_bits=%d", smwb);
        ws_deflate d;
        char resp[WS_DEFLATE_RESP_MAX];
        int r = cora__ws_deflate_accept(header, &d, resp, sizeof(resp));
        if (r != 1) fail_msg("%s: \"%s\" gave %d", id, header, r);
        if (strcmp(resp, want) != 0) fail_msg("%s: response \"%s\", want \"%s\"", id, resp, want);
        assert_int_equal(d.server_no_context_takeover, snct);
        assert_int_equal(d.client_no_context_takeover, 1);
        assert_int_equal(d.server_max_window_bits, smwb ? smwb : 15);
        assert_int_equal(d.client_max_window_bits, 15);
        checked++;
    }
    assert_true(checked >= 200);
    printf("deflate: %zu Autobahn cases' offers accepted\n", checked);
    json_decref(all);
}

static const pmd_case answers[] = {
    {NULL, 0, NULL, 0, 0, 15, 15},
    {"", 0, NULL, 0, 0, 15, 15},
    {"  ", 0, NULL, 0, 0, 15, 15},
    {PMD, 1, NULL, 0, 0, 15, 15},
    {", " PMD, 1, NULL, 0, 0, 15, 15},
    {PMD "; server_no_context_takeover", 1, NULL, 1, 0, 15, 15},
    {PMD "; client_no_context_takeover", 1, NULL, 0, 1, 15, 15},
    {PMD "; server_max_window_bits=8", 1, NULL, 0, 0, 8, 15},
    {PMD "; server_max_window_bits=\"10\"", 1, NULL, 0, 0, 10, 15},
    {PMD "; client_max_window_bits=9", 1, NULL, 0, 0, 15, 9},
    {PMD "; client_no_context_takeover; server_no_context_takeover; client_max_window_bits=15;"
         "server_max_window_bits=12",
     1, NULL, 1, 1, 12, 15},
    {PMD "; client_max_window_bits", -1, NULL, 0, 0, 15, 15},
    {PMD "; client_max_window_bits=8", -1, NULL, 0, 0, 15, 15},
    {PMD "; server_max_window_bits", -1, NULL, 0, 0, 15, 15},
    {PMD "; server_max_window_bits=16", -1, NULL, 0, 0, 15, 15},
    {PMD "; server_max_window_bits=7", -1, NULL, 0, 0, 15, 15},
    {PMD "; server_no_context_takeover=x", -1, NULL, 0, 0, 15, 15},
    {PMD "; server_no_context_takeover; server_no_context_takeover", -1, NULL, 0, 0, 15, 15},
    {PMD "; client_max_window_bits=10; client_max_window_bits=10", -1, NULL, 0, 0, 15, 15},
    {PMD "; foo", -1, NULL, 0, 0, 15, 15},
    {"x-webkit-deflate-frame", -1, NULL, 0, 0, 15, 15},
    {PMD ", " PMD, -1, NULL, 0, 0, 15, 15},
    {PMD ", foo", -1, NULL, 0, 0, 15, 15},
    {"foo, " PMD, -1, NULL, 0, 0, 15, 15},
};

static void deflate_answers(void **state)
{
    assert_string_equal(cora__ws_deflate_offer(), PMD "; client_max_window_bits");
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        const pmd_case *c = &answers[i];
        ws_deflate d;
        memset(&d, 0x55, sizeof(d));
        int r = cora__ws_deflate_parse_answer(c->header, &d);
        if (r != c->ret) fail_msg("answer \"%s\": %d, want %d", c->header, r, c->ret);
        if (r != 1) continue;
        assert_int_equal(d.server_no_context_takeover, c->snct);
        assert_int_equal(d.client_no_context_takeover, c->cnct);
        assert_int_equal(d.server_max_window_bits, c->smwb);
        assert_int_equal(d.client_max_window_bits, c->cmwb);
    }
    /* Our own offer, as a server reads it. */
    ws_deflate d;
    char resp[WS_DEFLATE_RESP_MAX];
    assert_int_equal(cora__ws_deflate_accept(cora__ws_deflate_offer(), &d, resp, sizeof(resp)), 1);
    assert_string_equal(resp, PMD);
}

/* RFC 7692 7.2.3: the example frames carry RSV1 on the first frame of each message
 * only, and their payloads, with 00 00 ff ff appended per message, inflate (raw, one
 * stream across messages: context takeover) to the text. */
static void rfc7692_examples(void **state)
{
    json_t *all = load_cases();
    json_t *ex = json_object_get(json_object_get(all, "rfc7692"), "examples");
    size_t i;
    json_t *e;
    assert_true(json_array_size(ex) >= 6);
    json_array_foreach(ex, i, e)
    {
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *text = json_string_value(json_object_get(e, "message_text"));
        z_stream z;
        memset(&z, 0, sizeof(z));
        assert_int_equal(inflateInit2(&z, -15), Z_OK);
        uint8_t msg[256];
        size_t mlen = 0, k, nmsgs = 0;
        int first = 1;
        json_t *fh;
        json_array_foreach(json_object_get(e, "frames_hex"), k, fh)
        {
            size_t n;
            uint8_t *p = unhex(json_string_value(fh), &n);
            ws_frame f;
            ssize_t h = cora__ws_parse_header(guarded(p, n), n, &f);
            if (h <= 0 || f.len != n - (size_t)h) fail_msg("%s: frame %zu", name, k);
            assert_int_equal(f.rsv, first ? WS_RSV1 : 0);
            assert_int_equal(f.opcode, first ? WS_OP_TEXT : WS_OP_CONT);
            assert_true(mlen + f.len + 4 <= sizeof(msg));
            memcpy(msg + mlen, p + h, (size_t)f.len);
            mlen += (size_t)f.len;
            free(p);
            first = f.fin;
            if (!f.fin) continue;
            memcpy(msg + mlen, "\x00\x00\xff\xff", 4);
            mlen += 4;
            char out[256];
            z.next_in = msg;
            z.avail_in = (uInt)mlen;
            z.next_out = (Bytef *)out;
            z.avail_out = sizeof(out);
            int zr = inflate(&z, Z_SYNC_FLUSH);
            if (zr != Z_OK && zr != Z_STREAM_END) fail_msg("%s: inflate gave %d", name, zr);
            size_t olen = sizeof(out) - z.avail_out;
            if (olen != strlen(text) || memcmp(out, text, olen) != 0)
                fail_msg("%s: message %zu inflates to \"%.*s\"", name, nmsgs, (int)olen, out);
            assert_true(cora__ws_utf8_valid((const uint8_t *)out, olen));
            nmsgs++;
            mlen = 0;
        }
        assert_true(nmsgs >= 1);
        inflateEnd(&z);
    }
    json_decref(all);
}

// clang-format off
static const struct CMUnitTest tests[] = {
    CORA_PURE_TEST(utf8_payloads),
    CORA_PURE_TEST(utf8_code_points),
    CORA_PURE_TEST(utf8_exhaustive),
    CORA_PURE_TEST(utf8_runs_and_state),
    CORA_PURE_TEST(rfc6455_frames),
    CORA_PURE_TEST(header_lengths),
    CORA_PURE_TEST(header_errors),
    CORA_PURE_TEST(header_round_trip),
    CORA_PURE_TEST(mask_offsets),
    CORA_PURE_TEST(rfc6455_handshake),
    CORA_PURE_TEST(key_shapes),
    CORA_PURE_TEST(close_codes),
    CORA_PURE_TEST(close_payloads),
    CORA_PURE_TEST(close_autobahn),
    CORA_PURE_TEST(deflate_offers),
    CORA_PURE_TEST(deflate_response_room),
    CORA_PURE_TEST(deflate_autobahn),
    CORA_PURE_TEST(deflate_answers),
    CORA_PURE_TEST(rfc7692_examples),
};
// clang-format on

CORA_PURE_TEST_MAIN("ws_frame", tests)

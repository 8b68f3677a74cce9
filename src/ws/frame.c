/* src/ws/frame.c: the pure WebSocket codec declared in frame.h (RFC 6455, RFC 7692).
 *
 * Four independent pieces:
 *
 *   - frame headers: parse (failing at the first byte that makes the header invalid,
 *     so a bad opcode is refused before its length arrives) and put;
 *   - masking, eight bytes at a time through memcpy loads and stores (no alignment
 *     assumption, no aliasing trick);
 *   - UTF-8, as a DFA over byte classes (drawn below) whose state survives any split,
 *     with a fast path over runs of ASCII;
 *   - the handshake (accept key, key shape), close payloads and permessage-deflate
 *     negotiation: a scanner for the Sec-WebSocket-Extensions grammar of RFC 6455 9.1
 *     and the parameter rules of RFC 7692 7.1.
 */
#include "frame.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- frame headers ------------------------------------------------------------ */

static int opcode_reserved(unsigned op)
{
    return (op >= 3 && op <= 7) || op >= 11;
}

ssize_t cora__ws_parse_header(const uint8_t *p, size_t n, ws_frame *f)
{
    if (n < 1) return 0;
    unsigned b0 = p[0], op = b0 & 0x0f;
    int fin = b0 >> 7, control = op >= 8;
    /* Everything that can be judged from the bytes at hand is judged at once. */
    if (opcode_reserved(op) || (control && !fin)) return -WS_CLOSE_PROTOCOL;
    if (n < 2) return 0;
    unsigned b1 = p[1], len7 = b1 & 0x7f, masked = b1 >> 7;
    if (control && len7 > WS_MAX_CONTROL) return -WS_CLOSE_PROTOCOL;
    if (len7 == 127 && n >= 3 && (p[2] & 0x80)) return -WS_CLOSE_PROTOCOL;
    size_t ext = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t hlen = 2 + ext + (masked ? 4 : 0);
    if (n < hlen) return 0;
    uint64_t len = len7;
    if (ext) {
        len = 0;
        for (size_t i = 0; i < ext; i++)
            len = len << 8 | p[2 + i];
    }
    f->fin = (uint8_t)fin;
    f->rsv = (uint8_t)((b0 >> 4) & 7);
    f->opcode = (uint8_t)op;
    f->masked = (uint8_t)masked;
    if (masked)
        memcpy(f->mask, p + 2 + ext, 4);
    else
        memset(f->mask, 0, 4);
    f->len = len;
    return (ssize_t)hlen;
}

size_t cora__ws_put_header(uint8_t *out, int fin, int rsv, int opcode, const uint8_t *mask,
                           uint64_t len)
{
    size_t i = 0;
    out[i++] = (uint8_t)((fin ? 0x80 : 0) | (rsv & 7) << 4 | (opcode & 0x0f));
    uint8_t m = mask ? 0x80 : 0;
    if (len <= 125) {
        out[i++] = (uint8_t)(m | len);
    } else if (len <= 0xffff) {
        out[i++] = m | 126;
        out[i++] = (uint8_t)(len >> 8);
        out[i++] = (uint8_t)len;
    } else {
        out[i++] = m | 127;
        for (int s = 56; s >= 0; s -= 8)
            out[i++] = (uint8_t)(len >> s);
    }
    if (mask) {
        memcpy(out + i, mask, 4);
        i += 4;
    }
    return i;
}

/* ---- masking ------------------------------------------------------------------ */

void cora__ws_mask(uint8_t *p, size_t n, const uint8_t mask[4], uint64_t offset)
{
    /* The mask as it lines up with p[0], repeated over a word: byte k of `rot` is the
     * mask byte for p[k], whatever the machine's byte order. */
    uint8_t rot[8];
    for (unsigned k = 0; k < 8; k++)
        rot[k] = mask[(offset + k) & 3];
    uint64_t w;
    memcpy(&w, rot, 8);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        v ^= w;
        memcpy(p + i, &v, 8);
    }
    /* i is a multiple of 8, so rot still lines up. */
    for (; i < n; i++)
        p[i] ^= rot[i & 7];
}

/* ---- UTF-8 -------------------------------------------------------------------- */

/* Byte classes: what a byte may be in UTF-8 (RFC 3629 section 4).
 *
 *   ASC 00-7F   CA 80-8F   CB 90-9F   CC A0-BF   (CA..CC: continuation bytes)
 *   L2 C2-DF    E0 E0      L3 E1-EC, EE-EF      ED ED
 *   F0 F0       L4 F1-F3   F4 F4      BAD C0-C1, F5-FF
 *
 * States (what the next byte must be):
 *
 *   OK  between characters
 *   T1  one continuation byte left, 80-BF
 *   T2  two left, 80-BF next
 *   T3  three left, 80-BF next
 *   XE0 after E0: A0-BF (no overlong three-byte form), then T1
 *   XED after ED: 80-9F (no surrogates D800-DFFF), then T1
 *   XF0 after F0: 90-BF (no overlong four-byte form), then T2
 *   XF4 after F4: 80-8F (nothing past U+10FFFF), then T2
 *   REJ failed, for good
 *
 * A stray continuation byte (one in state OK) and every BAD byte lead to REJ, as
 * does a lead byte where a continuation was due. */
enum { ASC, CA, CB, CC, L2, E0, L3, ED, F0, L4, F4, BAD, NCLASS };
enum { OK, T1, T2, T3, XE0, XED, XF0, XF4, REJ, NSTATE };

// clang-format off
static const uint8_t u8class[256] = {
    /* 00-7F */
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC, ASC,
    /* 80 */ CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA, CA,
    /* 90 */ CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB, CB,
    /* A0 */ CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC,
    /* B0 */ CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC, CC,
    /* C0 */ BAD, BAD, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
    /* D0 */ L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
    /* E0 */ E0, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, ED, L3, L3,
    /* F0 */ F0, L4, L4, L4, F4, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD, BAD,
};

static const uint8_t u8next[NSTATE][NCLASS] = {
    /*         ASC  CA   CB   CC   L2   E0   L3   ED   F0   L4   F4   BAD */
    /* OK  */ {OK,  REJ, REJ, REJ, T1,  XE0, T2,  XED, XF0, T3,  XF4, REJ},
    /* T1  */ {REJ, OK,  OK,  OK,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* T2  */ {REJ, T1,  T1,  T1,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* T3  */ {REJ, T2,  T2,  T2,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* XE0 */ {REJ, REJ, REJ, T1,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* XED */ {REJ, T1,  T1,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* XF0 */ {REJ, REJ, T2,  T2,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* XF4 */ {REJ, T2,  REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
    /* REJ */ {REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ, REJ},
};
// clang-format on

void cora__ws_utf8_init(ws_utf8 *u)
{
    u->state = OK;
}

int cora__ws_utf8_feed(ws_utf8 *u, const uint8_t *p, size_t n)
{
    uint32_t s = u->state;
    if (s >= REJ) return -1;
    size_t i = 0;
    while (i < n) {
        if (s == OK) {
            /* Skip ASCII eight bytes at a time between characters. */
            while (i + 8 <= n) {
                uint64_t w;
                memcpy(&w, p + i, 8);
                if (w & UINT64_C(0x8080808080808080)) break;
                i += 8;
            }
            if (i == n) break;
        }
        s = u8next[s][u8class[p[i++]]];
        if (s == REJ) {
            u->state = REJ;
            return -1;
        }
    }
    u->state = s;
    return 0;
}

int cora__ws_utf8_complete(const ws_utf8 *u)
{
    return u->state == OK;
}

int cora__ws_utf8_valid(const uint8_t *p, size_t n)
{
    ws_utf8 u;
    cora__ws_utf8_init(&u);
    return cora__ws_utf8_feed(&u, p, n) == 0 && cora__ws_utf8_complete(&u);
}

/* ---- the handshake ------------------------------------------------------------ */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int b64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

int cora__ws_key_valid(const char *key, size_t len)
{
    /* 16 bytes are 22 base64 digits and "==". The last digit carries 2 bits of data
     * and 4 zero bits, so only A, Q, g and w can end the canonical encoding. */
    if (!key || len != 24 || key[22] != '=' || key[23] != '=') return 0;
    for (size_t i = 0; i < 22; i++)
        if (!b64_char(key[i])) return 0;
    char last = key[21];
    return last == 'A' || last == 'Q' || last == 'g' || last == 'w';
}

void cora__ws_accept_key(const char *key, size_t len, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) && EVP_DigestUpdate(ctx, key, len) &&
             EVP_DigestUpdate(ctx, WS_GUID, sizeof(WS_GUID) - 1) &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) && mdlen == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok) {
        /* Out of memory inside OpenSSL: an empty value, which no peer accepts. */
        out[0] = '\0';
        return;
    }
    EVP_EncodeBlock((unsigned char *)out, md, 20); /* 28 characters and a NUL */
}

/* ---- close frames ------------------------------------------------------------- */

int cora__ws_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

int cora__ws_parse_close(const uint8_t *p, size_t n, unsigned *code)
{
    if (n == 0) {
        *code = WS_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1 || n > WS_MAX_CONTROL) return -WS_CLOSE_PROTOCOL;
    unsigned c = (unsigned)p[0] << 8 | p[1];
    if (!cora__ws_close_code_valid(c)) return -WS_CLOSE_PROTOCOL;
    if (!cora__ws_utf8_valid(p + 2, n - 2)) return -WS_CLOSE_INVALID_DATA;
    *code = c;
    return 0;
}

/* ---- Sec-WebSocket-Extensions ------------------------------------------------- */

/* The grammar (RFC 6455 9.1), with optional whitespace around the separators as in
 * any HTTP list, and empty list elements ignored (RFC 9110 5.6.1):
 *
 *   extension-list = 1#extension
 *   extension      = token *( ";" extension-param )
 *   extension-param = token [ "=" ( token / quoted-string ) ]
 *
 * A quoted value must be a token once its escapes are undone, so inside the quotes
 * only token characters, each possibly behind a backslash, are accepted. */

typedef struct ext_param {
    const char *name;
    size_t name_len;
    const char *val; /* NULL when there is no value; inside the quotes when quoted */
    size_t val_len;  /* raw length, escapes included */
} ext_param;

static int tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static size_t token_len(const char *s)
{
    size_t n = 0;
    while (tchar((unsigned char)s[n]))
        n++;
    return n;
}

/* Reads "; param" at *sp (whitespace already skipped). Returns 1 with *out set and
 * *sp past it, 0 at the end of the element (',' or the end, not consumed), -1 when
 * malformed. */
static int next_param(const char **sp, ext_param *out)
{
    const char *s = *sp;
    if (*s == ',' || *s == '\0') return 0;
    if (*s != ';') return -1;
    s = skip_ows(s + 1);
    size_t nl = token_len(s);
    if (!nl) return -1;
    out->name = s;
    out->name_len = nl;
    out->val = NULL;
    out->val_len = 0;
    s = skip_ows(s + nl);
    if (*s == '=') {
        s = skip_ows(s + 1);
        if (*s == '"') {
            const char *v = ++s;
            while (*s != '"') {
                if (*s == '\\') s++;
                if (!tchar((unsigned char)*s)) return -1; /* also the end of the string */
                s++;
            }
            if (s == v) return -1; /* "" is no token */
            out->val = v;
            out->val_len = (size_t)(s - v);
            s++;
        } else {
            size_t vl = token_len(s);
            if (!vl) return -1;
            out->val = s;
            out->val_len = vl;
            s += vl;
        }
        s = skip_ows(s);
    }
    *sp = s;
    return 1;
}

/* Reads one list element at *sp: its extension token (*name, *name_len; 0 for an
 * empty element) and, checking them, its parameters; *params is where they start,
 * for next_param. Leaves *sp after the element's ',' or at the end. Returns 1 for an
 * element, 0 at the end of the header, -1 when malformed. */
static int next_ext(const char **sp, const char **name, size_t *name_len, const char **params)
{
    const char *s = skip_ows(*sp);
    if (*s == '\0') return 0;
    size_t nl = token_len(s);
    *name = s;
    *name_len = nl;
    s = skip_ows(s + nl);
    *params = s;
    if (nl) {
        ext_param prm;
        int r;
        while ((r = next_param(&s, &prm)) > 0) {
        }
        if (r < 0) return -1;
    }
    if (*s == ',')
        s++;
    else if (*s != '\0' || !nl)
        return -1; /* a stray byte, or nothing but the end after no token */
    *sp = s;
    return 1;
}

/* Checks the whole header's syntax. Returns the number of non-empty elements, -1
 * when malformed. */
static int ext_list_check(const char *h)
{
    const char *name, *params;
    size_t nl;
    int r, count = 0;
    while ((r = next_ext(&h, &name, &nl, &params)) > 0)
        count += nl > 0;
    return r < 0 ? -1 : count;
}

static int name_is(const char *s, size_t n, const char *want)
{
    return strlen(want) == n && strncasecmp(s, want, n) == 0;
}

/* A window-bits value: decimal, no leading zero, 8..15; -1 otherwise. */
static int param_bits(const ext_param *p)
{
    char v[3];
    size_t n = 0;
    for (size_t i = 0; i < p->val_len; i++) {
        if (p->val[i] == '\\') continue; /* in a quoted value, an escape */
        if (n == 2) return -1;
        v[n++] = p->val[i];
    }
    if (n == 1 && v[0] >= '8' && v[0] <= '9') return v[0] - '0';
    if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return 10 + v[1] - '0';
    return -1;
}

enum { P_SNCT = 1, P_CNCT = 2, P_SMWB = 4, P_CMWB = 8 };

/* Reads the parameters of one permessage-deflate element into *d. `seen` tells which
 * appeared, `cmwb_value` whether client_max_window_bits had a value. Returns 0, or -1
 * for an unknown or duplicate parameter or a bad value. */
static int deflate_params(const char *s, ws_deflate *d, int *seen, int *cmwb_value)
{
    d->server_no_context_takeover = 0;
    d->client_no_context_takeover = 0;
    d->server_max_window_bits = 15;
    d->client_max_window_bits = 15;
    *seen = 0;
    *cmwb_value = 0;
    ext_param p;
    while (next_param(&s, &p) > 0) {
        int which, bits = 0;
        if (name_is(p.name, p.name_len, "server_no_context_takeover"))
            which = P_SNCT;
        else if (name_is(p.name, p.name_len, "client_no_context_takeover"))
            which = P_CNCT;
        else if (name_is(p.name, p.name_len, "server_max_window_bits"))
            which = P_SMWB;
        else if (name_is(p.name, p.name_len, "client_max_window_bits"))
            which = P_CMWB;
        else
            return -1;
        if (*seen & which) return -1;
        *seen |= which;
        if (which == P_SNCT || which == P_CNCT) {
            if (p.val) return -1;
        } else if (p.val || which == P_SMWB) {
            /* server_max_window_bits always has a value; client_ may go without. */
            if (!p.val || (bits = param_bits(&p)) < 0) return -1;
        }
        if (which == P_SNCT) d->server_no_context_takeover = 1;
        if (which == P_CNCT) d->client_no_context_takeover = 1;
        if (which == P_SMWB) d->server_max_window_bits = bits;
        if (which == P_CMWB && p.val) {
            d->client_max_window_bits = bits;
            *cmwb_value = 1;
        }
    }
    return 0;
}

static const char PMD[] = "permessage-deflate";

int cora__ws_deflate_accept(const char *offers, ws_deflate *out, char *resp, size_t cap)
{
    if (resp && cap) resp[0] = '\0';
    if (!offers) return 0;
    if (ext_list_check(offers) < 0) return -1;
    const char *s = offers, *name, *params;
    size_t nl;
    while (next_ext(&s, &name, &nl, &params) > 0) {
        if (!name_is(name, nl, PMD)) continue; /* another extension: not ours to judge */
        ws_deflate d;
        int seen, cmwb_value;
        if (deflate_params(params, &d, &seen, &cmwb_value) < 0) continue;
        /* zlib has no 256-byte window for raw deflate (it refuses -8, and with a zlib
         * header silently uses 512), so we could not keep that promise. */
        if ((seen & P_SMWB) && d.server_max_window_bits == 8) continue;
        char buf[WS_DEFLATE_RESP_MAX];
        int len = snprintf(buf, sizeof(buf), "%s%s%s", PMD,
                           d.server_no_context_takeover ? "; server_no_context_takeover" : "",
                           d.client_no_context_takeover ? "; client_no_context_takeover" : "");
        if (seen & P_SMWB)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, "; server_max_window_bits=%d",
                            d.server_max_window_bits);
        /* Only with the client's own value: a bare client_max_window_bits says the
         * client could take a limit, and the default window needs none. */
        if (cmwb_value)
            len += snprintf(buf + len, sizeof(buf) - (size_t)len, "; client_max_window_bits=%d",
                            d.client_max_window_bits);
        if (!resp || (size_t)len >= cap) return 0; /* no room: no compression */
        memcpy(resp, buf, (size_t)len + 1);
        *out = d;
        return 1;
    }
    return 0;
}

const char *cora__ws_deflate_offer(void)
{
    return "permessage-deflate; client_max_window_bits";
}

int cora__ws_deflate_parse_answer(const char *answer, ws_deflate *out)
{
    if (!answer) return 0;
    int count = ext_list_check(answer);
    if (count <= 0) return count;
    if (count > 1) return -1; /* we offered one extension, once */
    const char *s = answer, *name = NULL, *params = NULL;
    size_t nl = 0;
    while (next_ext(&s, &name, &nl, &params) > 0 && nl == 0) {
    }
    if (!name_is(name, nl, PMD)) return -1;
    ws_deflate d;
    int seen, cmwb_value;
    if (deflate_params(params, &d, &seen, &cmwb_value) < 0) return -1;
    /* In an answer client_max_window_bits needs its value, and 8 is a window our
     * zlib cannot deflate with (see cora__ws_deflate_accept). */
    if ((seen & P_CMWB) && (!cmwb_value || d.client_max_window_bits == 8)) return -1;
    *out = d;
    return 1;
}

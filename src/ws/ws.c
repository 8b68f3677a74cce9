/* src/ws/ws.c: WebSocket connections (RFC 6455) over cora streams, with
 * permessage-deflate (RFC 7692) through zlib.
 *
 * Reading: one task receives at a time. Frames are parsed from ws->in, the connection's
 * own input buffer (a stream read with nothing buffered goes straight there); a data
 * frame's payload is copied or read directly into the message being gathered, and
 * unmasked and UTF-8 checked as each piece arrives, so an invalid byte fails the
 * connection at once rather than at the message's end. Every bit of progress (the
 * frame header, how much of its payload is in, the message so far) lives in the
 * cora_ws, so a receive cut short by a deadline or cancellation loses nothing: the
 * next receive goes on where it stopped.
 *
 * Writing: a frame goes out under frame_lock, whole, so frames of different tasks
 * never interleave; a message's frames go out under msg_lock, so a control frame
 * (a pong, a close) may still slip between the fragments of a long message, as the RFC
 * allows, but another message may not.
 */
#include "frame.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <zlib.h>

#include "../core/internal.h"
#include "../http/internal.h"
#include "../http/parser.h"
#include "cora.h"

#define DEFAULT_MAX_MESSAGE (16u << 20)
#define IN_BUF 16384
/* A client masks its payload into a scratch buffer; a larger payload goes in pieces. */
#define MASK_CHUNK 16384

struct cora_ws {
    cora_stream *s;
    int is_client;
    cora_tls *own_tls;
    size_t max_message;
    double close_timeout;
    char *subprotocol;

    /* Input. */
    uint8_t *in;
    size_t in_off, in_len, in_cap;
    ws_frame cur;      /* the data frame being read */
    int in_frame;      /* cur is valid: its payload is being read */
    uint64_t cur_done; /* payload bytes of cur already in msg */
    int msg_op;        /* WS_OP_TEXT or WS_OP_BINARY while a message is open, else 0 */
    int msg_deflated;  /* the open message is compressed (RSV1 on its first frame) */
    ws_utf8 utf8;
    uint8_t *msg; /* the message (or fragment) being gathered; NUL after it */
    size_t msg_len, msg_cap;
    size_t frag_from; /* recv_fragment: where the current frame's payload starts in msg */
    int receiving;
    uint64_t pongs;

    /* permessage-deflate. */
    int deflate;
    ws_deflate pmd;
    z_stream zin, zout;
    int zin_ready, zout_ready;
    uint8_t *plain; /* an inflated message */
    size_t plain_len, plain_cap;

    /* Output. */
    cora_lock frame_lock, msg_lock;
    int frag_out;          /* opcode of a fragmented message being sent, else 0 */
    cora_task *frag_owner; /* the task sending it (it holds msg_lock meanwhile) */
    ws_utf8 frag_utf8;     /* text fragments sent so far */
    uint8_t *scratch;      /* a client's masked payload */
    size_t scratch_cap;
    uint8_t *zbuf; /* a compressed message */
    size_t zbuf_cap;
    uint8_t masks[256]; /* masking keys, from RAND_bytes in batches */
    size_t masks_left;

    /* Closing. */
    int close_sent, close_rcvd, dead;
    unsigned close_code;
    char close_reason[124];
    cora_event peer_closed; /* set when the close frame arrives or the link drops */
};

/* ---- small helpers ---------------------------------------------------------------- */

static int grow(uint8_t **p, size_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : c * 2;
    uint8_t *q = cora__realloc(*p, c);
    if (!q) return -ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

static void next_mask(cora_ws *ws, uint8_t out[4])
{
    if (ws->masks_left < 4) {
        /* RFC 6455 10.3: masks must be unpredictable; OpenSSL's CSPRNG, 64 at a time. */
        if (RAND_bytes(ws->masks, sizeof ws->masks) != 1)
            (void)!getrandom(ws->masks, sizeof ws->masks, 0); /* the kernel's, then */
        ws->masks_left = sizeof ws->masks;
    }
    ws->masks_left -= 4;
    memcpy(out, ws->masks + ws->masks_left, 4);
}

/* Whether a comma-separated header value holds `token` (case-insensitive). */
static int has_token(const char *list, const char *token)
{
    size_t tl = strlen(token);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - p) == tl && strncasecmp(p, token, tl) == 0) return 1;
        p = e;
    }
    return 0;
}

static cora_ws *ws_new(cora_stream *s, int is_client, const cora_ws_opts *o)
{
    cora_ws *ws = cora__calloc(1, sizeof *ws);
    if (!ws) return NULL;
    ws->s = s;
    ws->is_client = is_client;
    ws->max_message = o && o->max_message ? o->max_message : DEFAULT_MAX_MESSAGE;
    ws->close_timeout = o && o->close_timeout > 0 ? o->close_timeout : 5.0;
    cora_lock_init(&ws->frame_lock);
    cora_lock_init(&ws->msg_lock);
    cora_event_init(&ws->peer_closed);
    return ws;
}

/* Sets up zlib once compression is agreed. Each side deflates with its own window and
 * inflates with the peer's; inflating with the largest window is always safe. */
static int deflate_setup(cora_ws *ws)
{
    int mine = ws->is_client ? ws->pmd.client_max_window_bits : ws->pmd.server_max_window_bits;
    if (mine < 9) return -EPROTO; /* zlib cannot keep to a 256-byte window */
    if (deflateInit2(&ws->zout, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -mine, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK)
        return -ENOMEM;
    ws->zout_ready = 1;
    if (inflateInit2(&ws->zin, -15) != Z_OK) return -ENOMEM;
    ws->zin_ready = 1;
    ws->deflate = 1;
    return 0;
}

/* ---- writing frames --------------------------------------------------------------- */

/* Writes one frame, whole, and sends it. A frame cut short (cancelled, timed out)
 * leaves the peer half a frame, after which nothing else can be sent: the connection
 * is dead. Caller holds no lock; this takes frame_lock. */
static int write_frame(cora_ws *ws, int fin, int rsv, int op, const uint8_t *p, size_t n)
{
    if (ws->dead) return -EPIPE;
    int r = cora_lock_acquire(&ws->frame_lock);
    if (r < 0) return r;
    if (ws->dead || (ws->close_sent && op != WS_OP_CLOSE)) {
        cora_lock_release(&ws->frame_lock);
        return -EPIPE;
    }
    uint8_t hdr[WS_MAX_HEADER], key[4];
    if (ws->is_client) next_mask(ws, key);
    size_t hl = cora__ws_put_header(hdr, fin, rsv, op, ws->is_client ? key : NULL, n);
    size_t total = hl + n, done = 0;
    ssize_t w;
    if (!ws->is_client) {
        struct iovec iov[2] = {{hdr, hl}, {(void *)p, n}};
        w = cora_stream_writev(ws->s, iov, n ? 2 : 1);
        if (w > 0) done = (size_t)w;
    } else {
        w = cora_stream_write(ws->s, hdr, hl);
        if (w > 0) done = (size_t)w;
        size_t sent = 0;
        if (w == (ssize_t)hl &&
            grow(&ws->scratch, &ws->scratch_cap, n < MASK_CHUNK ? n : MASK_CHUNK) < 0)
            w = -ENOMEM;
        while (w >= 0 && done == hl + sent && sent < n) {
            size_t k = n - sent < MASK_CHUNK ? n - sent : MASK_CHUNK;
            memcpy(ws->scratch, p + sent, k);
            cora__ws_mask(ws->scratch, k, key, sent);
            w = cora_stream_write(ws->s, ws->scratch, k);
            if (w > 0) done += (size_t)w, sent += (size_t)w;
        }
    }
    if (done == total) w = cora_stream_drain(ws->s);
    if (done != total || w < 0) {
        /* Half a frame went out (or nothing could): the peer's view of the stream is
         * broken from here on. */
        if (done != 0 && done != total) {
            /* Nothing can follow half a frame: end the link both ways, so that the
             * peer sees it end (1006) and our own receiver stops waiting. */
            shutdown(cora_stream_fd(ws->s), SHUT_RDWR);
            ws->dead = 1;
            w = -EPIPE;
        }
        if (w == -EPIPE || w == -ECONNRESET) ws->dead = 1;
    }
    if (op == WS_OP_CLOSE && w >= 0) ws->close_sent = 1;
    cora_lock_release(&ws->frame_lock);
    return w < 0 ? (int)w : 0;
}

/* Sends a close frame once; a shield lets it out even from a cancelled task, bounded by
 * the close timeout so a stalled peer cannot hold the task. */
static int send_close(cora_ws *ws, unsigned code, const char *reason, size_t rlen)
{
    if (ws->close_sent || ws->dead) return 0;
    uint8_t p[WS_MAX_CONTROL];
    size_t n = 0;
    if (code) {
        p[0] = (uint8_t)(code >> 8);
        p[1] = (uint8_t)code;
        if (rlen > WS_MAX_CONTROL - 2) rlen = WS_MAX_CONTROL - 2;
        memcpy(p + 2, reason, rlen);
        n = 2 + rlen;
    }
    cora_scope shield, sc;
    cora_shield_enter(&shield);
    int r = cora_fail_after(&sc, ws->close_timeout);
    if (r == 0) {
        r = write_frame(ws, 1, 0, WS_OP_CLOSE, p, n);
        int e = cora_scope_exit(&sc);
        if (r == 0) r = e;
    }
    cora_scope_exit(&shield);
    return r;
}

/* Fails the connection (RFC 6455 7.1.7): a close frame with the code, then the link is
 * shut so the peer sees the end. Returns the error for the receiver. */
static int fail(cora_ws *ws, unsigned code, const char *why, int err)
{
    if (!ws->dead) {
        send_close(ws, code, why, strlen(why));
        shutdown(cora_stream_fd(ws->s), SHUT_WR);
        ws->dead = 1;
    }
    if (!ws->close_code) ws->close_code = WS_CLOSE_ABNORMAL;
    cora_event_set(&ws->peer_closed);
    return err;
}

/* ---- reading frames --------------------------------------------------------------- */

/* Makes at least `need` unread bytes sit in ws->in. */
static int fill(cora_ws *ws, size_t need)
{
    while (ws->in_len - ws->in_off < need) {
        if (ws->in_off == ws->in_len) {
            ws->in_off = ws->in_len = 0;
        } else if (ws->in_off + need > ws->in_cap) {
            memmove(ws->in, ws->in + ws->in_off, ws->in_len - ws->in_off);
            ws->in_len -= ws->in_off;
            ws->in_off = 0;
        }
        if (grow(&ws->in, &ws->in_cap, need < IN_BUF ? IN_BUF : need) < 0) return -ENOMEM;
        ssize_t n = cora_stream_read(ws->s, ws->in + ws->in_len, ws->in_cap - ws->in_len);
        if (n == 0) return -ECONNRESET; /* dropped without a close frame: 1006 */
        if (n < 0) return (int)n;
        ws->in_len += (size_t)n;
    }
    return 0;
}

/* The link ended (or broke) without a close handshake. */
static int dropped(cora_ws *ws, int err)
{
    if (err == -ECANCELED || err == -ETIMEDOUT || err == -ENOMEM) return err;
    ws->dead = 1;
    if (!ws->close_code) ws->close_code = WS_CLOSE_ABNORMAL;
    cora_event_set(&ws->peer_closed);
    return -EPIPE;
}

static int on_close_frame(cora_ws *ws, uint8_t *p, size_t n)
{
    unsigned code;
    int r = cora__ws_parse_close(p, n, &code);
    if (r < 0) return fail(ws, (unsigned)-r, "bad close frame", -EPROTO);
    ws->close_rcvd = 1;
    ws->close_code = code;
    if (n > 2) {
        memcpy(ws->close_reason, p + 2, n - 2);
        ws->close_reason[n - 2] = '\0';
    }
    /* Answer with the same code (none if it had none), then let the link go: the
     * server closes TCP first (RFC 6455 7.1.1); a client waits for that. */
    send_close(ws, code == WS_CLOSE_NO_STATUS ? 0 : code, "", 0);
    if (!ws->is_client) shutdown(cora_stream_fd(ws->s), SHUT_WR);
    ws->dead = 1;
    cora_event_set(&ws->peer_closed);
    return -EPIPE;
}

/* Handles one control frame whose header (hl bytes) and payload sit in ws->in. */
static int on_control(cora_ws *ws, const ws_frame *f, size_t hl)
{
    uint8_t *p = ws->in + ws->in_off + hl;
    size_t n = (size_t)f->len;
    if (f->masked) cora__ws_mask(p, n, f->mask, 0);
    ws->in_off += hl + n;
    switch (f->opcode) {
    case WS_OP_PING: {
        int r = write_frame(ws, 1, 0, WS_OP_PONG, p, n);
        /* A ping we cannot answer because we already sent our close is fine. */
        if (r < 0 && r != -EPIPE) return r == -ECANCELED || r == -ETIMEDOUT ? r : dropped(ws, r);
        return 0;
    }
    case WS_OP_PONG:
        ws->pongs++;
        return 0;
    default:
        return on_close_frame(ws, p, n);
    }
}

/* Reads frames until one data frame's payload is appended to ws->msg. Returns 0 with
 * *fin set, or an error. Control frames on the way are handled. */
static int read_data_frame(cora_ws *ws, int *fin)
{
    if (ws->dead) return -EPIPE;
    while (!ws->in_frame) {
        ssize_t hl;
        ws_frame f;
        int r;
        while ((hl = cora__ws_parse_header(ws->in + ws->in_off, ws->in_len - ws->in_off, &f)) == 0)
            if ((r = fill(ws, ws->in_len - ws->in_off + 1)) < 0) return dropped(ws, r);
        if (hl < 0) return fail(ws, WS_CLOSE_PROTOCOL, "bad frame header", -EPROTO);
        if (f.masked != !ws->is_client)
            return fail(ws, WS_CLOSE_PROTOCOL, ws->is_client ? "masked frame" : "unmasked frame",
                        -EPROTO);
        if (f.opcode >= WS_OP_CLOSE) {
            if (f.rsv) return fail(ws, WS_CLOSE_PROTOCOL, "reserved bit set", -EPROTO);
            if ((r = fill(ws, (size_t)hl + (size_t)f.len)) < 0) return dropped(ws, r);
            if ((r = on_control(ws, &f, (size_t)hl)) < 0) return r;
            continue;
        }
        if (f.opcode == WS_OP_CONT ? !ws->msg_op : ws->msg_op != 0)
            return fail(ws, WS_CLOSE_PROTOCOL, "unexpected fragment", -EPROTO);
        if (f.rsv && !(f.rsv == WS_RSV1 && ws->deflate && f.opcode != WS_OP_CONT))
            return fail(ws, WS_CLOSE_PROTOCOL, "reserved bit set", -EPROTO);
        if (f.len > ws->max_message - ws->msg_len)
            return fail(ws, WS_CLOSE_TOO_BIG, "message too big", -EMSGSIZE);
        if (f.opcode != WS_OP_CONT) {
            ws->msg_op = f.opcode;
            ws->msg_deflated = f.rsv != 0;
            cora__ws_utf8_init(&ws->utf8);
        }
        ws->in_off += (size_t)hl;
        ws->cur = f;
        ws->cur_done = 0;
        ws->in_frame = 1;
        ws->frag_from = ws->msg_len;
    }
    /* The payload: first what is buffered, then straight from the stream. */
    while (ws->cur_done < ws->cur.len) {
        /* The buffer grows with what arrives, not with what a header claims. */
        size_t want = (size_t)(ws->cur.len - ws->cur_done), got;
        if (grow(&ws->msg, &ws->msg_cap, ws->msg_len + (want < 65536 ? want : 65536) + 1) < 0)
            return -ENOMEM;
        if (want > ws->msg_cap - ws->msg_len - 1) want = ws->msg_cap - ws->msg_len - 1;
        uint8_t *dst = ws->msg + ws->msg_len;
        size_t have = ws->in_len - ws->in_off;
        if (have) {
            got = have < want ? have : want;
            memcpy(dst, ws->in + ws->in_off, got);
            ws->in_off += got;
        } else {
            ssize_t n = cora_stream_read(ws->s, dst, want);
            if (n <= 0) return dropped(ws, n == 0 ? -ECONNRESET : (int)n);
            got = (size_t)n;
        }
        if (ws->cur.masked) cora__ws_mask(dst, got, ws->cur.mask, ws->cur_done);
        ws->cur_done += got;
        ws->msg_len += got;
        if (ws->msg_op == WS_OP_TEXT && !ws->msg_deflated &&
            cora__ws_utf8_feed(&ws->utf8, dst, got) < 0)
            return fail(ws, WS_CLOSE_INVALID_DATA, "invalid UTF-8", -EPROTO);
    }
    ws->in_frame = 0;
    if (grow(&ws->msg, &ws->msg_cap, ws->msg_len + 1) < 0) return -ENOMEM; /* the NUL */
    *fin = ws->cur.fin;
    if (ws->cur.fin && ws->msg_op == WS_OP_TEXT && !ws->msg_deflated &&
        !cora__ws_utf8_complete(&ws->utf8))
        return fail(ws, WS_CLOSE_INVALID_DATA, "invalid UTF-8", -EPROTO);
    return 0;
}

/* Inflates the gathered message into ws->plain, bounded by max_message. */
static int inflate_message(cora_ws *ws)
{
    static const uint8_t tail[4] = {0x00, 0x00, 0xff, 0xff};
    z_stream *z = &ws->zin;
    ws->plain_len = 0;
    for (int part = 0; part < 2; part++) {
        z->next_in = part ? (Bytef *)tail : ws->msg;
        z->avail_in = part ? 4 : (uInt)ws->msg_len;
        while (z->avail_in) {
            if (ws->plain_len == ws->plain_cap &&
                grow(&ws->plain, &ws->plain_cap, ws->plain_cap ? ws->plain_cap * 2 : 4096) < 0)
                return -ENOMEM;
            size_t room = ws->plain_cap - ws->plain_len;
            if (room > ws->max_message + 1 - ws->plain_len)
                room = ws->max_message + 1 - ws->plain_len;
            z->next_out = ws->plain + ws->plain_len;
            z->avail_out = (uInt)room;
            int zr = inflate(z, Z_SYNC_FLUSH);
            ws->plain_len += room - z->avail_out;
            if (ws->plain_len > ws->max_message)
                return fail(ws, WS_CLOSE_TOO_BIG, "message too big", -EMSGSIZE);
            if (zr == Z_BUF_ERROR && z->avail_out) break; /* needs no more input */
            if (zr != Z_OK && zr != Z_BUF_ERROR && zr != Z_STREAM_END)
                return fail(ws, WS_CLOSE_INVALID_DATA, "bad compressed data", -EPROTO);
        }
    }
    int peer_resets =
        ws->is_client ? ws->pmd.server_no_context_takeover : ws->pmd.client_no_context_takeover;
    if (peer_resets) inflateReset(z);
    if (grow(&ws->plain, &ws->plain_cap, ws->plain_len + 1) < 0) return -ENOMEM;
    ws->plain[ws->plain_len] = '\0';
    return 0;
}

static void message_done(cora_ws *ws)
{
    ws->msg_op = 0;
    ws->msg_deflated = 0;
}

int cora_ws_recv(cora_ws *ws, cora_ws_msg *msg)
{
    if (!ws || !msg) return -EINVAL;
    if (ws->receiving) return -EBUSY;
    ws->receiving = 1;
    if (!ws->msg_op && !ws->in_frame) ws->msg_len = 0;
    int r, fin = 0;
    while ((r = read_data_frame(ws, &fin)) == 0 && !fin) {
    }
    ws->receiving = 0;
    if (r < 0) return r;
    msg->type = ws->msg_op == WS_OP_TEXT ? CORA_WS_TEXT : CORA_WS_BINARY;
    msg->fin = 1;
    if (ws->msg_deflated) {
        if ((r = inflate_message(ws)) < 0) return r;
        if (msg->type == CORA_WS_TEXT && !cora__ws_utf8_valid(ws->plain, ws->plain_len))
            return fail(ws, WS_CLOSE_INVALID_DATA, "invalid UTF-8", -EPROTO);
        msg->data = ws->plain;
        msg->len = ws->plain_len;
    } else {
        ws->msg[ws->msg_len] = '\0';
        msg->data = ws->msg;
        msg->len = ws->msg_len;
    }
    message_done(ws);
    return 0;
}

int cora_ws_recv_fragment(cora_ws *ws, cora_ws_msg *msg)
{
    if (!ws || !msg) return -EINVAL;
    /* A compressed message can only be inflated whole. */
    if (ws->deflate) return cora_ws_recv(ws, msg);
    if (ws->receiving) return -EBUSY;
    ws->receiving = 1;
    if (!ws->in_frame) ws->msg_len = 0;
    int fin = 0, r = read_data_frame(ws, &fin);
    ws->receiving = 0;
    if (r < 0) return r;
    ws->msg[ws->msg_len] = '\0';
    msg->type = ws->msg_op == WS_OP_TEXT ? CORA_WS_TEXT : CORA_WS_BINARY;
    msg->data = ws->msg + ws->frag_from;
    msg->len = ws->msg_len - ws->frag_from;
    msg->fin = fin;
    if (fin) message_done(ws);
    return 0;
}

/* ---- sending messages ------------------------------------------------------------- */

/* Compresses p[0..n) into ws->zbuf; returns the compressed length or an error. */
static ssize_t deflate_message(cora_ws *ws, const void *p, size_t n)
{
    z_stream *z = &ws->zout;
    size_t cap = deflateBound(z, (uLong)n) + 16;
    if (grow(&ws->zbuf, &ws->zbuf_cap, cap) < 0) return -ENOMEM;
    z->next_in = (Bytef *)p;
    z->avail_in = (uInt)n;
    z->next_out = ws->zbuf;
    z->avail_out = (uInt)ws->zbuf_cap;
    if (deflate(z, Z_SYNC_FLUSH) != Z_OK || z->avail_in) return -EIO;
    size_t len = ws->zbuf_cap - z->avail_out;
    /* RFC 7692 7.2.1: the flush's empty stored block (00 00 ff ff) is left off. */
    if (len >= 4 && memcmp(ws->zbuf + len - 4, "\x00\x00\xff\xff", 4) == 0) len -= 4;
    int resets =
        ws->is_client ? ws->pmd.client_no_context_takeover : ws->pmd.server_no_context_takeover;
    if (resets) deflateReset(z);
    return (ssize_t)len;
}

int cora_ws_send(cora_ws *ws, cora_ws_type type, const void *data, size_t len)
{
    if (!ws || (type != CORA_WS_TEXT && type != CORA_WS_BINARY) || (!data && len)) return -EINVAL;
    if (type == CORA_WS_TEXT && !cora__ws_utf8_valid(data, len)) return -EINVAL;
    if (ws->dead || ws->close_sent) return -EPIPE;
    int r = cora_lock_acquire(&ws->msg_lock);
    if (r < 0) return r;
    if (ws->deflate && len > 0) {
        ssize_t n = deflate_message(ws, data, len);
        r = n < 0 ? (int)n : write_frame(ws, 1, WS_RSV1, (int)type, ws->zbuf, (size_t)n);
    } else {
        r = write_frame(ws, 1, 0, (int)type, data, len);
    }
    cora_lock_release(&ws->msg_lock);
    return r;
}

int cora_ws_send_text(cora_ws *ws, const char *text)
{
    return cora_ws_send(ws, CORA_WS_TEXT, text, text ? strlen(text) : 0);
}

int cora_ws_send_fragment(cora_ws *ws, cora_ws_type type, const void *data, size_t len, int fin)
{
    if (!ws || (!data && len)) return -EINVAL;
    if (ws->dead || ws->close_sent) return -EPIPE;
    int first = !ws->frag_out || ws->frag_owner != cora_current();
    int r;
    if (first) {
        if (type != CORA_WS_TEXT && type != CORA_WS_BINARY) return -EINVAL;
        if ((r = cora_lock_acquire(&ws->msg_lock)) < 0) return r; /* another's message */
        ws->frag_out = (int)type;
        ws->frag_owner = cora_current();
        cora__ws_utf8_init(&ws->frag_utf8);
    }
    if (ws->frag_out == CORA_WS_TEXT && (cora__ws_utf8_feed(&ws->frag_utf8, data, len) < 0 ||
                                         (fin && !cora__ws_utf8_complete(&ws->frag_utf8))))
        r = -EINVAL;
    else
        r = write_frame(ws, fin, 0, first ? ws->frag_out : WS_OP_CONT, data, len);
    if (fin || r < 0) {
        ws->frag_out = 0;
        ws->frag_owner = NULL;
        cora_lock_release(&ws->msg_lock);
        /* Part of the message went out and the rest never will: the peer would wait
         * for it forever, so the connection is failed. */
        if (r < 0 && !first) fail(ws, WS_CLOSE_INTERNAL, "message cut short", 0);
    }
    return r;
}

int cora_ws_ping(cora_ws *ws, const void *data, size_t len)
{
    if (!ws || len > WS_MAX_CONTROL || (!data && len)) return -EINVAL;
    return write_frame(ws, 1, 0, WS_OP_PING, data, len);
}

uint64_t cora_ws_pongs(const cora_ws *ws)
{
    return ws ? ws->pongs : 0;
}

/* ---- closing ---------------------------------------------------------------------- */

int cora_ws_close(cora_ws *ws, unsigned code, const char *reason)
{
    if (!ws) return -EINVAL;
    size_t rlen = reason ? strlen(reason) : 0;
    if (code && (!cora__ws_close_code_valid(code) || code == WS_CLOSE_NO_STATUS)) return -EINVAL;
    if (rlen > WS_MAX_CONTROL - 2 || (rlen && !code) ||
        !cora__ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rlen))
        return -EINVAL;
    if (ws->close_rcvd) return 0;
    int r = ws->dead ? 0 : send_close(ws, code, reason ? reason : "", rlen);
    if (r < 0 && !ws->close_sent) return r;
    if (ws->dead && !ws->close_rcvd) return 0; /* failed or dropped: nothing to wait for */
    /* Wait for the peer's close: through the receiving task if there is one, else by
     * reading (and dropping) what comes before it. */
    cora_scope sc;
    r = cora_fail_after(&sc, ws->close_timeout);
    if (r < 0) return r;
    if (ws->receiving) {
        r = cora_event_wait(&ws->peer_closed);
    } else {
        cora_ws_msg m;
        while ((r = cora_ws_recv(ws, &m)) == 0) {
        }
        if (r == -EPIPE) r = 0;
    }
    int e = cora_scope_exit(&sc);
    if (r == 0) r = e;
    if (r == 0 && ws->is_client) {
        /* The server closes TCP first; waiting for that keeps TIME_WAIT on its side. */
        cora_scope s2;
        if (cora_move_on_after(&s2, ws->close_timeout) == 0) {
            char b[256];
            while (cora_stream_read(ws->s, b, sizeof b) > 0) {
            }
            cora_scope_exit(&s2);
        }
    }
    return r;
}

unsigned cora_ws_close_code(const cora_ws *ws)
{
    return ws ? ws->close_code : 0;
}

const char *cora_ws_close_reason(const cora_ws *ws)
{
    return ws ? ws->close_reason : "";
}

const char *cora_ws_subprotocol(const cora_ws *ws)
{
    return ws ? ws->subprotocol : NULL;
}

int cora_ws_compressed(const cora_ws *ws)
{
    return ws ? ws->deflate : 0;
}

int cora_utf8_valid(const void *p, size_t n)
{
    return (p || !n) && cora__ws_utf8_valid(p, n);
}

void cora_ws_free(cora_ws *ws)
{
    if (!ws) return;
    if (ws->is_client) cora_stream_close(ws->s);
    if (ws->own_tls) cora_tls_free(ws->own_tls);
    if (ws->zin_ready) inflateEnd(&ws->zin);
    if (ws->zout_ready) deflateEnd(&ws->zout);
    free(ws->in);
    free(ws->msg);
    free(ws->plain);
    free(ws->scratch);
    free(ws->zbuf);
    free(ws->subprotocol);
    free(ws);
}

/* ---- the opening handshake: server ------------------------------------------------ */

int cora_ws_is_upgrade(const cora_http_req *req)
{
    if (!req || strcmp(cora_http_req_method(req), "GET") != 0) return 0;
    const char *up = cora_http_req_header(req, "Upgrade");
    const char *conn = cora_http_req_header(req, "Connection");
    return up && conn && has_token(up, "websocket") && has_token(conn, "upgrade");
}

/* All values of a header joined by ", " (fields may repeat), in b. */
static void joined_header(const cora_http_req *req, const char *name, http_buf *b)
{
    const cora_http_header *f;
    size_t n = cora_http_req_headers(req, &f);
    for (size_t i = 0; i < n; i++) {
        if (!cora__http_ieq(f[i].name, f[i].name_len, name)) continue;
        if (b->len) cora__hbuf_str(b, ", ");
        cora__hbuf_add(b, f[i].value, f[i].value_len);
    }
    cora__hbuf_add(b, "", 1);
    b->len--;
}

/* The first of our subprotocols (in our order) that the client offered. */
static const char *pick_subprotocol(const char *ours, const char *offered, size_t *len)
{
    for (const char *p = ours; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        if (e > p) {
            char tok[128];
            size_t n = (size_t)(e - p) < sizeof tok - 1 ? (size_t)(e - p) : sizeof tok - 1;
            memcpy(tok, p, n);
            tok[n] = '\0';
            if (has_token(offered, tok)) {
                *len = n;
                return p;
            }
        }
        p = e;
    }
    return NULL;
}

int cora_ws_accept(cora_http_req *req, const cora_ws_opts *opts, cora_ws **out)
{
    if (!req || !out) return -EINVAL;
    *out = NULL;
    const char *ver = cora_http_req_header(req, "Sec-WebSocket-Version");
    const char *key = cora_http_req_header(req, "Sec-WebSocket-Key");
    if (!cora_ws_is_upgrade(req) || cora_http_req_version(req) < 11 || !key ||
        !cora__ws_key_valid(key, strlen(key))) {
        cora_http_respond(req, 400, "text/plain", "bad WebSocket upgrade\n", 22);
        return -EPROTO;
    }
    if (!ver || strcmp(ver, "13") != 0) {
        cora_http_set_header(req, "Sec-WebSocket-Version", "13");
        cora_http_respond(req, 426, "text/plain", "WebSocket version 13 only\n", 26);
        return -EPROTO;
    }
    char accept[29];
    cora__ws_accept_key(key, strlen(key), accept);
    http_buf head = {0}, ext = {0}, protos = {0};
    cora__hbuf_fmt(&head,
                   "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
                   accept);
    ws_deflate pmd;
    int agreed = 0;
    char answer[160];
    if (opts && opts->permessage_deflate) {
        joined_header(req, "Sec-WebSocket-Extensions", &ext);
        if (ext.len && !ext.failed)
            agreed = cora__ws_deflate_accept(ext.data, &pmd, answer, sizeof answer);
        if (agreed > 0) cora__hbuf_fmt(&head, "Sec-WebSocket-Extensions: %s\r\n", answer);
    }
    const char *proto = NULL;
    size_t plen = 0;
    if (opts && opts->subprotocols) {
        joined_header(req, "Sec-WebSocket-Protocol", &protos);
        if (protos.len) proto = pick_subprotocol(opts->subprotocols, protos.data, &plen);
        if (proto) cora__hbuf_fmt(&head, "Sec-WebSocket-Protocol: %.*s\r\n", (int)plen, proto);
    }
    cora__hbuf_str(&head, "\r\n");
    int r = head.failed || ext.failed || protos.failed ? -ENOMEM : 0;
    cora__hbuf_free(&ext);
    cora__hbuf_free(&protos);
    cora_ws *ws = r == 0 ? ws_new(NULL, 0, opts) : NULL;
    if (!ws) r = -ENOMEM;
    if (r == 0 && proto && !(ws->subprotocol = strndup(proto, plen))) r = -ENOMEM;
    if (r == 0 && agreed > 0) {
        ws->pmd = pmd;
        r = deflate_setup(ws);
    }
    if (r < 0) {
        cora__hbuf_free(&head);
        cora_ws_free(ws);
        cora_http_respond(req, 500, "text/plain", "out of memory\n", 14);
        return r;
    }
    char *early;
    size_t nearly;
    r = cora__http_upgrade(req, head.data, head.len, &ws->s, &early, &nearly);
    cora__hbuf_free(&head);
    if (r < 0) {
        cora_ws_free(ws);
        return r;
    }
    ws->in = (uint8_t *)early;
    ws->in_len = ws->in_cap = nearly;
    *out = ws;
    return 0;
}

/* ---- the opening handshake: client ------------------------------------------------ */

typedef struct ws_url {
    int secure;
    char host[256];
    int port;
    char *path;
} ws_url;

static int parse_ws_url(const char *url, ws_url *u)
{
    http_url p;
    memset(u, 0, sizeof *u);
    if (!url || cora__http_parse_url(url, strlen(url), 0, &p) < 0) return -EINVAL;
    if (cora__http_ieq(p.scheme.ptr, p.scheme.len, "wss"))
        u->secure = 1;
    else if (!cora__http_ieq(p.scheme.ptr, p.scheme.len, "ws"))
        return -EINVAL;
    if (!p.host.len || p.host.len >= sizeof u->host || p.fragment.len) return -EINVAL;
    memcpy(u->host, p.host.ptr, p.host.len);
    u->port = p.port ? p.port : u->secure ? 443 : 80;
    http_buf b = {0};
    if (p.path.len)
        cora__hbuf_add(&b, p.path.ptr, p.path.len);
    else
        cora__hbuf_str(&b, "/");
    if (p.query.len) cora__hbuf_fmt(&b, "?%.*s", (int)p.query.len, p.query.ptr);
    cora__hbuf_add(&b, "", 1);
    if (b.failed) return -ENOMEM;
    u->path = b.data;
    return 0;
}

/* Checks the server's 101 answer against what we asked. */
static int check_answer(cora_ws *ws, const http_head *h, const char *accept, const cora_ws_opts *o)
{
    if (h->status != 101) return -EPROTO;
    const cora_http_header *f;
    int upgrade = 0, connection = 0, accepted = 0;
    for (size_t i = 0; i < h->nheaders; i++) {
        f = &h->headers[i];
        char v[256];
        if (f->value_len >= sizeof v) return -EPROTO;
        memcpy(v, f->value, f->value_len);
        v[f->value_len] = '\0';
        if (cora__http_ieq(f->name, f->name_len, "Upgrade"))
            upgrade |= has_token(v, "websocket");
        else if (cora__http_ieq(f->name, f->name_len, "Connection"))
            connection |= has_token(v, "upgrade");
        else if (cora__http_ieq(f->name, f->name_len, "Sec-WebSocket-Accept"))
            accepted = strcmp(v, accept) == 0;
        else if (cora__http_ieq(f->name, f->name_len, "Sec-WebSocket-Extensions")) {
            if (ws->deflate || !o || !o->permessage_deflate) return -EPROTO;
            int r = cora__ws_deflate_parse_answer(v, &ws->pmd);
            if (r < 0) return -EPROTO;
            if (r > 0 && (r = deflate_setup(ws)) < 0) return r;
        } else if (cora__http_ieq(f->name, f->name_len, "Sec-WebSocket-Protocol")) {
            if (ws->subprotocol || !o || !o->subprotocols || !has_token(o->subprotocols, v) ||
                strchr(v, ','))
                return -EPROTO;
            if (!(ws->subprotocol = strdup(v))) return -ENOMEM;
        }
    }
    return upgrade && connection && accepted ? 0 : -EPROTO;
}

static int handshake(cora_ws *ws, const ws_url *u, const cora_ws_opts *o)
{
    uint8_t raw[16];
    char key[25], accept[29];
    if (RAND_bytes(raw, sizeof raw) != 1) return -EIO;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof raw);
    cora__ws_accept_key(key, 24, accept);
    int v6 = strchr(u->host, ':') != NULL, dflt = u->port == (u->secure ? 443 : 80);
    http_buf b = {0};
    cora__hbuf_fmt(&b, "GET %s HTTP/1.1\r\nHost: %s%s%s", u->path, v6 ? "[" : "", u->host,
                   v6 ? "]" : "");
    if (!dflt) cora__hbuf_fmt(&b, ":%d", u->port);
    cora__hbuf_fmt(&b,
                   "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Version: 13\r\n",
                   key);
    if (o && o->origin) {
        if (!cora__http_valid_value(o->origin)) return cora__hbuf_free(&b), -EINVAL;
        cora__hbuf_fmt(&b, "Origin: %s\r\n", o->origin);
    }
    if (o && o->subprotocols) {
        if (!cora__http_valid_value(o->subprotocols)) return cora__hbuf_free(&b), -EINVAL;
        cora__hbuf_fmt(&b, "Sec-WebSocket-Protocol: %s\r\n", o->subprotocols);
    }
    if (o && o->permessage_deflate)
        cora__hbuf_fmt(&b, "Sec-WebSocket-Extensions: %s\r\n", cora__ws_deflate_offer());
    cora__hbuf_str(&b, "\r\n");
    if (b.failed) return -ENOMEM;
    ssize_t w = cora_stream_write(ws->s, b.data, b.len);
    cora__hbuf_free(&b);
    int r = w < 0 ? (int)w : cora_stream_drain(ws->s);
    if (r < 0) return r;
    const char *head;
    ssize_t hl = cora_stream_read_until(ws->s, "\r\n\r\n", 4, &head);
    if (hl < 0) return hl == -ENODATA || hl == -EMSGSIZE ? -EPROTO : (int)hl;
    cora_http_header fields[64];
    http_head h = {.headers = fields, .headers_cap = 64};
    http_head_parser p;
    cora__http_parser_init(&p, HTTP_RESPONSE);
    http_limits lim = {0};
    if (cora__http_parse_head(&p, head, (size_t)hl, &lim, &h, NULL) != hl) return -EPROTO;
    return check_answer(ws, &h, accept, o);
}

int cora_ws_connect(const char *url, const cora_ws_opts *opts, cora_ws **out)
{
    if (!out) return -EINVAL;
    *out = NULL;
    ws_url u;
    int r = parse_ws_url(url, &u);
    if (r < 0) return r;
    cora_ws *ws = ws_new(NULL, 1, opts);
    if (!ws) {
        free(u.path);
        return -ENOMEM;
    }
    cora_scope sc;
    r = cora_fail_after(&sc, opts && opts->handshake_timeout > 0 ? opts->handshake_timeout : 30.0);
    if (r == 0) {
        if (u.secure) {
            cora_tls *tls = opts ? opts->tls : NULL;
            if (!tls) {
                cora_tls_opts to = {.alpn = "http/1.1"};
                r = cora_tls_client(&ws->own_tls, &to);
                tls = ws->own_tls;
            }
            if (r == 0) r = cora_tls_connect(&ws->s, u.host, u.port, tls);
        } else {
            r = cora_stream_connect(&ws->s, u.host, u.port);
        }
        if (r == 0) {
            cora_tcp_nodelay(cora_stream_fd(ws->s), 1);
            r = handshake(ws, &u, opts);
        }
        int e = cora_scope_exit(&sc);
        if (r == 0) r = e;
    }
    free(u.path);
    if (r < 0) {
        if (ws->s) cora_stream_close(ws->s);
        ws->s = NULL;
        ws->is_client = 0; /* nothing left to close */
        cora_ws_free(ws);
        return r;
    }
    *out = ws;
    return 0;
}

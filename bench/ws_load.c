/* bench/ws_load.c: the one load generator of the WebSocket benchmark, for every server
 * (`cora serve`, Go's gorilla/websocket, Node's ws, Python's websockets). Plain C over
 * epoll, no cora, so each server faces the same client. No extension is offered
 * (no permessage-deflate): every server sends and receives plain frames.
 *
 *     ws_load echo      [-c conns] [-s size] [-p depth] [-w warmup] [-d seconds] [-r rounds]
 *                       TARGET...
 *     ws_load broadcast [-m members] [-k messages] [-s size] [-r rounds] [-t timeout]
 *                       TARGET...
 *     TARGET: [LABEL[:PID]=]ws://HOST[:PORT]/PATH     (HOST an IPv4 address or localhost)
 *
 * echo (defaults 64 connections, 64-byte messages, depth 1, 1 s warm-up, 5 s): each
 * connection does the opening handshake (status 101, Sec-WebSocket-Accept checked),
 * then keeps `depth` masked text messages in flight: when an echo comes back it is
 * checked against what was sent (same type, same bytes, in order) and the next goes.
 * Over the counted window: messages echoed per second and each message's round trip
 * (send to its echo fully received), p50 and p99.
 *
 * broadcast (defaults 1000 members, 200 messages of 64 bytes of text, 60 s timeout):
 * `members` connections to the room URL, each with ?nick=<unique name> (or &nick= if
 * the URL has a query). The room announces each join to every member, so when all
 * have joined, member i (in join order) has seen the joins of itself and of everyone
 * after it: the generator waits until the joins of this round's nicks seen by all
 * members add up to members x (members + 1) / 2, draining everything else the server
 * sends. Then member 0 sends `messages` text messages at once, and the clock runs
 * until every member has received every one of them: a frame counts for a member when
 * it is a text frame carrying the sent text (`"text":"<the 64 bytes>"` in the room's
 * JSON), and they must arrive in the order sent. Deliveries per second are
 * members x messages over that time.
 *
 * Frames from the server may come split over reads or several to a read, with 7-,
 * 16- or 64-bit lengths, fragmented (continuation frames) or not; pings are answered
 * with pongs; a close frame from the server ends the round as a failure.
 *
 * Several servers, all started beforehand, are measured in one invocation: `rounds`
 * rounds, each visiting every server in turn (the order reversed every other round),
 * so that whatever else the machine does falls on all of them alike; a server's
 * figures are those of its best round (highest rate). Before each round the generator
 * waits (up to 30 s) until every server it knows a PID of is idle (no CPU time over
 * 0.3 s): a server may still be announcing the leaves of the previous round's 1000
 * members, and all servers share one core. With a PID it also reads the server's CPU
 * time (/proc/PID/stat) around the counted window, as the TCP echo client does.
 *
 * Output: a summary line per server, and RESULT lines (bench/bench.h):
 *   echo:      <label>_ws_echo_rate (msg/s), _p50 and _p99 (us), _cpu (server CPU us
 *              per message), _util (server CPU, % of a core), _client_util (this
 *              generator's), _other (the rest of the machine's busy CPU, % of a core)
 *   broadcast: <label>_ws_bcast_rate (deliveries/s), _secs (the burst's time, s), _cpu
 *              (server CPU us per delivery), _util, _client_util, _join_secs (time for
 *              all members to connect and see every join), _join_rate (join notices
 *              delivered per second during that time)
 * A server that fails (handshake refused, wrong bytes, timeout) gets a "FAILED" line on
 * stderr and no RESULT lines; the others are still measured. Exit status: 0 if every
 * server was measured, 1 otherwise, 2 for bad arguments.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include "bench_net.h"

#define MAX_FRAME (64u << 20) /* larger server frames are an error */
#define MAX_HEAD 16384        /* the server's handshake answer */
#define READ_MIN 16384        /* free room made before each recv */

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN };

typedef struct conn {
    int fd, idx, state;
    bool out_armed; /* EPOLLOUT registered */
    char key[32];   /* our Sec-WebSocket-Key */
    uint8_t *in;    /* received bytes not yet parsed */
    size_t ilen, icap;
    uint8_t *out; /* bytes the socket did not take yet */
    size_t olen, ooff, ocap;
    uint8_t *frag; /* a fragmented message being assembled */
    size_t flen, fcap;
    int fop; /* its opcode, 0: none */
    /* echo */
    uint64_t sent, done;
    int64_t *stamp; /* send times of the messages in flight, a ring of `depth` */
    /* broadcast */
    uint64_t joins, got;
} conn;

typedef struct target {
    char label[64];
    char host[64]; /* as given, for the Host header */
    char path[512];
    struct sockaddr_in addr;
    int pid;
    bool failed, measured;
    char rounds[512]; /* every round's rate, for the log */
    /* the best round */
    double rate, p50, p99, cpu_us, util, self_util, other, secs, join_secs, join_rate;
} target;

/* ---- Settings ------------------------------------------------------------------ */

static enum { ECHO, BROADCAST } mode;
static int nconns = 64, depth = 1, members = 1000, nmsgs = 200, rounds = 1;
static size_t size = 64;
static double warmup = 1, seconds = 5, timeout_s = 60;
static int max_pending = 128; /* handshakes in flight at once (the listen backlog) */
static uint8_t *scratch[2];   /* two buffers of `size` bytes: a text, the one expected */

/* ---- Small helpers --------------------------------------------------------------- */

static char errbuf[512];

/* Records why the round failed; returns -1 for the caller to pass up. */
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return -1;
}

static uint64_t rng = BENCH_SEED;

/* SHA-1 of a short input (RFC 3174), for Sec-WebSocket-Accept only. */
static uint32_t rol32(uint32_t x, int n) { return (x << n) | (x >> (32 - n)); }

static void sha1(const uint8_t *data, size_t n, uint8_t out[20])
{
    uint8_t msg[192];
    size_t total = (n + 9 + 63) / 64 * 64;
    if (total > sizeof msg) abort();
    memset(msg, 0, total);
    memcpy(msg, data, n);
    msg[n] = 0x80;
    uint64_t bits = (uint64_t)n * 8;
    for (int i = 0; i < 8; i++) msg[total - 1 - i] = (uint8_t)(bits >> (8 * i));
    uint32_t h[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
    for (size_t blk = 0; blk < total; blk += 64) {
        uint32_t w[80];
        const uint8_t *p = msg + blk;
        for (int i = 0; i < 16; i++)
            w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
                   (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
        for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int i = 0; i < 80; i++) {
            uint32_t f, k;
            if (i < 20) {
                f = (b & c) | (~b & d);
                k = 0x5A827999;
            } else if (i < 40) {
                f = b ^ c ^ d;
                k = 0x6ED9EBA1;
            } else if (i < 60) {
                f = (b & c) | (b & d) | (c & d);
                k = 0x8F1BBCDC;
            } else {
                f = b ^ c ^ d;
                k = 0xCA62C1D6;
            }
            uint32_t t = rol32(a, 5) + f + e + k + w[i];
            e = d;
            d = c;
            c = rol32(b, 30);
            b = a;
            a = t;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void base64(const uint8_t *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = tab[v >> 18];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* The Sec-WebSocket-Accept a server must answer KEY with (RFC 6455 section 4.2.2). */
static void accept_of(const char *key, char out[32])
{
    char buf[128];
    uint8_t dig[20];
    int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    sha1((const uint8_t *)buf, (size_t)n, dig);
    base64(dig, 20, out);
}

/* ---- Connections ------------------------------------------------------------------ */

static int ep = -1;
static conn *cs;
static int ncs;         /* connections this round */
static int nstarted;    /* connect() issued */
static int nopen;       /* handshakes completed */
static target *cur;     /* the server of this round */
static char nick_prefix[32]; /* broadcast: member i is "<prefix><i>" */

static void arm(conn *c, bool out)
{
    if (c->out_armed == out) return;
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->out_armed = out;
}

/* Sends what is pending, then DATA; keeps what the socket does not take. */
static int flush_out(conn *c)
{
    while (c->ooff < c->olen) {
        ssize_t n = send(c->fd, c->out + c->ooff, c->olen - c->ooff, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            return fail("connection %d: send: %s", c->idx, strerror(errno));
        }
        c->ooff += (size_t)n;
    }
    if (c->ooff == c->olen) c->ooff = c->olen = 0;
    if (c->state != ST_CONNECTING) arm(c, c->olen > 0);
    return 0;
}

static int write_out(conn *c, const void *data, size_t n)
{
    if (c->olen == 0 && c->state != ST_CONNECTING) {
        ssize_t w = send(c->fd, data, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno != EAGAIN && errno != EINTR)
                return fail("connection %d: send: %s", c->idx, strerror(errno));
            w = 0;
        }
        if ((size_t)w == n) return 0;
        data = (const uint8_t *)data + w;
        n -= (size_t)w;
    }
    if (c->olen + n > c->ocap) {
        size_t cap = c->ocap ? c->ocap : 4096;
        while (cap < c->olen + n) cap *= 2;
        uint8_t *p = realloc(c->out, cap);
        if (!p) return fail("out of memory");
        c->out = p, c->ocap = cap;
    }
    memcpy(c->out + c->olen, data, n);
    c->olen += n;
    if (c->state != ST_CONNECTING) arm(c, true);
    return 0;
}

/* A masked client frame (FIN set) of opcode OP into BUF; returns its length. BUF has
 * room for 14 + n bytes. */
static size_t make_frame(uint8_t *buf, int op, const void *payload, size_t n)
{
    size_t h = 0;
    buf[h++] = (uint8_t)(0x80 | op);
    if (n < 126) {
        buf[h++] = (uint8_t)(0x80 | n);
    } else if (n < 65536) {
        buf[h++] = 0x80 | 126;
        buf[h++] = (uint8_t)(n >> 8);
        buf[h++] = (uint8_t)n;
    } else {
        buf[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--) buf[h++] = (uint8_t)((uint64_t)n >> (8 * i));
    }
    uint32_t m = (uint32_t)bench_rand(&rng);
    uint8_t mask[4] = {(uint8_t)m, (uint8_t)(m >> 8), (uint8_t)(m >> 16), (uint8_t)(m >> 24)};
    memcpy(buf + h, mask, 4);
    h += 4;
    const uint8_t *p = payload;
    for (size_t i = 0; i < n; i++) buf[h + i] = p[i] ^ mask[i & 3];
    return h + n;
}

static int send_frame(conn *c, int op, const void *payload, size_t n)
{
    uint8_t stack[256], *buf = n + 14 <= sizeof stack ? stack : malloc(n + 14);
    if (!buf) return fail("out of memory");
    size_t len = make_frame(buf, op, payload, n);
    int r = write_out(c, buf, len);
    if (buf != stack) free(buf);
    return r;
}

static int start_conn(int i)
{
    conn *c = &cs[i];
    memset(c, 0, sizeof *c);
    c->idx = i;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&cur->addr, sizeof cur->addr) < 0 &&
        errno != EINPROGRESS)
        return fail("connect: %s", strerror(errno));
    c->state = ST_CONNECTING;
    c->icap = READ_MIN * 2;
    c->in = malloc(c->icap);
    if (mode == ECHO) c->stamp = calloc((size_t)depth, sizeof *c->stamp);
    if (!c->in || (mode == ECHO && !c->stamp)) return fail("out of memory");
    uint8_t raw[16];
    for (int k = 0; k < 16; k += 8) {
        uint64_t v = bench_rand(&rng);
        memcpy(raw + k, &v, 8);
    }
    base64(raw, 16, c->key);

    char req[1024];
    char nick[64] = "";
    if (mode == BROADCAST)
        snprintf(nick, sizeof nick, "%snick=%s%d", strchr(cur->path, '?') ? "&" : "?",
                 nick_prefix, i);
    int n = snprintf(req, sizeof req,
                     "GET %s%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n",
                     cur->path, nick, cur->host, c->key);
    if (write_out(c, req, (size_t)n) < 0) return -1; /* queued: sent once connected */
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) return fail("epoll_ctl: %s", strerror(errno));
    c->out_armed = true;
    return 0;
}

static void close_all(void)
{
    for (int i = 0; i < nstarted; i++) {
        conn *c = &cs[i];
        if (c->fd >= 0) {
            if (c->state == ST_OPEN) {
                /* A close frame (1000) first, so that every server ends the
                 * connection as a normal close rather than an error it logs. */
                uint8_t code[2] = {0x03, 0xE8}, buf[32];
                size_t len = make_frame(buf, 8, code, 2);
                if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                }
            }
            close(c->fd);
        }
        free(c->in);
        free(c->out);
        free(c->frag);
        free(c->stamp);
    }
    free(cs);
    cs = NULL;
    ncs = nstarted = nopen = 0;
    if (ep >= 0) close(ep);
    ep = -1;
}

/* ---- Echo ------------------------------------------------------------------------ */

static bool counting;
static uint64_t total; /* messages echoed (echo) or delivered (broadcast) this round */
static uint32_t *lat;  /* round trips in ns over the counted window */
static size_t nlat, lcap;

/* The SEQth message of connection I: printable, its numbers spelled out, so a server
 * that mixed connections up or replayed an old message fails the check. */
static void echo_text(int i, uint64_t seq, uint8_t *out)
{
    char head[48];
    int h = snprintf(head, sizeof head, "%d:%llu:", i, (unsigned long long)seq);
    for (size_t k = 0; k < size; k++)
        out[k] = k < (size_t)h ? (uint8_t)head[k]
                               : (uint8_t)("abcdefghijklmnopqrstuvwxyz0123456789"[(i * 131 + seq * 7 + k) % 36]);
}

static int echo_send(conn *c)
{
    uint8_t *text = scratch[0];
    echo_text(c->idx, c->sent, text);
    c->stamp[c->sent % (uint64_t)depth] = bench_now_ns();
    c->sent++;
    return send_frame(c, 1, text, size);
}

static int echo_message(conn *c, int op, const uint8_t *p, size_t n)
{
    uint8_t *want = scratch[1];
    if (c->done >= c->sent) return fail("connection %d: a message nobody sent", c->idx);
    echo_text(c->idx, c->done, want);
    if (op != 1 || n != size || memcmp(p, want, size) != 0)
        return fail("connection %d: message %llu echoed wrong (opcode %d, %zu bytes)", c->idx,
                    (unsigned long long)c->done, op, n);
    int64_t now = bench_now_ns();
    if (counting) {
        if (nlat == lcap) {
            lcap = lcap ? lcap * 2 : 1 << 16;
            uint32_t *p2 = realloc(lat, lcap * sizeof *lat);
            if (!p2) return fail("out of memory");
            lat = p2;
        }
        int64_t d = now - c->stamp[c->done % (uint64_t)depth];
        lat[nlat++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
    }
    c->done++;
    total++;
    return echo_send(c);
}

/* ---- Broadcast ------------------------------------------------------------------- */

static bool bursting;
static uint64_t joins_seen;
static int members_done;
static char marker[40]; /* "bc<tag>-": starts every text of this round's burst */
static size_t mlen;

static void bcast_text(uint64_t seq, uint8_t *out)
{
    char head[64];
    int h = snprintf(head, sizeof head, "%s%06llu-", marker, (unsigned long long)seq);
    for (size_t k = 0; k < size; k++)
        out[k] = k < (size_t)h ? (uint8_t)head[k] : (uint8_t)("abcdefghijklmnopqrstuvwxyz"[(seq + k) % 26]);
}

static int bcast_message(conn *c, int op, const uint8_t *p, size_t n)
{
    if (op != 1) return 0;
    const uint8_t *q = memmem(p, n, marker, mlen);
    if (q) {
        /* "text":"<the text>" in a "message" notice */
        uint8_t *want = scratch[1];
        const uint8_t *end = p + n;
        if (q - p < 8 || memcmp(q - 8, "\"text\":\"", 8) != 0 || end - q < (ptrdiff_t)size + 1 ||
            q[size] != '"' || !memmem(p, n, "\"message\"", 9))
            return fail("member %d: a frame with the text, not as \"text\":\"...\" in a message: %.*s",
                        c->idx, (int)(n > 200 ? 200 : n), (const char *)p);
        bcast_text(c->got, want);
        if (memcmp(q, want, size) != 0)
            return fail("member %d: expected message %llu, got %.*s", c->idx,
                        (unsigned long long)c->got, (int)size, (const char *)q);
        c->got++;
        total++;
        if (c->got == (uint64_t)nmsgs) members_done++;
        return 0;
    }
    /* A join of this round's members: "join" and "nick":"<prefix>..." */
    if (!bursting && memmem(p, n, "\"join\"", 6)) {
        char pat[48];
        int pl = snprintf(pat, sizeof pat, "\"%s", nick_prefix);
        if (memmem(p, n, pat, (size_t)pl)) {
            c->joins++;
            joins_seen++;
        }
    }
    return 0;
}

/* ---- Frames ------------------------------------------------------------------------ */

static int on_message(conn *c, int op, const uint8_t *p, size_t n)
{
    return mode == ECHO ? echo_message(c, op, p, n) : bcast_message(c, op, p, n);
}

static int on_frame(conn *c, bool fin, int op, const uint8_t *p, size_t n)
{
    if (op & 8) { /* control */
        if (!fin || n > 125) return fail("connection %d: bad control frame", c->idx);
        if (op == 9) return send_frame(c, 10, p, n); /* ping: pong */
        if (op == 10) return 0;
        if (op == 8)
            return fail("connection %d: the server closed it (code %d%s%.*s)", c->idx,
                        n >= 2 ? p[0] << 8 | p[1] : 1005, n > 2 ? ": " : "",
                        (int)(n > 2 ? n - 2 : 0), (const char *)p + 2);
        return fail("connection %d: unknown opcode %d", c->idx, op);
    }
    if (op != 0 && op != 1 && op != 2) return fail("connection %d: unknown opcode %d", c->idx, op);
    if (op == 0 && !c->fop) return fail("connection %d: continuation of nothing", c->idx);
    if (op != 0 && c->fop) return fail("connection %d: new message inside a fragmented one", c->idx);
    if (fin && op != 0) return on_message(c, op, p, n);
    if (op != 0) c->fop = op;
    if (c->flen + n > MAX_FRAME) return fail("connection %d: message too large", c->idx);
    if (c->flen + n > c->fcap) {
        size_t cap = c->fcap ? c->fcap : 4096;
        while (cap < c->flen + n) cap *= 2;
        uint8_t *q = realloc(c->frag, cap);
        if (!q) return fail("out of memory");
        c->frag = q, c->fcap = cap;
    }
    memcpy(c->frag + c->flen, p, n);
    c->flen += n;
    if (!fin) return 0;
    int fop = c->fop;
    size_t flen = c->flen;
    c->fop = 0, c->flen = 0;
    return on_message(c, fop, c->frag, flen);
}

/* Parses every whole frame in c->in; keeps a partial one for the next read. */
static int parse_frames(conn *c)
{
    size_t off = 0;
    while (c->ilen - off >= 2) {
        const uint8_t *h = c->in + off;
        size_t avail = c->ilen - off, hl = 2;
        if (h[0] & 0x70) return fail("connection %d: RSV bits set (no extension was agreed)", c->idx);
        if (h[1] & 0x80) return fail("connection %d: a masked frame from the server", c->idx);
        uint64_t len = h[1] & 0x7f;
        if (len == 126) {
            if (avail < 4) break;
            len = (uint64_t)h[2] << 8 | h[3];
            hl = 4;
        } else if (len == 127) {
            if (avail < 10) break;
            len = 0;
            for (int i = 0; i < 8; i++) len = len << 8 | h[2 + i];
            hl = 10;
        }
        if (len > MAX_FRAME) return fail("connection %d: frame of %llu bytes", c->idx,
                                         (unsigned long long)len);
        if (avail < hl + len) {
            if (hl + len > c->icap) { /* room for the whole frame */
                size_t cap = c->icap;
                while (cap < hl + len + READ_MIN) cap *= 2;
                if (off) {
                    memmove(c->in, c->in + off, avail);
                    c->ilen = avail, off = 0;
                }
                uint8_t *p = realloc(c->in, cap);
                if (!p) return fail("out of memory");
                c->in = p, c->icap = cap;
            }
            break;
        }
        if (on_frame(c, h[0] & 0x80, h[0] & 0x0f, h + hl, (size_t)len) < 0) return -1;
        off += hl + (size_t)len;
    }
    if (off) {
        memmove(c->in, c->in + off, c->ilen - off);
        c->ilen -= off;
    }
    return 0;
}

static bool header_is(const char *line, size_t n, const char *name)
{
    size_t k = strlen(name);
    return n > k && line[k] == ':' && strncasecmp(line, name, k) == 0;
}

/* The server's answer to the opening handshake, once whole in c->in. */
static int handshake_done(conn *c)
{
    uint8_t *end = memmem(c->in, c->ilen, "\r\n\r\n", 4);
    if (!end) {
        if (c->ilen > MAX_HEAD) return fail("connection %d: handshake answer too long", c->idx);
        return 1; /* more to come */
    }
    size_t hlen = (size_t)(end - c->in) + 4;
    char *head = (char *)c->in;
    if (strncmp(head, "HTTP/1.1 101", 12) != 0) {
        char *eol = memchr(head, '\r', hlen);
        return fail("connection %d: handshake answered \"%.*s\"", c->idx,
                    (int)(eol ? eol - head : 40), head);
    }
    char want[32];
    accept_of(c->key, want);
    bool accepted = false, upgrade = false;
    for (char *line = (char *)memchr(head, '\n', hlen) + 1; line < (char *)end;) {
        char *eol = memmem(line, (size_t)((char *)end + 2 - line), "\r\n", 2);
        size_t n = (size_t)(eol - line);
        const char *v = memchr(line, ':', n);
        if (v) {
            v++;
            while (*v == ' ' || *v == '\t') v++;
            size_t vn = (size_t)(eol - v);
            while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t')) vn--;
            if (header_is(line, n, "Sec-WebSocket-Accept")) {
                if (vn != strlen(want) || memcmp(v, want, vn) != 0)
                    return fail("connection %d: Sec-WebSocket-Accept %.*s, expected %s", c->idx,
                                (int)vn, v, want);
                accepted = true;
            } else if (header_is(line, n, "Upgrade")) {
                upgrade = vn == 9 && strncasecmp(v, "websocket", 9) == 0;
            } else if (header_is(line, n, "Sec-WebSocket-Extensions")) {
                return fail("connection %d: an extension we did not offer: %.*s", c->idx, (int)vn, v);
            }
        }
        line = eol + 2;
    }
    if (!accepted) return fail("connection %d: no Sec-WebSocket-Accept", c->idx);
    if (!upgrade) return fail("connection %d: no Upgrade: websocket", c->idx);
    memmove(c->in, c->in + hlen, c->ilen - hlen);
    c->ilen -= hlen;
    c->state = ST_OPEN;
    nopen++;
    return 0;
}

static int on_readable(conn *c)
{
    if (c->icap - c->ilen < READ_MIN) {
        uint8_t *p = realloc(c->in, c->icap * 2);
        if (!p) return fail("out of memory");
        c->in = p, c->icap *= 2;
    }
    ssize_t r = recv(c->fd, c->in + c->ilen, c->icap - c->ilen, 0);
    if (r < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (r <= 0)
        return fail("connection %d: %s", c->idx, r == 0 ? "closed by the server" : strerror(errno));
    c->ilen += (size_t)r;
    if (c->state == ST_HANDSHAKE) {
        int h = handshake_done(c);
        if (h != 0) return h < 0 ? -1 : 0;
        if (mode == ECHO)
            for (int k = 0; k < depth; k++)
                if (echo_send(c) < 0) return -1;
    }
    return parse_frames(c);
}

static int on_writable(conn *c)
{
    if (c->state == ST_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) return fail("connection %d: connect: %s", c->idx, strerror(err));
        c->state = ST_HANDSHAKE;
    }
    return flush_out(c);
}

/* One epoll_wait and everything it reported; starts more connections while fewer than
 * max_pending handshakes are in flight. */
static int pump(int timeout_ms)
{
    while (nstarted < ncs && nstarted - nopen < max_pending)
        if (start_conn(nstarted++) < 0) return -1;
    struct epoll_event evs[256];
    int n = epoll_wait(ep, evs, 256, timeout_ms);
    if (n < 0 && errno != EINTR) return fail("epoll_wait: %s", strerror(errno));
    for (int e = 0; e < n; e++) {
        conn *c = evs[e].data.ptr;
        if ((evs[e].events & (EPOLLOUT | EPOLLERR)) && (c->out_armed || c->state == ST_CONNECTING))
            if (on_writable(c) < 0) return -1;
        if (evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
            if (on_readable(c) < 0) return -1;
    }
    return 0;
}

static int open_round(int count)
{
    ep = epoll_create1(EPOLL_CLOEXEC);
    cs = calloc((size_t)count, sizeof *cs);
    if (ep < 0 || !cs) return fail("out of memory");
    for (int i = 0; i < count; i++) cs[i].fd = -1;
    ncs = count;
    nstarted = nopen = 0;
    total = 0;
    return 0;
}

/* ---- Rounds ------------------------------------------------------------------------ */

static target *ts;
static int ntargets;

/* Waits until every server with a PID has been idle for 0.3 s (at most 30 s). */
static void wait_quiet(void)
{
    int64_t deadline = bench_now_ns() + 30 * (int64_t)1000000000;
    for (;;) {
        int64_t before[64], busy = 0;
        for (int i = 0; i < ntargets && i < 64; i++)
            before[i] = ts[i].pid > 0 ? bench_proc_cpu_ns(ts[i].pid) : -1;
        usleep(300000);
        for (int i = 0; i < ntargets && i < 64; i++) {
            int64_t now = ts[i].pid > 0 && before[i] >= 0 ? bench_proc_cpu_ns(ts[i].pid) : -1;
            if (now >= 0 && now - before[i] > busy) busy = now - before[i];
        }
        if (busy <= 10000000) return; /* a clock tick at most */
        if (bench_now_ns() > deadline) {
            fprintf(stderr, "ws_load: a server is still busy after 30 s; going on\n");
            return;
        }
    }
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

typedef struct round_result {
    double rate, p50, p99, cpu_us, util, self_util, other, secs, join_secs, join_rate;
} round_result;

static int echo_round(target *t, round_result *res)
{
    if (open_round(nconns) < 0) return -1;
    int64_t deadline = bench_now_ns() + (int64_t)(timeout_s * 1e9);
    while (nopen < nconns) {
        if (pump(100) < 0) return -1;
        if (bench_now_ns() > deadline) return fail("only %d of %d handshakes in %.0f s", nopen, nconns, timeout_s);
    }
    counting = false;
    nlat = 0;
    int64_t start = bench_now_ns();
    int64_t t_count = start + (int64_t)(warmup * 1e9), t_end = t_count + (int64_t)(seconds * 1e9);
    int64_t t0 = 0, t1 = 0, cpu0 = -1, cpu1 = -1, self0 = 0, self1 = 0, busy0 = 0, busy1 = 0;
    uint64_t at_count = 0, last_total = 0;
    int64_t last_progress = start;
    for (;;) {
        if (pump(100) < 0) return -1;
        int64_t now = bench_now_ns();
        if (total != last_total) last_total = total, last_progress = now;
        if (now - last_progress > 10 * (int64_t)1000000000) return fail("no echo for 10 s");
        if (!counting && now >= t_count) {
            counting = true;
            t0 = now, at_count = total;
            cpu0 = t->pid > 0 ? bench_proc_cpu_ns(t->pid) : -1;
            self0 = bench_cpu_ns(), busy0 = bench_machine_busy_ns();
        }
        if (counting && now >= t_end) {
            t1 = now;
            cpu1 = t->pid > 0 ? bench_proc_cpu_ns(t->pid) : -1;
            self1 = bench_cpu_ns(), busy1 = bench_machine_busy_ns();
            break;
        }
    }
    counting = false;
    double msgs = (double)(total - at_count), wall = (double)(t1 - t0);
    if (msgs <= 0) return fail("no message echoed in the counted window");
    res->rate = msgs / (wall / 1e9);
    qsort(lat, nlat, sizeof *lat, cmp_u32);
    res->p50 = nlat ? lat[nlat / 2] / 1e3 : 0;
    res->p99 = nlat ? lat[(size_t)((double)nlat * 0.99)] / 1e3 : 0;
    bool cpu = cpu0 >= 0 && cpu1 >= 0;
    res->cpu_us = cpu ? (double)(cpu1 - cpu0) / 1e3 / msgs : -1;
    res->util = cpu ? 100.0 * (double)(cpu1 - cpu0) / wall : -1;
    res->self_util = 100.0 * (double)(self1 - self0) / wall;
    res->other = 100.0 * (double)((busy1 - busy0) - (self1 - self0) - (cpu ? cpu1 - cpu0 : 0)) / wall;
    if (res->other < 0) res->other = 0;
    return 0;
}

static int bcast_round(target *t, int round_no, round_result *res)
{
    /* Names unique to this invocation, round and server: a previous round's members,
     * still leaving, are not counted. */
    unsigned tag = (unsigned)getpid() % 100000 * 1000 + (unsigned)round_no * 10 +
                   (unsigned)(t - ts) % 10;
    snprintf(nick_prefix, sizeof nick_prefix, "m%u-", tag);
    snprintf(marker, sizeof marker, "bc%u-", tag);
    mlen = strlen(marker);
    if (size < mlen + 8) return fail("messages of %zu bytes are too short (at least %zu)", size, mlen + 8);
    if (open_round(members) < 0) return -1;
    bursting = false;
    joins_seen = 0;
    members_done = 0;
    uint64_t want_joins = (uint64_t)members * (uint64_t)(members + 1) / 2;
    int64_t j0 = bench_now_ns(), deadline = j0 + (int64_t)(timeout_s * 1e9);
    while (nopen < members || joins_seen < want_joins) {
        if (pump(100) < 0) return -1;
        if (bench_now_ns() > deadline)
            return fail("after %.0f s: %d of %d handshakes, %llu of %llu join notices", timeout_s,
                        nopen, members, (unsigned long long)joins_seen,
                        (unsigned long long)want_joins);
    }
    int64_t j1 = bench_now_ns();
    if (joins_seen > want_joins) return fail("%llu join notices, expected %llu",
                                             (unsigned long long)joins_seen,
                                             (unsigned long long)want_joins);
    res->join_secs = (double)(j1 - j0) / 1e9;
    res->join_rate = (double)want_joins / res->join_secs;

    /* The burst: every frame built first, then written at once. */
    size_t fsz = size + 14;
    uint8_t *burst = malloc(fsz * (size_t)nmsgs), *text = scratch[0];
    if (!burst) return fail("out of memory");
    size_t blen = 0;
    for (int k = 0; k < nmsgs; k++) {
        bcast_text((uint64_t)k, text);
        blen += make_frame(burst + blen, 1, text, size);
    }
    bursting = true;
    int64_t cpu0 = t->pid > 0 ? bench_proc_cpu_ns(t->pid) : -1;
    int64_t self0 = bench_cpu_ns(), busy0 = bench_machine_busy_ns();
    int64_t t0 = bench_now_ns();
    int r = write_out(&cs[0], burst, blen);
    free(burst);
    if (r < 0) return -1;
    deadline = t0 + (int64_t)(timeout_s * 1e9);
    while (members_done < members) {
        if (pump(100) < 0) return -1;
        if (bench_now_ns() > deadline) {
            uint64_t least = UINT64_MAX;
            for (int i = 0; i < members; i++)
                if (cs[i].got < least) least = cs[i].got;
            return fail("after %.0f s: %d of %d members got all %d messages (%llu deliveries; "
                        "the slowest member got %llu)",
                        timeout_s, members_done, members, nmsgs, (unsigned long long)total,
                        (unsigned long long)least);
        }
    }
    int64_t t1 = bench_now_ns();
    int64_t cpu1 = t->pid > 0 ? bench_proc_cpu_ns(t->pid) : -1;
    int64_t self1 = bench_cpu_ns(), busy1 = bench_machine_busy_ns();
    double deliveries = (double)members * nmsgs, wall = (double)(t1 - t0);
    res->secs = wall / 1e9;
    res->rate = deliveries / res->secs;
    bool cpu = cpu0 >= 0 && cpu1 >= 0;
    res->cpu_us = cpu ? (double)(cpu1 - cpu0) / 1e3 / deliveries : -1;
    res->util = cpu ? 100.0 * (double)(cpu1 - cpu0) / wall : -1;
    res->self_util = 100.0 * (double)(self1 - self0) / wall;
    res->other = 100.0 * (double)((busy1 - busy0) - (self1 - self0) - (cpu ? cpu1 - cpu0 : 0)) / wall;
    if (res->other < 0) res->other = 0;
    return 0;
}

/* ---- Arguments ------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr,
            "usage: ws_load echo [-c conns] [-s size] [-p depth] [-w warmup] [-d seconds] "
            "[-r rounds] [-t timeout] TARGET...\n"
            "       ws_load broadcast [-m members] [-k messages] [-s size] [-r rounds] "
            "[-t timeout] TARGET...\n"
            "TARGET: [LABEL[:PID]=]ws://HOST[:PORT]/PATH (HOST: an IPv4 address or localhost)\n");
    exit(2);
}

static int parse_target(const char *arg, target *t)
{
    memset(t, 0, sizeof *t);
    const char *url = strstr(arg, "ws://");
    if (!url) return -1;
    if (url == arg) {
        snprintf(t->label, sizeof t->label, "ws");
    } else {
        if (url[-1] != '=' || url - 1 - arg >= (long)sizeof t->label) return -1;
        memcpy(t->label, arg, (size_t)(url - 1 - arg));
        char *colon = strchr(t->label, ':');
        if (colon) {
            *colon = '\0';
            t->pid = atoi(colon + 1);
        }
    }
    const char *h = url + 5, *slash = strchr(h, '/');
    size_t hn = slash ? (size_t)(slash - h) : strlen(h);
    if (hn == 0 || hn >= sizeof t->host) return -1;
    memcpy(t->host, h, hn);
    snprintf(t->path, sizeof t->path, "%s", slash ? slash : "/");
    char name[64];
    snprintf(name, sizeof name, "%s", t->host);
    int port = 80;
    char *colon = strrchr(name, ':');
    if (colon) {
        *colon = '\0';
        port = atoi(colon + 1);
    }
    if (port <= 0 || port > 65535) return -1;
    t->addr.sin_family = AF_INET;
    t->addr.sin_port = htons((uint16_t)port);
    if (strcmp(name, "localhost") == 0) snprintf(name, sizeof name, "127.0.0.1");
    if (inet_pton(AF_INET, name, &t->addr.sin_addr) != 1) return -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) usage();
    if (strcmp(argv[1], "echo") == 0)
        mode = ECHO;
    else if (strcmp(argv[1], "broadcast") == 0)
        mode = BROADCAST;
    else
        usage();
    optind = 2;
    int ch;
    while ((ch = getopt(argc, argv, "c:s:p:w:d:r:m:k:t:")) != -1) {
        switch (ch) {
        case 'c': nconns = atoi(optarg); break;
        case 's': size = (size_t)atol(optarg); break;
        case 'p': depth = atoi(optarg); break;
        case 'w': warmup = atof(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'r': rounds = atoi(optarg); break;
        case 'm': members = atoi(optarg); break;
        case 'k': nmsgs = atoi(optarg); break;
        case 't': timeout_s = atof(optarg); break;
        default: usage();
        }
    }
    if (nconns < 1 || depth < 1 || size < 1 || size > MAX_FRAME / 2 || warmup < 0 || seconds <= 0 ||
        rounds < 1 || members < 1 || nmsgs < 1 || timeout_s <= 0 || optind >= argc) {
        fprintf(stderr, "ws_load: bad arguments\n");
        usage();
    }
    scratch[0] = malloc(size);
    scratch[1] = malloc(size);
    if (!scratch[0] || !scratch[1]) return 1;
    ntargets = argc - optind;
    ts = calloc((size_t)ntargets, sizeof *ts);
    if (!ts) return 1;
    for (int i = 0; i < ntargets; i++)
        if (parse_target(argv[optind + i], &ts[i]) < 0) {
            fprintf(stderr, "ws_load: bad target %s ([LABEL[:PID]=]ws://HOST:PORT/PATH)\n",
                    argv[optind + i]);
            return 2;
        }

    /* The RFC's example (section 1.3), so a broken SHA-1 cannot pass for a server's fault. */
    char acc[32];
    accept_of("dGhlIHNhbXBsZSBub25jZQ==", acc);
    if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0) {
        fprintf(stderr, "ws_load: SHA-1 self-check failed\n");
        return 1;
    }
    /* A thousand members and their sockets. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    rng ^= (uint64_t)getpid() << 32 ^ (uint64_t)bench_now_ns();

    for (int r = 0; r < rounds; r++)
        for (int k = 0; k < ntargets; k++) {
            target *t = &ts[r % 2 ? ntargets - 1 - k : k];
            if (t->failed) continue;
            wait_quiet();
            cur = t;
            round_result res = {0};
            errbuf[0] = '\0';
            int rc = mode == ECHO ? echo_round(t, &res) : bcast_round(t, r, &res);
            close_all();
            if (rc < 0) {
                fprintf(stderr, "ws_load: %s: FAILED: %s\n", t->label, errbuf);
                t->failed = true;
                continue;
            }
            size_t len = strlen(t->rounds);
            snprintf(t->rounds + len, sizeof t->rounds - len, "%s%.0fk", len ? " " : "", res.rate / 1e3);
            if (!t->measured || res.rate > t->rate) {
                t->rate = res.rate, t->p50 = res.p50, t->p99 = res.p99, t->cpu_us = res.cpu_us;
                t->util = res.util, t->self_util = res.self_util, t->other = res.other;
                t->secs = res.secs, t->join_secs = res.join_secs, t->join_rate = res.join_rate;
            }
            t->measured = true;
        }

    int failed = 0;
    for (int i = 0; i < ntargets; i++) {
        target *t = &ts[i];
        char name[128], server[96] = "server CPU not read";
        if (t->failed || !t->measured) {
            failed++;
            continue;
        }
        const char *kind = mode == ECHO ? "ws_echo" : "ws_bcast";
        if (t->cpu_us >= 0)
            snprintf(server, sizeof server, "server CPU %.2f us per %s, %.0f%% of a core", t->cpu_us,
                     mode == ECHO ? "message" : "delivery", t->util);
        if (mode == ECHO)
            printf("%-8s %7.0f messages/s, round trip p50 %.0f us, p99 %.0f us; %s; client %.0f%%, "
                   "other work %.0f%% (best of %d: %s msg/s; %d connections, depth %d, %zu-byte "
                   "text, %.2g s + %.2g s warm-up)\n",
                   t->label, t->rate, t->p50, t->p99, server, t->self_util, t->other, rounds,
                   t->rounds, nconns, depth, size, seconds, warmup);
        else
            printf("%-8s %7.0f deliveries/s (%d members x %d messages in %.3f s); %s; client "
                   "%.0f%%, other work %.0f%%; joining took %.2f s (%.0f join notices/s) (best of "
                   "%d: %s deliveries/s)\n",
                   t->label, t->rate, members, nmsgs, t->secs, server, t->self_util, t->other,
                   t->join_secs, t->join_rate, rounds, t->rounds);
#define RES(suffix, v, unit)                                              \
    do {                                                                  \
        snprintf(name, sizeof name, "%s_%s_%s", t->label, kind, suffix); \
        bench_result(name, v, unit);                                      \
    } while (0)
        RES("rate", t->rate, mode == ECHO ? "msg/s" : "deliveries/s");
        if (t->cpu_us >= 0) {
            RES("cpu", t->cpu_us, mode == ECHO ? "us/msg" : "us/delivery");
            RES("util", t->util, "%");
        }
        RES("client_util", t->self_util, "%");
        RES("other", t->other, "%");
        if (mode == ECHO) {
            RES("p50", t->p50, "us");
            RES("p99", t->p99, "us");
        } else {
            RES("secs", t->secs, "s");
            RES("join_secs", t->join_secs, "s");
            RES("join_rate", t->join_rate, "notices/s");
        }
#undef RES
    }
    return failed ? 1 : 0;
}

/* src/net/stream.c: buffered streams (cora/stream.h).
 *
 * Input: one buffer of capacity read_limit, filled at `end` and consumed at `start`;
 * `scanned` remembers how far read_until has looked for its delimiter, so a peer
 * sending one byte at a time costs linear time, not quadratic (slowloris). Data handed
 * out by pointer (read_until, readline, peek) is consumed lazily, at the next call.
 *
 * Output: one buffer of capacity write_limit. A write larger than what is free sends
 * buffered data first; a write larger than the whole buffer goes straight to the
 * socket after the buffer is empty. So memory stays bounded and a slow reader makes
 * writers wait.
 */
#include "../io/backend.h"
#include "internal.h"
#include "cora/io.h"
#include "cora/net.h"
#include "cora/stream.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#define DEFAULT_LIMIT (64 * 1024)

struct cora_stream {
    int fd;
    void *ssl;     /* the TLS transport (tls.c), or NULL for plain sockets */
    char alpn[32]; /* the ALPN protocol TLS chose, or "" */
    bool eof; /* the peer ended its side */
    bool drained; /* the last read from the socket came back short (a hint, see s_recv) */
    char *in;
    size_t in_cap, start, end, scanned;
    size_t consume_next; /* bytes handed out by pointer, consumed at the next call */
    char *out;
    size_t out_cap, out_start, out_end;
};

/* `fresh`: the fd comes from outside, so whatever the loop kept for an older file
 * under its number is forgotten; a TLS stream's fd is the one its handshake just
 * used (through the same operations), and what the loop keeps for it (bytes received
 * ahead, on io_uring) is its own. */
static int stream_make(cora_stream **out, int fd, const cora_stream_opts *opts, bool fresh)
{
    if (!out || fd < 0) {
        if (fd >= 0) close(fd);
        return -EINVAL;
    }
    *out = NULL;
    cora_stream *s = cora__calloc(1, sizeof *s);
    size_t rl = opts && opts->read_limit ? opts->read_limit : DEFAULT_LIMIT;
    size_t wl = opts && opts->write_limit ? opts->write_limit : DEFAULT_LIMIT;
    if (s) s->in = cora__malloc(rl);
    if (s && s->in) s->out = cora__malloc(wl);
    if (!s || !s->in || !s->out) {
        if (s) free(s->in);
        free(s);
        cora__io_forget(fd); /* a TLS handshake may have used it */
        close(fd);
        return -ENOMEM;
    }
    if (fresh) cora__io_forget(fd);
    s->fd = fd;
    s->in_cap = rl;
    s->out_cap = wl;
    *out = s;
    return 0;
}

int cora_stream_new(cora_stream **out, int fd, const cora_stream_opts *opts)
{
    return stream_make(out, fd, opts, true);
}

int cora_stream_connect(cora_stream **out, const char *host, int port)
{
    if (!out) return -EINVAL;
    int fd = cora_tcp_connect(host, port);
    if (fd < 0) return fd;
    return cora_stream_new(out, fd, NULL);
}

/* The transport: the socket itself, or TLS over it.
 *
 * Plain sockets go to the backend directly with two hints (io/backend.h): the fd is
 * the stream's own, closed only by cora_stream_close (so epoll may keep it registered),
 * and whether the last read came back short (so io_uring may wait for data before
 * trying). A request-response peer makes both true nearly always. */
static ssize_t s_op(cora_stream *s, int kind, void *buf, size_t len, uint8_t hints)
{
    cora__op op = {.kind = (uint8_t)kind, .fd = s->fd, .buf = buf, .len = len,
                   .hints = (uint8_t)(CORA__HINT_OWNED | hints)};
    return (ssize_t)cora__io_run(&op);
}

static ssize_t s_recv(cora_stream *s, void *buf, size_t len)
{
    if (s->ssl) return cora__tls_read(s->ssl, buf, len);
    ssize_t n = s_op(s, CORA__OP_RECV, buf, len, s->drained ? CORA__HINT_EMPTY : 0);
    s->drained = n >= 0 && (size_t)n < len;
    return n;
}

static ssize_t s_send(cora_stream *s, const void *buf, size_t len)
{
    return s->ssl ? cora__tls_write(s->ssl, buf, len) : s_op(s, CORA__OP_SEND, (void *)buf, len, 0);
}

/* Waits until the socket takes data (for sendfile, which no backend does itself). */
static int s_wait_writable(cora_stream *s)
{
    cora__op op = {.kind = CORA__OP_POLL, .fd = s->fd, .events = POLLOUT, .hints = CORA__HINT_OWNED};
    int64_t r = cora__io_run(&op);
    return r < 0 ? (int)r : 0;
}

int cora__stream_new_tls(cora_stream **out, int fd, void *ssl)
{
    int r = stream_make(out, fd, NULL, false);
    if (r < 0) return r;
    (*out)->ssl = ssl;
    cora__tls_alpn(ssl, (*out)->alpn, sizeof (*out)->alpn);
    return 0;
}

const char *cora_stream_alpn(const cora_stream *s)
{
    return s && s->alpn[0] ? s->alpn : NULL;
}

ssize_t cora_stream_close(cora_stream *s)
{
    if (!s) return 0;
    ssize_t dropped = (ssize_t)(s->out_end - s->out_start);
    if (s->ssl) cora__tls_free(s->ssl);
    cora__io_forget(s->fd);
    close(s->fd);
    free(s->in);
    free(s->out);
    free(s);
    return dropped;
}

int cora_stream_fd(const cora_stream *s)
{
    return s ? s->fd : -EINVAL;
}

/* ---- input ---------------------------------------------------------------------- */

static void settle_input(cora_stream *s)
{
    s->start += s->consume_next;
    s->scanned = s->scanned > s->consume_next ? s->scanned - s->consume_next : 0;
    s->consume_next = 0;
    if (s->start == s->end) s->start = s->end = 0;
}

static size_t buffered(const cora_stream *s)
{
    return s->end - s->start;
}

/* Reads more from the socket into the input buffer. Returns the count (0 at the end
 * of the stream) or an error; -EMSGSIZE when the buffer is full of unconsumed data. */
static ssize_t fill(cora_stream *s)
{
    if (s->eof) return 0;
    if (s->end == s->in_cap && s->start > 0) { /* slide the data to the front */
        memmove(s->in, s->in + s->start, buffered(s));
        s->end -= s->start;
        s->start = 0;
    }
    if (s->end == s->in_cap) return -EMSGSIZE;
    ssize_t n = s_recv(s, s->in + s->end, s->in_cap - s->end);
    if (n > 0) s->end += (size_t)n;
    if (n == 0) s->eof = true;
    return n;
}

ssize_t cora_stream_read(cora_stream *s, void *buf, size_t len)
{
    if (!s || (!buf && len)) return -EINVAL;
    settle_input(s);
    if (len == 0) return 0;
    if (!buffered(s)) {
        /* Nothing buffered: read straight into the caller's buffer, which saves a
         * copy for callers that keep their own (the HTTP layer does). */
        if (s->eof) return 0;
        ssize_t n = s_recv(s, buf, len);
        if (n == 0) s->eof = true;
        return n;
    }
    size_t k = buffered(s) < len ? buffered(s) : len;
    memcpy(buf, s->in + s->start, k);
    s->start += k;
    s->scanned = s->scanned > k ? s->scanned - k : 0;
    if (s->start == s->end) s->start = s->end = 0;
    return (ssize_t)k;
}

ssize_t cora_stream_peek(cora_stream *s, size_t want, const char **data)
{
    if (!s || !data) return -EINVAL;
    settle_input(s);
    if (want > s->in_cap) return -EMSGSIZE;
    while (buffered(s) < want) {
        ssize_t n = fill(s);
        if (n < 0) return n;
        if (n == 0) break;
    }
    *data = s->in + s->start;
    return (ssize_t)buffered(s);
}

ssize_t cora_stream_read_exactly(cora_stream *s, void *buf, size_t len, size_t *got)
{
    if (got) *got = 0;
    if (!s || (!buf && len)) return -EINVAL;
    const char *data;
    ssize_t n = cora_stream_peek(s, len, &data);
    size_t have = n > 0 ? (size_t)n : 0;
    if (have > len) have = len;
    if (buf && have) memcpy(buf, data, have);
    if (got) *got = have;
    if (n < 0) return n;
    if (have < len) return -ENODATA; /* ended early; the bytes stay in the stream */
    s->start += len;
    s->scanned = s->scanned > len ? s->scanned - len : 0;
    if (s->start == s->end) s->start = s->end = 0;
    return (ssize_t)len;
}

static const char *find(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
    if (nlen == 1) return memchr(hay, needle[0], hlen);
    return memmem(hay, hlen, needle, nlen);
}

ssize_t cora_stream_read_until(cora_stream *s, const void *delim, size_t dlen, const char **data)
{
    if (!s || !delim || !dlen || !data || dlen > s->in_cap) return -EINVAL;
    settle_input(s);
    for (;;) {
        /* Look only at what was not scanned yet (less the delimiter's length - 1, in
         * case it straddles the old edge). */
        size_t from = s->scanned >= dlen - 1 ? s->scanned - (dlen - 1) : 0;
        const char *hit = find(s->in + s->start + from, buffered(s) - from, delim, dlen);
        if (hit) {
            size_t len = (size_t)(hit - (s->in + s->start)) + dlen;
            *data = s->in + s->start;
            s->consume_next = len;
            s->scanned = 0;
            return (ssize_t)len;
        }
        s->scanned = buffered(s);
        ssize_t n = fill(s);
        if (n == 0) return -ENODATA;
        if (n < 0) return n; /* -EMSGSIZE: read_limit bytes and no delimiter */
    }
}

ssize_t cora_stream_readline(cora_stream *s, const char **line)
{
    ssize_t n = cora_stream_read_until(s, "\n", 1, line);
    if (n != -ENODATA) return n;
    /* The end: hand out the last partial line, as asyncio's readline does. */
    *line = s->in + s->start;
    s->consume_next = buffered(s);
    return (ssize_t)buffered(s);
}

/* ---- output --------------------------------------------------------------------- */

size_t cora_stream_pending(const cora_stream *s)
{
    return s ? s->out_end - s->out_start : 0;
}

int cora_stream_drain(cora_stream *s)
{
    if (!s) return -EINVAL;
    while (s->out_start < s->out_end) {
        ssize_t n = s_send(s, s->out + s->out_start, s->out_end - s->out_start);
        if (n < 0) return (int)n;
        s->out_start += (size_t)n;
    }
    s->out_start = s->out_end = 0;
    return 0;
}

ssize_t cora_stream_write(cora_stream *s, const void *buf, size_t len)
{
    if (!s || (!buf && len)) return -EINVAL;
    const char *p = buf;
    size_t done = 0;
    while (done < len) {
        size_t room = s->out_cap - s->out_end;
        if (room == 0 && s->out_start > 0) { /* reclaim what was sent */
            memmove(s->out, s->out + s->out_start, s->out_end - s->out_start);
            s->out_end -= s->out_start;
            s->out_start = 0;
            room = s->out_cap - s->out_end;
        }
        if (room > 0) {
            size_t k = len - done < room ? len - done : room;
            memcpy(s->out + s->out_end, p + done, k);
            s->out_end += k;
            done += k;
            continue;
        }
        /* Full: send some (this is where a slow peer makes the writer wait). */
        ssize_t n = s_send(s, s->out + s->out_start, s->out_end - s->out_start);
        if (n < 0) return done ? (ssize_t)done : n; /* accepted bytes stay queued */
        s->out_start += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t cora_stream_writev(cora_stream *s, const struct iovec *iov, int iovcnt)
{
    if (!s || iovcnt < 0 || (iovcnt && !iov)) return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        ssize_t n = cora_stream_write(s, iov[i].iov_base, iov[i].iov_len);
        if (n < 0) return total ? (ssize_t)total : n;
        total += (size_t)n;
        if ((size_t)n < iov[i].iov_len) break; /* cut short */
    }
    return (ssize_t)total;
}

ssize_t cora_stream_sendfile(cora_stream *s, int file_fd, off_t off, size_t len, size_t *sent)
{
    if (sent) *sent = 0;
    if (!s || file_fd < 0 || off < 0) return -EINVAL;
    int r = cora_stream_drain(s);
    if (r < 0) return r;
    size_t done = 0;
    if (s->ssl) { /* the bytes must be encrypted: through the buffer, a chunk at a time */
        char chunk[16384];
        while (done < len) {
            size_t want = len - done < sizeof chunk ? len - done : sizeof chunk;
            ssize_t n = pread(file_fd, chunk, want, off + (off_t)done);
            if (n < 0) return -errno;
            if (n == 0) break;
            ssize_t w = cora_stream_write(s, chunk, (size_t)n);
            if (w < 0) return w;
            done += (size_t)w;
            if (sent) *sent = done;
            if (w < n) return -ECANCELED; /* cut short: the count says where */
        }
        r = cora_stream_drain(s);
        return r < 0 ? r : (ssize_t)done;
    }
    while (done < len) {
        /* Neither backend has a sendfile operation: wait until the socket takes
         * data, then let the kernel copy from the page cache without blocking. */
        off_t o = off + (off_t)done;
        ssize_t n = sendfile(s->fd, file_fd, &o, len - done);
        if (n > 0) {
            done += (size_t)n;
            if (sent) *sent = done;
            (void)cora__budget_spend(); /* a fast socket must not starve the others */
            continue;
        }
        if (n == 0) break; /* the file is shorter than asked */
        if (errno != EAGAIN) return -errno;
        r = s_wait_writable(s);
        if (r < 0) return r;
    }
    return (ssize_t)done;
}

int cora_stream_write_eof(cora_stream *s)
{
    int r = cora_stream_drain(s);
    if (r == 0 && s->ssl) r = cora__tls_shutdown(s->ssl); /* close_notify first */
    if (r < 0) return r;
    return cora_shutdown(s->fd, SHUT_WR);
}

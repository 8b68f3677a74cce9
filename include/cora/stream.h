/* cora/stream.h: buffered streams over sockets (asyncio's StreamReader/StreamWriter).
 *
 * A stream owns a connected socket (TCP or Unix; TLS will plug in the same way) and
 * two buffers: reads fill the input buffer and hand out bytes, lines or records;
 * writes go to a bounded output buffer, and a slow peer makes writers wait instead of
 * letting memory grow (back-pressure).
 *
 * Limits: the input buffer never holds more than `read_limit` bytes (a line or record
 * longer than that is refused with -EMSGSIZE, and stays readable with
 * cora_stream_read); the output buffer never holds more than `write_limit` bytes.
 *
 * Cancel-safety: nothing is lost or done twice when a call is cut short by
 * cancellation or a deadline. Reads consume nothing unless they return data; writes
 * return how many bytes they accepted (which will be sent); read_exactly reports how
 * many bytes it had when it stopped, and leaves them in the stream.
 */
#ifndef CORA_STREAM_H
#define CORA_STREAM_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cora_stream cora_stream;

typedef struct cora_stream_opts {
    size_t read_limit;  /* 0: 64 KiB */
    size_t write_limit; /* 0: 64 KiB */
} cora_stream_opts;

/* Makes a stream over a connected socket. The stream owns fd from now on (even when
 * this fails: then fd is closed). Returns 0 with *out set, or -EINVAL, -ENOMEM. */
int cora_stream_new(cora_stream **out, int fd, const cora_stream_opts *opts);

/* asyncio.open_connection: connects (cora_tcp_connect) and makes a stream. */
int cora_stream_connect(cora_stream **out, const char *host, int port);

/* Closes the socket and frees the stream without sending what is still buffered
 * (call cora_stream_drain first for that). Returns how many buffered output bytes
 * were dropped (>= 0). Never suspends. */
ssize_t cora_stream_close(cora_stream *s);

/* The socket, for options (cora_tcp_nodelay...). Still owned by the stream: read it
 * only through the stream, which may have taken bytes in ahead (into its buffer, and
 * on io_uring into the loop's receive ring). A wait for input on it (cora_wait_fd)
 * counts the loop's, not the stream's buffer: check cora_stream_peek first. */
int cora_stream_fd(const cora_stream *s);

/* ---- reading -------------------------------------------------------------------- */

/* Up to len bytes into buf: what is buffered, else what arrives next. Returns the
 * count, 0 at end of stream, or a negative errno. */
ssize_t cora_stream_read(cora_stream *s, void *buf, size_t len);

/* Exactly len bytes into buf. Returns len, or an error: -ENODATA when the stream
 * ended first, -ECANCELED / -ETIMEDOUT... In every case *got (when not NULL) tells
 * how many bytes are in buf; on error they are also still in the stream (consumed only
 * on success), so a retry sees them again. len must be at most read_limit (-EMSGSIZE). */
ssize_t cora_stream_read_exactly(cora_stream *s, void *buf, size_t len, size_t *got);

/* Reads up to and including the delimiter (asyncio's readuntil). Returns the length
 * and sets *data to the bytes inside the stream's buffer, valid until the next call
 * on the stream. Errors: -EMSGSIZE when read_limit bytes hold no delimiter, -ENODATA
 * when the stream ends first (the partial data stays readable with cora_stream_read),
 * or a read error. Bytes already scanned are not scanned again as more arrive, so a
 * slow sender costs linear time. */
ssize_t cora_stream_read_until(cora_stream *s, const void *delim, size_t dlen, const char **data);

/* A line ending in "\n", as read_until, except that at the end of the stream the last
 * partial line is returned (0 when nothing is left), as asyncio's readline does. */
ssize_t cora_stream_readline(cora_stream *s, const char **line);

/* Waits until at least want bytes are buffered (or the stream ended) and sets *data to
 * them without consuming them. Returns the count available (less than want only at
 * the end), or an error; want must be at most read_limit. */
ssize_t cora_stream_peek(cora_stream *s, size_t want, const char **data);

/* ---- writing -------------------------------------------------------------------- */

/* Queues len bytes for sending, waiting while the output buffer is full. Returns the
 * count accepted: len, or fewer if the call was cut short (those bytes will be sent;
 * the cancellation comes at the next suspension point), or an error when nothing was
 * accepted (-EPIPE, -ECONNRESET, -ECANCELED...). */
ssize_t cora_stream_write(cora_stream *s, const void *buf, size_t len);
ssize_t cora_stream_writev(cora_stream *s, const struct iovec *iov, int iovcnt);

/* Sends everything buffered (asyncio's drain). Returns 0, or an error; what is not
 * sent stays buffered (cora_stream_pending tells how much). */
int cora_stream_drain(cora_stream *s);

/* Output bytes buffered and not yet sent. */
size_t cora_stream_pending(const cora_stream *s);

/* Drains, then sends len bytes of file_fd from offset off with sendfile(2), with no
 * copy through user space. Returns the count sent, or an error (the count sent so far
 * is then in *sent when not NULL). */
ssize_t cora_stream_sendfile(cora_stream *s, int file_fd, off_t off, size_t len, size_t *sent);

/* Drains, then half-closes: the peer sees the end of the stream while this side can
 * still read (asyncio's write_eof). */
int cora_stream_write_eof(cora_stream *s);

#ifdef __cplusplus
}
#endif
#endif

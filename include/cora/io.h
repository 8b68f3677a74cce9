/* cora/io.h: waiting on file descriptors and reading and writing them.
 *
 * Every call here suspends only the calling task. On the io_uring backend the kernel
 * performs the operation; on epoll cora performs it when the fd is ready, so fds
 * given to these calls should be non-blocking (cora_pipe makes such pipes): on epoll
 * a blocking fd would block the whole loop. Sockets, files and processes come in
 * later layers and are built on the same operations.
 *
 * Cancellation and data: when a task is cancelled during a read or write, cora asks
 * the kernel to stop the operation and keeps the task parked until the kernel has let
 * go of the buffer. If the operation finished first, its real result is returned
 * (the cancellation then arrives at the next suspension point), so no byte read or
 * written is ever lost.
 */
#ifndef CORA_IO_H
#define CORA_IO_H

#include <stddef.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Event bits for cora_wait_fd; the same values as poll(2)'s. */
#define CORA_READABLE 0x001 /* POLLIN */
#define CORA_WRITABLE 0x004 /* POLLOUT */
#define CORA_ERRORED 0x008  /* POLLERR (reported, never asked for) */
#define CORA_HANGUP 0x010   /* POLLHUP (reported, never asked for) */

/* Suspends the calling task until `fd` is readable and/or writable, as `events`
 * (CORA_READABLE | CORA_WRITABLE) asks. Returns the events that happened (a positive
 * mask, which may include CORA_ERRORED and CORA_HANGUP), or -ECANCELED, -EBADF,
 * -EINVAL (events empty), -EPERM outside a task. */
int cora_wait_fd(int fd, unsigned events);

#define CORA_POLL_MAX 64

/* poll(2) for a task: suspends it until one of the n fds (at most CORA_POLL_MAX) has
 * an event it asks for (POLLIN, POLLOUT, POLLPRI), or `timeout` seconds pass
 * (negative: no limit; 0: check and return at once). Sets each revents and returns
 * how many fds have events (0 when the timeout passed); fds below 0 are ignored.
 * Errors: -ECANCELED, -ETIMEDOUT (an outer deadline), -EINVAL, -EPERM outside a task.
 * This is how a non-blocking C library with its own sockets (libpq, hiredis, libcurl's
 * multi interface) runs inside a task: ask it which fds and events it needs, poll
 * them here, hand the results back (examples/curl_multi.c). */
struct pollfd;
int cora_poll(struct pollfd *fds, int n, double timeout);

/* Reads up to `len` bytes from `fd` into `buf`, suspending until at least one byte
 * or end of file is there. Returns the count (0 at end of file) or a negative errno
 * (-ECANCELED, -EBADF, -EINVAL, ...). `buf` is the caller's and must stay valid until
 * the call returns; cora keeps no pointer to it afterwards. */
ssize_t cora_read(int fd, void *buf, size_t len);

/* Writes up to `len` bytes of `buf` to `fd`, suspending until some can be written.
 * Returns the count written (possibly less than len, as write(2) may) or a negative
 * errno: -EPIPE when the reader has gone, -ECANCELED, -EBADF.
 * SIGPIPE: cora_run sets SIGPIPE to be ignored when it finds the default disposition
 * (a process killed by a peer closing its end helps nobody; Go's runtime does the
 * same), so a broken pipe is an -EPIPE, never a death. A handler the program
 * installed itself is left alone. */
ssize_t cora_write(int fd, const void *buf, size_t len);

/* Writes all `len` bytes, looping over short writes. Returns len, or a negative
 * errno; on error or cancellation *written (when not NULL) holds how many bytes did
 * go out, so the caller knows exactly where the stream stands. */
ssize_t cora_write_all(int fd, const void *buf, size_t len, size_t *written);

/* Makes a pipe whose ends are non-blocking and close-on-exec: fds[0] reads, fds[1]
 * writes. Returns 0 or a negative errno (-EMFILE, -ENFILE). Works outside a loop. */
int cora_pipe(int fds[2]);

#ifdef __cplusplus
}
#endif
#endif

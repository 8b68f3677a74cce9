/* src/io/backend.h: the contract between the loop and an I/O backend.
 *
 * Completion-shaped, as io_uring is: the loop submits an operation, and later the
 * backend reports its result through cora__op_done. io_uring maps to it one to one;
 * epoll imitates it by doing the system call itself once the fd is ready. (libuv's
 * readiness-shaped contract is why io_uring never became a peer backend there.)
 *
 * Timers are not the backend's business: the loop keeps its own heap and passes the
 * time until the next deadline to poll().
 *
 * Both backends are compiled into every build; src/io/io.c picks one at loop start.
 */
#ifndef CORA_IO_BACKEND_H
#define CORA_IO_BACKEND_H

#include "../core/internal.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

enum cora__op_kind {
    CORA__OP_POLL,  /* wait until fd has one of `events` (POLLIN, POLLOUT); res = revents */
    CORA__OP_READ,  /* read(fd, buf, len) at `off` (-1: the file position); res = bytes */
    CORA__OP_WRITE, /* write(fd, buf, len) at `off` (-1: the file position); res = bytes */
    CORA__OP_ACCEPT,  /* accept4(fd, addr, addrlenp, NONBLOCK|CLOEXEC); res = new fd */
    CORA__OP_CONNECT, /* connect(fd, addr, addrlen) on a non-blocking socket; res = 0 */
    CORA__OP_RECV,    /* recv(fd, buf, len, flags); res = bytes */
    CORA__OP_SEND,    /* send(fd, buf, len, flags | MSG_NOSIGNAL); res = bytes */
    CORA__OP_RECVMSG, /* recvmsg(fd, buf as struct msghdr *, flags); res = bytes */
    CORA__OP_SENDMSG, /* sendmsg(fd, buf as struct msghdr *, flags | MSG_NOSIGNAL) */
    /* File operations, native on io_uring only (src/fs/ uses the pool elsewhere): */
    CORA__OP_OPENAT,   /* openat(AT_FDCWD, path, flags, mode); res = fd */
    CORA__OP_CLOSE,    /* close(fd) */
    CORA__OP_FSYNC,    /* fsync(fd), fdatasync when flags is non-zero */
    CORA__OP_STATX,    /* statx(fd, path, flags, STATX_BASIC_STATS, buf as struct statx *) */
    CORA__OP_RENAMEAT, /* rename(path, path2) */
    CORA__OP_UNLINKAT, /* unlink(path) */
};

/* Hints a caller may give with an op; a backend may ignore them.
 * OWNED: the fd belongs to a cora stream, which calls forget() before it closes the
 *   fd. A backend may then keep the fd registered across waits (epoll does: one
 *   edge-triggered registration per fd instead of a re-arm per wait), because it
 *   learns of the close; a raw fd may be closed and its number reused behind its back.
 * EMPTY: the last read of this fd came back short, so a read now would most likely
 *   find nothing: wait for data before trying (io_uring's RECVSEND_POLL_FIRST). A wrong
 *   guess costs a little time, never a result. */
enum { CORA__HINT_OWNED = 1, CORA__HINT_EMPTY = 2 };

enum cora__op_state { CORA__OP_IDLE, CORA__OP_INFLIGHT, CORA__OP_DONE };

typedef struct cora__op {
    uint8_t kind;
    uint8_t state;
    int fd;
    void *buf; /* lent to the kernel until the op is DONE */
    size_t len;
    int64_t off;
    uint32_t events;
    int flags;          /* send/recv flags */
    void *addr;         /* accept: where the peer goes; connect: the address */
    socklen_t addrlen;  /* connect: the address's length */
    socklen_t *addrlenp; /* accept: in/out length of addr */
    uint8_t phase;      /* epoll's connect: 0 before connect(), 1 while in progress */
    uint8_t hints;      /* CORA__HINT_*: what the caller knows that can save work */
    const char *path, *path2; /* file operations */
    unsigned mode;
    int64_t res; /* >= 0 or a negative errno, once DONE */
    cora_task *task; /* woken when DONE */
    cora__list link; /* backend's own use while in flight (epoll's wait lists) */
} cora__op;

struct cora__backend {
    const char *name;
    /* Sets up loop->backend_data. On failure returns a negative errno and writes the
     * reason (seccomp, kernel too old, missing opcode) into why. */
    int (*init)(cora_loop *loop, char *why, size_t whylen);
    /* Releases what init made. Called only with no operation in flight. */
    void (*close)(cora_loop *loop);
    /* Starts `op`. Returns 1 if it completed already (op->res is set; epoll does the
     * call at once when it can), 0 if its result will come through cora__op_done, or
     * a negative errno if it could not be started. */
    int (*submit)(cora_loop *loop, cora__op *op);
    /* Asks the kernel to stop an in-flight op. Its completion still comes through
     * cora__op_done, maybe with -ECANCELED, maybe with a real result if the op won
     * the race; maybe before this returns. Until then op->buf stays lent. */
    void (*cancel)(cora_loop *loop, cora__op *op);
    /* Waits up to timeout_ns (-1: no limit; 0: do not block) for completions and
     * wake-ups, and delivers each completion. Returns 0 or a negative errno. */
    int (*poll)(cora_loop *loop, int64_t timeout_ns);
    /* Interrupts a poll in progress. Safe from any thread. */
    void (*wake)(cora_loop *loop);
    /* Optional: `fd`, used with CORA__HINT_OWNED, is about to be closed; forget what
     * is kept for it. No op of it is in flight. */
    void (*forget)(cora_loop *loop, int fd);
};

/* Tells the calling thread's loop, if any, that an fd used with CORA__HINT_OWNED is
 * about to be closed. */
static inline void cora__io_forget(int fd)
{
    cora_loop *loop = cora__loop();
    if (loop && loop->backend && loop->backend->forget) loop->backend->forget(loop, fd);
}

extern const struct cora__backend cora__backend_uring;
extern const struct cora__backend cora__backend_epoll;

/* Called by a backend when `op` has finished with result `res`. */
void cora__op_done(cora_loop *loop, cora__op *op, int64_t res);

/* Picks and starts the loop's backend (CORA_BACKEND, then io_uring, then epoll). */
int cora__io_open(cora_loop *loop);
void cora__io_close(cora_loop *loop);

/* Runs `op` for the calling task: submits it, parks until it completes, and returns
 * its result. On cancellation the op is cancelled in the kernel and the task stays
 * parked until the kernel has let go of the buffer; the real result wins if the op
 * finished first, so no byte is lost. */
int64_t cora__io_run(cora__op *op);

/* Waits until one of n (at most CORA_POLL_MAX) fds has one of its events, and returns how many
 * are ready, with revents[i] set for each; or the cancellation cause, or -EINVAL.
 * Polls that did not fire are cancelled and given back by the kernel before it
 * returns (c-ares's sockets use it, src/net/dns.c). */
int cora__poll_many(int n, const int *fds, const unsigned *events, unsigned *revents);

#endif

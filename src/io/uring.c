/* src/io/uring.c: the io_uring backend (liburing).
 *
 * Every operation is one SQE whose user_data is the cora__op; its CQE completes it.
 * Submissions are batched: the loop hands them to the kernel once per round, in the
 * same io_uring_enter that waits for completions. Cancellation is an ASYNC_CANCEL SQE
 * (user_data 0, its own CQE ignored); the op's CQE still arrives and is what wakes the
 * task, so its buffer is never touched by the task while the kernel may write it.
 *
 * The cross-thread wake-up is an eventfd with a READ always in flight on it.
 */
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/stat.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define RING_ENTRIES 256

typedef struct uring_data {
    struct io_uring ring;
    int wake_fd;
    uint64_t wake_buf; /* the eventfd's counter lands here */
    cora__op wake_op;  /* its identity is the user_data of the wake-up READ */
    bool wake_armed;
    bool closing; /* the wake-up READ is not re-armed any more */
} uring_data;

static uring_data *data_of(cora_loop *loop)
{
    return loop->backend_data;
}

/* An SQE, flushing the queue to the kernel when it is full. */
static struct io_uring_sqe *get_sqe(uring_data *u)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    while (!sqe) {
        int r = io_uring_submit(&u->ring);
        if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) return NULL;
        sqe = io_uring_get_sqe(&u->ring);
    }
    return sqe;
}

static int arm_wake(uring_data *u)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) return -EBUSY;
    io_uring_prep_read(sqe, u->wake_fd, &u->wake_buf, sizeof u->wake_buf, 0);
    io_uring_sqe_set_data(sqe, &u->wake_op);
    u->wake_armed = true;
    return 0;
}

static const struct {
    int op;
    const char *name;
} needed_ops[] = {
    {IORING_OP_READ, "IORING_OP_READ"},
    {IORING_OP_WRITE, "IORING_OP_WRITE"},
    {IORING_OP_POLL_ADD, "IORING_OP_POLL_ADD"},
    {IORING_OP_ASYNC_CANCEL, "IORING_OP_ASYNC_CANCEL"},
    {IORING_OP_ACCEPT, "IORING_OP_ACCEPT"},
    {IORING_OP_CONNECT, "IORING_OP_CONNECT"},
    {IORING_OP_SEND, "IORING_OP_SEND"},
    {IORING_OP_RECV, "IORING_OP_RECV"},
    {IORING_OP_SENDMSG, "IORING_OP_SENDMSG"},
    {IORING_OP_RECVMSG, "IORING_OP_RECVMSG"},
};

/* File operations cora runs natively when the kernel has them (else on the pool). */
static const struct {
    int op, kind;
} file_ops[] = {
    {IORING_OP_READ, CORA__OP_READ},         {IORING_OP_WRITE, CORA__OP_WRITE},
    {IORING_OP_OPENAT, CORA__OP_OPENAT},     {IORING_OP_CLOSE, CORA__OP_CLOSE},
    {IORING_OP_FSYNC, CORA__OP_FSYNC},       {IORING_OP_STATX, CORA__OP_STATX},
    {IORING_OP_RENAMEAT, CORA__OP_RENAMEAT}, {IORING_OP_UNLINKAT, CORA__OP_UNLINKAT},
};

static unsigned probe_file_ops(struct io_uring_probe *probe)
{
    unsigned mask = 0;
    for (size_t i = 0; i < sizeof file_ops / sizeof file_ops[0]; i++)
        if (io_uring_opcode_supported(probe, file_ops[i].op)) mask |= 1u << file_ops[i].kind;
    return mask;
}

static int probe_ops(cora_loop *loop, uring_data *u, char *why, size_t whylen)
{
    struct io_uring_probe *probe = io_uring_get_probe_ring(&u->ring);
    if (!probe) {
        snprintf(why, whylen, "IORING_REGISTER_PROBE failed (kernel older than 5.6)");
        return -ENOSYS;
    }
    int r = 0;
    for (size_t i = 0; i < sizeof needed_ops / sizeof needed_ops[0]; i++)
        if (!io_uring_opcode_supported(probe, needed_ops[i].op)) {
            snprintf(why, whylen, "the kernel lacks %s", needed_ops[i].name);
            r = -ENOSYS;
            break;
        }
    if (r == 0) loop->native_ops = probe_file_ops(probe);
    io_uring_free_probe(probe);
    return r;
}

static int uring_init(cora_loop *loop, char *why, size_t whylen)
{
    uring_data *u = cora__calloc(1, sizeof *u);
    if (!u) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    /* SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1) suit a loop that owns its ring and
     * reaps completions only when it polls; older kernels refuse them, so retry
     * plain. */
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int r = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    if (r == -EINVAL) {
        memset(&p, 0, sizeof p);
        r = io_uring_queue_init_params(RING_ENTRIES, &u->ring, &p);
    }
    if (r < 0) {
        if (r == -EPERM)
            snprintf(why, whylen,
                     "io_uring_setup: EPERM (blocked by seccomp, a container policy or the "
                     "kernel.io_uring_disabled sysctl)");
        else if (r == -ENOSYS)
            snprintf(why, whylen, "io_uring_setup: ENOSYS (kernel older than 5.1 or built "
                                  "without io_uring)");
        else
            snprintf(why, whylen, "io_uring_setup: %s", strerrorname_np(-r));
        free(u);
        return r;
    }
    r = probe_ops(loop, u, why, whylen);
    if (r == 0) {
        u->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (u->wake_fd < 0) {
            r = -errno;
            snprintf(why, whylen, "eventfd: %s", strerrorname_np(errno));
        }
    }
    if (r < 0) {
        io_uring_queue_exit(&u->ring);
        free(u);
        return r;
    }
    loop->backend_data = u;
    arm_wake(u);
    return 0;
}

static void handle_cqe(cora_loop *loop, uring_data *u, struct io_uring_cqe *cqe)
{
    void *p = io_uring_cqe_get_data(cqe);
    if (!p || cqe->user_data == LIBURING_UDATA_TIMEOUT) return; /* cancel SQEs, timeouts */
    if (p == &u->wake_op) {
        u->wake_armed = false;
        if (!u->closing) arm_wake(u);
        return;
    }
    cora__op_done(loop, p, cqe->res);
}

static int reap(cora_loop *loop, uring_data *u)
{
    struct io_uring_cqe *cqe;
    unsigned head, n = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe)
    {
        handle_cqe(loop, u, cqe);
        n++;
    }
    io_uring_cq_advance(&u->ring, n);
    return (int)n;
}

static void uring_close(cora_loop *loop)
{
    uring_data *u = data_of(loop);
    /* Take the wake-up READ back before freeing the buffer it would write to. (It
     * may complete with a wake-up instead of the cancellation; either way it is not
     * re-armed.) */
    u->closing = true;
    if (u->wake_armed) {
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe) {
            io_uring_prep_cancel(sqe, &u->wake_op, 0);
            io_uring_sqe_set_data(sqe, NULL);
        }
        for (int i = 0; i < 100 && u->wake_armed; i++) {
            struct io_uring_cqe *cqe;
            struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 10000000};
            io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
            reap(loop, u);
        }
    }
    io_uring_queue_exit(&u->ring);
    close(u->wake_fd);
    free(u);
    loop->backend_data = NULL;
}

static int uring_submit(cora_loop *loop, cora__op *op)
{
    uring_data *u = data_of(loop);
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) return -EBUSY;
    switch (op->kind) {
    case CORA__OP_POLL:
        io_uring_prep_poll_add(sqe, op->fd, op->events);
        break;
    case CORA__OP_READ:
        io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)(op->len > 0x7ffff000 ? 0x7ffff000 : op->len),
                           (uint64_t)op->off);
        break;
    case CORA__OP_WRITE:
        io_uring_prep_write(sqe, op->fd, op->buf,
                            (unsigned)(op->len > 0x7ffff000 ? 0x7ffff000 : op->len),
                            (uint64_t)op->off);
        break;
    case CORA__OP_ACCEPT:
        io_uring_prep_accept(sqe, op->fd, op->addr, op->addrlenp, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    case CORA__OP_CONNECT:
        io_uring_prep_connect(sqe, op->fd, op->addr, op->addrlen);
        break;
    case CORA__OP_RECV:
        io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
        /* The last read came back short: most likely nothing is there yet, so arm
         * the poll at once rather than first failing a recv in the kernel. */
        if (op->hints & CORA__HINT_EMPTY) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
        break;
    case CORA__OP_SEND:
        io_uring_prep_send(sqe, op->fd, op->buf, op->len, op->flags | MSG_NOSIGNAL);
        break;
    case CORA__OP_RECVMSG:
        io_uring_prep_recvmsg(sqe, op->fd, op->buf, (unsigned)op->flags);
        break;
    case CORA__OP_SENDMSG:
        io_uring_prep_sendmsg(sqe, op->fd, op->buf, (unsigned)(op->flags | MSG_NOSIGNAL));
        break;
    case CORA__OP_OPENAT:
        io_uring_prep_openat(sqe, AT_FDCWD, op->path, op->flags, op->mode);
        break;
    case CORA__OP_CLOSE:
        io_uring_prep_close(sqe, op->fd);
        break;
    case CORA__OP_FSYNC:
        io_uring_prep_fsync(sqe, op->fd, op->flags ? IORING_FSYNC_DATASYNC : 0);
        break;
    case CORA__OP_STATX:
        io_uring_prep_statx(sqe, op->fd, op->path, op->flags, STATX_BASIC_STATS, op->buf);
        break;
    case CORA__OP_RENAMEAT:
        io_uring_prep_renameat(sqe, AT_FDCWD, op->path, AT_FDCWD, op->path2, 0);
        break;
    case CORA__OP_UNLINKAT:
        io_uring_prep_unlinkat(sqe, AT_FDCWD, op->path, 0);
        break;
    default:
        return -EINVAL;
    }
    io_uring_sqe_set_data(sqe, op);
    return 0;
}

static void uring_cancel(cora_loop *loop, cora__op *op)
{
    uring_data *u = data_of(loop);
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) return; /* the op completes by itself later; nothing is lost */
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data(sqe, NULL);
}

static int uring_poll(cora_loop *loop, int64_t timeout_ns)
{
    uring_data *u = data_of(loop);
    struct io_uring_cqe *cqe;
    int r;
    if (timeout_ns == 0) {
        r = io_uring_submit_and_get_events(&u->ring);
    } else if (timeout_ns < 0) {
        r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, NULL, NULL);
    } else {
        struct __kernel_timespec ts = {.tv_sec = timeout_ns / 1000000000,
                                       .tv_nsec = timeout_ns % 1000000000};
        r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
    }
    if (r < 0 && r != -ETIME && r != -EINTR && r != -EAGAIN && r != -EBUSY) return r;
    reap(loop, u);
    return 0;
}

static void uring_wake(cora_loop *loop)
{
    uring_data *u = data_of(loop);
    uint64_t one = 1;
    /* EAGAIN means the counter is saturated: a wake-up is pending anyway. */
    ssize_t r = write(u->wake_fd, &one, sizeof one);
    (void)r;
}

const struct cora__backend cora__backend_uring = {
    .name = "uring",
    .init = uring_init,
    .close = uring_close,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .poll = uring_poll,
    .wake = uring_wake,
};

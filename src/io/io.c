/* src/io/io.c: choosing the backend, running an operation for a task, and the
 * public fd calls of cora/io.h. */
#include "backend.h"
#include "cora/io.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cora__io_open(cora_loop *loop)
{
    const char *want = getenv("CORA_BACKEND");
    bool force_epoll = want && strcmp(want, "epoll") == 0;
    bool force_uring = want && strcmp(want, "uring") == 0;
    if (want && *want && !force_epoll && !force_uring && loop->debug)
        fprintf(stderr, "cora: CORA_BACKEND=%s is not uring or epoll; choosing myself\n", want);
    if (!force_epoll) {
        int r = cora__backend_uring.init(loop, loop->backend_note, sizeof loop->backend_note);
        if (r == 0) {
            loop->backend = &cora__backend_uring;
            return 0;
        }
        /* A forced backend that cannot start is an error the user asked to see. */
        if (force_uring) {
            fprintf(stderr, "cora: CORA_BACKEND=uring but io_uring is unusable: %s\n",
                    loop->backend_note);
            return r;
        }
        if (loop->debug)
            fprintf(stderr, "cora: io_uring unusable (%s); using epoll\n", loop->backend_note);
    }
    char why[160];
    int r = cora__backend_epoll.init(loop, why, sizeof why);
    if (r < 0) {
        fprintf(stderr, "cora: epoll backend failed to start: %s\n", why);
        return r;
    }
    loop->backend = &cora__backend_epoll;
    return 0;
}

void cora__io_close(cora_loop *loop)
{
    if (loop->backend) loop->backend->close(loop);
    loop->backend = NULL;
}

void cora__op_done(cora_loop *loop, cora__op *op, int64_t res)
{
    op->res = res;
    op->state = CORA__OP_DONE;
    loop->inflight--;
    cora__census_now.ops--;
    /* -ECANCELED here is our own cancellation reaching the task: cora__park then
     * marks it delivered. */
    cora__wake(op->task, res == -ECANCELED ? -ECANCELED : 0);
}

/* ---- What the task dump says of an operation ------------------------------------ */

static const char *const op_names[] = {
    [CORA__OP_POLL] = "poll",       [CORA__OP_READ] = "read",
    [CORA__OP_WRITE] = "write",     [CORA__OP_ACCEPT] = "accept",
    [CORA__OP_CONNECT] = "connect", [CORA__OP_RECV] = "recv",
    [CORA__OP_SEND] = "send",       [CORA__OP_RECVMSG] = "recvmsg",
    [CORA__OP_SENDMSG] = "sendmsg", [CORA__OP_OPENAT] = "open",
    [CORA__OP_CLOSE] = "close",     [CORA__OP_FSYNC] = "fsync",
    [CORA__OP_STATX] = "stat",      [CORA__OP_RENAMEAT] = "rename",
    [CORA__OP_UNLINKAT] = "unlink",
};

static void op_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const cora__op *op = on;
    const char *name = op->kind < sizeof op_names / sizeof op_names[0] ? op_names[op->kind] : "?";
    if (op->path)
        snprintf(buf, cap, "%s of %s", name, op->path);
    else if (op->kind == CORA__OP_POLL)
        snprintf(buf, cap, "poll on fd %d for %s%s", op->fd, op->events & POLLIN ? "in" : "",
                 op->events & POLLOUT ? (op->events & POLLIN ? "+out" : "out") : "");
    else
        snprintf(buf, cap, "%s on fd %d", name, op->fd);
}

static void polls_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const cora__op *ops = on;
    int n = 0;
    while (ops[n].kind == CORA__OP_POLL) n++;
    snprintf(buf, cap, "poll on %d fds, the first fd %d", n, n ? ops[0].fd : -1);
}

static const cora__wait_desc wait_op = {.what = "I/O", .detail = op_detail};
static const cora__wait_desc wait_polls = {.what = "I/O", .detail = polls_detail};

/* Counts the bytes a finished operation moved, for cora_task_stats_get. */
static void account(cora_task *t, const cora__op *op)
{
    if (op->res <= 0) return;
    switch (op->kind) {
    case CORA__OP_READ:
    case CORA__OP_RECV:
    case CORA__OP_RECVMSG:
        t->bytes_read += (uint64_t)op->res;
        break;
    case CORA__OP_WRITE:
    case CORA__OP_SEND:
    case CORA__OP_SENDMSG:
        t->bytes_written += (uint64_t)op->res;
        break;
    default:
        break;
    }
}

static void io_cancel(cora_task *t)
{
    /* The task stays parked: it is woken by the op's completion, when the kernel is
     * done with the buffer. */
    t->loop->backend->cancel(t->loop, t->wait_obj);
}

/* The I/O fault knob (see core/internal.h). */
__thread long cora__fail_io_at;
__thread int cora__fail_io_err;
__thread unsigned cora__fail_io_kinds;

int cora__io_fault_fire(int fd)
{
    int err = cora__fail_io_err ? cora__fail_io_err : -EIO;
    if (err != -ECONNRESET && err != -EPIPE) return err;
    int type = 0, listening = 0;
    socklen_t len = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM) return err;
    len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || listening) return err;
    /* Reset it (the peer gets an RST), shut both ways so reads here see the end and
     * writes -EPIPE, and take the -ECONNRESET the reset left pending: this operation
     * is the one that reports the failure, as when an RST comes in. */
    struct sockaddr unspec = {.sa_family = AF_UNSPEC};
    (void)connect(fd, &unspec, sizeof unspec);
    (void)shutdown(fd, SHUT_RDWR);
    int pending;
    len = sizeof pending;
    (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &pending, &len);
    return err;
}

/* Hands `op` to the backend; every operation a task makes passes through here.
 * Returns as backend->submit does. An injected failure completes the op at once,
 * never reaching the backend, which is also how epoll reports a system call that
 * failed; the caller cannot tell it from a real one. */
static int submit(cora_loop *loop, cora__op *op)
{
    loop->stat_ops++;
    loop->stat_ops_kind[op->kind & 15]++;
    if (cora__io_should_fail(op->kind)) {
        op->res = cora__io_fault_fire(op->fd);
        return 1;
    }
    return loop->backend->submit(loop, op);
}

int64_t cora__io_run(cora__op *op)
{
    int c = cora__checkpoint();
    if (c) return c;
    cora_loop *loop = cora__loop();
    op->task = loop->current;
    op->state = CORA__OP_INFLIGHT;
    op->res = 0;
    cora__list_init(&op->link);
    int r = submit(loop, op);
    if (r < 0) {
        op->state = CORA__OP_IDLE;
        return r;
    }
    if (r == 1) {
        op->state = CORA__OP_DONE;
        account(op->task, op);
        /* Done without suspending: count it against the task's budget. A cancellation
         * seen by the forced yield is delivered at the next suspension point; the
         * result here is real and must not be lost. */
        (void)cora__budget_spend();
        return op->res;
    }
    loop->inflight++;
    cora__census_now.ops++;
    int w = cora__park(&wait_op, op, io_cancel, op);
    account(op->task, op);
    /* Our cancellation took effect: report its cause (-ETIMEDOUT under a deadline).
     * Any other result is the operation's own, returned as is so no byte is lost. */
    if (op->res == -ECANCELED && w < 0) return w;
    return op->res;
}

/* ---- waiting on several fds at once ---------------------------------------------- */

/* Sends a cancel for every poll of the array still in flight and not yet cancelled
 * (phase marks it); the array ends with an entry whose kind is not POLL. */
static void cancel_polls(cora_loop *loop, cora__op *ops)
{
    for (int i = 0; ops[i].kind == CORA__OP_POLL; i++)
        if (ops[i].state == CORA__OP_INFLIGHT && !ops[i].phase) {
            ops[i].phase = 1;
            loop->backend->cancel(loop, &ops[i]);
        }
}

static void poll_many_cancel(cora_task *t)
{
    cancel_polls(t->loop, t->wait_obj); /* each completion then wakes the task */
}

static void count_polls(int n, const cora__op *ops, unsigned *revents, int *ready, int *inflight)
{
    *ready = *inflight = 0;
    for (int i = 0; i < n; i++) {
        if (ops[i].state == CORA__OP_INFLIGHT) {
            (*inflight)++;
        } else if (ops[i].res > 0) {
            revents[i] = (unsigned)ops[i].res;
            (*ready)++;
        }
    }
}

int cora__poll_many(int n, const int *fds, const unsigned *events, unsigned *revents)
{
    enum { MAX = CORA_POLL_MAX };
    if (n < 1 || n > MAX) return -EINVAL;
    int c = cora__checkpoint();
    if (c) return c;
    cora_loop *loop = cora__loop();
    cora__op ops[MAX + 1];
    memset(ops, 0, sizeof ops);
    ops[n].kind = CORA__OP_READ; /* the end of the array */
    for (int i = 0; i < n; i++) {
        revents[i] = 0;
        ops[i] = (cora__op){.kind = CORA__OP_POLL, .fd = fds[i], .events = events[i],
                            .task = loop->current, .state = CORA__OP_INFLIGHT};
        cora__list_init(&ops[i].link);
        int r = submit(loop, &ops[i]);
        if (r == 0) {
            loop->inflight++;
            cora__census_now.ops++;
            continue;
        }
        ops[i].state = CORA__OP_DONE;
        if (r < 0) ops[i].res = r;
    }
    int ready, inflight, cause = 0;
    count_polls(n, ops, revents, &ready, &inflight);
    /* Until one fires (or the task is cancelled, which cancels the polls). */
    while (!ready && inflight && !cause) {
        int w = cora__park(&wait_polls, ops, poll_many_cancel, ops);
        if (w < 0) cause = w;
        count_polls(n, ops, revents, &ready, &inflight);
    }
    /* The rest are not needed: cancel them and wait until the kernel gives them back,
     * since they live in this frame. */
    cancel_polls(loop, ops);
    count_polls(n, ops, revents, &ready, &inflight); /* epoll cancels at once */
    while (inflight) {
        cora__park(&wait_polls, ops, NULL, ops);
        count_polls(n, ops, revents, &ready, &inflight);
    }
    if (ready) return ready;
    if (cause) return cause;
    for (int i = 0; i < n; i++) /* every poll failed: report the first error */
        if (ops[i].res < 0) return (int)ops[i].res;
    return 0;
}

int cora_poll(struct pollfd *fds, int n, double timeout)
{
    if (n < 0 || n > CORA_POLL_MAX || (n && !fds) || timeout != timeout) return -EINVAL;
    if (!cora__current()) return -EPERM;
    int c = cora__checkpoint();
    if (c) return c;
    if (timeout == 0) { /* a check, as poll(2) with 0 does */
        int r = poll(fds, (nfds_t)n, 0);
        return r < 0 ? -errno : r;
    }
    int fdv[CORA_POLL_MAX], map[CORA_POLL_MAX], m = 0;
    unsigned ev[CORA_POLL_MAX], rev[CORA_POLL_MAX];
    for (int i = 0; i < n; i++) {
        fds[i].revents = 0;
        if (fds[i].fd < 0) continue; /* ignored, as poll(2) ignores them */
        fdv[m] = fds[i].fd;
        ev[m] = (unsigned)fds[i].events & (POLLIN | POLLOUT | POLLPRI);
        map[m++] = i;
    }
    cora_scope s;
    bool timed = timeout > 0;
    if (timed && (c = cora_move_on_after(&s, timeout)) < 0) return c;
    int r = m ? cora__poll_many(m, fdv, ev, rev) : cora_sleep(timeout > 0 ? timeout : 1e10);
    if (timed) {
        cora_scope_exit(&s);
        /* Our own timeout passing is poll's 0, not an error. */
        if (r == -ETIMEDOUT && cora_scope_cause(&s) == -ETIMEDOUT && !cora__pending_cancel(cora__current()))
            r = 0;
    }
    if (r <= 0) return r;
    int ready = 0;
    for (int k = 0; k < m; k++)
        if (rev[k]) {
            fds[map[k]].revents = (short)rev[k];
            ready++;
        }
    return ready;
}

int cora_wait_fd(int fd, unsigned events)
{
    events &= CORA_READABLE | CORA_WRITABLE;
    if (events == 0) return -EINVAL;
    if (fd < 0) return -EBADF;
    cora__op op = {.kind = CORA__OP_POLL, .fd = fd, .events = events};
    return (int)cora__io_run(&op);
}

ssize_t cora_read(int fd, void *buf, size_t len)
{
    if (fd < 0) return -EBADF;
    if (!buf && len) return -EFAULT;
    cora__op op = {.kind = CORA__OP_READ, .fd = fd, .buf = buf, .len = len, .off = -1};
    return (ssize_t)cora__io_run(&op);
}

ssize_t cora_write(int fd, const void *buf, size_t len)
{
    if (fd < 0) return -EBADF;
    if (!buf && len) return -EFAULT;
    cora__op op = {.kind = CORA__OP_WRITE, .fd = fd, .buf = (void *)buf, .len = len, .off = -1};
    return (ssize_t)cora__io_run(&op);
}

ssize_t cora_write_all(int fd, const void *buf, size_t len, size_t *written)
{
    size_t done = 0;
    ssize_t r = 0;
    while (done < len) {
        r = cora_write(fd, (const char *)buf + done, len - done);
        if (r < 0) break;
        done += (size_t)r;
    }
    if (written) *written = done;
    return r < 0 ? r : (ssize_t)done;
}

int cora_pipe(int fds[2])
{
    if (!fds) return -EINVAL;
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0;
}

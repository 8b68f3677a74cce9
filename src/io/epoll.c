/* src/io/epoll.c: the epoll backend, imitating completions.
 *
 * submit() tries the system call at once; when it would block, the op joins its fd's
 * wait list and waits for epoll to call the fd ready; then each waiting op that the
 * event concerns is retried, and completed unless it would still block.
 *
 * Two ways to register an fd:
 * - One-shot (any fd): an event disarms the fd in the kernel, and a wait that finds it
 *   disarmed re-arms it with one epoll_ctl. A raw fd may be closed and its number
 *   reused behind cora's back; the re-arm's MOD failing with ENOENT catches that.
 * - Edge-triggered and persistent (fds of cora streams, CORA__HINT_OWNED): registered
 *   once for input and output, and never touched again until the stream tells us it
 *   closes the fd (forget). What the edges said is kept in `drained` and `wblocked`.
 *   This saves the re-arm: a request-response exchange costs a recv and a send, as
 *   with libuv, instead of a recv, a send and an epoll_ctl.
 *
 * Per-fd state lives in an array indexed by fd (fds are small and dense, as libuv
 * and redis's ae assume too). Cancellation needs no kernel help here: the op leaves
 * its wait list and completes with -ECANCELED at once.
 *
 * fds must be non-blocking: a blocking fd that epoll called readable could still
 * block if another reader drained it first. Regular files cannot be added to epoll
 * (EPERM) and never block on readiness, so their ops run at once; later layers send
 * file I/O to the thread pool on this backend.
 */
#include "backend.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 256

typedef struct fd_watch {
    cora__list ops;    /* waiting ops */
    uint32_t mask;     /* interest the registration is armed with (0: disarmed) */
    bool registered;   /* added to the epoll set */
    bool drained;      /* the last read found the fd empty, and no event came since */
    bool et;           /* registered edge-triggered for input and output (owned fds) */
    bool wblocked;     /* et: the last write would have blocked, and no event came since */
    bool hup;          /* et: the peer hung up or the socket failed: never wait again */
} fd_watch;

typedef struct epoll_data_s {
    int epfd;
    int wake_fd;
    fd_watch **fds; /* indexed by fd; NULL until the fd is first waited on */
    size_t nfds;
    bool no_pwait2; /* epoll_pwait2 answered ENOSYS once */
} epoll_data_s;

static epoll_data_s *data_of(cora_loop *loop)
{
    return loop->backend_data;
}

static int epoll_init_backend(cora_loop *loop, char *why, size_t whylen)
{
    epoll_data_s *e = cora__calloc(1, sizeof *e);
    if (!e) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (e->epfd < 0) {
        int r = -errno;
        snprintf(why, whylen, "epoll_create1: %s", strerrorname_np(errno));
        free(e);
        return r;
    }
    e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = -1};
    if (e->wake_fd < 0 || epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wake_fd, &ev) < 0) {
        int r = -errno;
        snprintf(why, whylen, "eventfd: %s", strerrorname_np(errno));
        if (e->wake_fd >= 0) close(e->wake_fd);
        close(e->epfd);
        free(e);
        return r;
    }
    loop->backend_data = e;
    return 0;
}

static void epoll_close_backend(cora_loop *loop)
{
    epoll_data_s *e = data_of(loop);
    close(e->wake_fd);
    close(e->epfd);
    for (size_t i = 0; i < e->nfds; i++) free(e->fds[i]);
    free(e->fds);
    free(e);
    loop->backend_data = NULL;
}

/* The watch for fd, made on first use. Each watch is its own allocation because
 * wait lists are circular through their heads, which must not move. */
static fd_watch *watch_of(epoll_data_s *e, int fd)
{
    if ((size_t)fd >= e->nfds) {
        size_t n = e->nfds ? e->nfds : 64;
        while (n <= (size_t)fd) n *= 2;
        fd_watch **w = cora__realloc(e->fds, n * sizeof *w);
        if (!w) return NULL;
        memset(w + e->nfds, 0, (n - e->nfds) * sizeof *w);
        e->fds = w;
        e->nfds = n;
    }
    if (!e->fds[fd]) {
        fd_watch *w = cora__calloc(1, sizeof *w);
        if (!w) return NULL;
        cora__list_init(&w->ops);
        e->fds[fd] = w;
    }
    return e->fds[fd];
}

static uint32_t interest(const cora__op *op)
{
    switch (op->kind) {
    case CORA__OP_READ:
    case CORA__OP_ACCEPT:
    case CORA__OP_RECV:
    case CORA__OP_RECVMSG:
        return EPOLLIN;
    case CORA__OP_WRITE:
    case CORA__OP_CONNECT:
    case CORA__OP_SEND:
    case CORA__OP_SENDMSG:
        return EPOLLOUT;
    default:
        return op->events & (EPOLLIN | EPOLLOUT);
    }
}

/* A non-blocking connect: start it; once the socket is writable, its outcome is in
 * SO_ERROR. Returns as try_op does. */
static int try_connect(cora__op *op)
{
    if (op->phase == 0) {
        op->phase = 1;
        if (connect(op->fd, op->addr, op->addrlen) == 0) {
            op->res = 0;
            return 1;
        }
        if (errno == EINPROGRESS || errno == EAGAIN) return 0;
        op->res = -errno;
        return 1;
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == EINPROGRESS || err == EALREADY) return 0;
    op->res = -err;
    return 1;
}

/* Tries the op's system call. Returns 1 with op->res set, or 0 if it would block. */
static int try_op(cora__op *op)
{
    ssize_t n;
    switch (op->kind) {
    case CORA__OP_READ:
        n = op->off < 0 ? read(op->fd, op->buf, op->len) : pread(op->fd, op->buf, op->len, op->off);
        break;
    case CORA__OP_WRITE:
        n = op->off < 0 ? write(op->fd, op->buf, op->len)
                        : pwrite(op->fd, op->buf, op->len, op->off);
        break;
    case CORA__OP_ACCEPT:
        n = accept4(op->fd, op->addr, op->addrlenp, SOCK_NONBLOCK | SOCK_CLOEXEC);
        break;
    case CORA__OP_CONNECT:
        return try_connect(op);
    case CORA__OP_RECV:
        n = recv(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT);
        break;
    case CORA__OP_SEND:
        n = send(op->fd, op->buf, op->len, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
    case CORA__OP_RECVMSG:
        n = recvmsg(op->fd, op->buf, op->flags | MSG_DONTWAIT);
        break;
    case CORA__OP_SENDMSG:
        n = sendmsg(op->fd, op->buf, op->flags | MSG_DONTWAIT | MSG_NOSIGNAL);
        break;
    default: {
        struct pollfd p = {.fd = op->fd, .events = (short)op->events};
        int r = poll(&p, 1, 0);
        if (r < 0) {
            op->res = -errno;
            return 1;
        }
        if (p.revents & POLLNVAL) {
            op->res = -EBADF;
            return 1;
        }
        if (r == 0) return 0;
        op->res = p.revents;
        return 1;
    }
    }
    if (n >= 0) {
        op->res = n;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    op->res = -errno;
    return 1;
}

/* Adds or modifies the fd's registration, whichever the kernel's state calls for: a
 * watch that thinks it is registered may belong to an fd closed and reused (ENOENT),
 * and one that thinks not may still be registered through a dup (EEXIST). */
static int set_registration(epoll_data_s *e, int fd, const fd_watch *w, struct epoll_event *ev)
{
    int r;
    if (!w->registered) {
        r = epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, ev);
        if (r < 0 && errno == EEXIST) r = epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, ev);
    } else {
        r = epoll_ctl(e->epfd, EPOLL_CTL_MOD, fd, ev);
        if (r < 0 && errno == ENOENT) r = epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, ev);
    }
    return r < 0 ? -errno : 0;
}

/* Arms the fd's registration for what its waiting ops want.
 *
 * Registrations are EPOLLONESHOT: an event disarms the fd in the kernel, so nothing
 * needs undoing when its ops complete, and only a wait that finds it disarmed pays an
 * epoll_ctl (one per wait, where add-then-remove cost two; the echo benchmark counts
 * system calls per message). A registration left armed after its ops were cancelled
 * costs at most one spurious event, which disarms it. Whenever no op waits, the mask
 * reads 0, so the next wait always re-arms: an fd closed and reopened under the same
 * number is then caught by MOD failing with ENOENT. */
static int update_interest(epoll_data_s *e, int fd, fd_watch *w)
{
    uint32_t mask = 0;
    for (cora__list *l = w->ops.next; l != &w->ops; l = l->next)
        mask |= interest(CORA__CONTAINER_OF(l, cora__op, link));
    if (mask == 0 || (mask & ~w->mask) == 0) return 0; /* nothing new to wait for */
    struct epoll_event ev = {.events = mask | EPOLLONESHOT, .data.fd = fd};
    int r = set_registration(e, fd, w, &ev);
    if (r < 0) return r;
    w->registered = true;
    w->mask = mask;
    return 0;
}

static bool is_read(const cora__op *op)
{
    return op->kind == CORA__OP_READ || op->kind == CORA__OP_RECV;
}

/* After a read: did it leave the fd empty? A short read on a stream (or EAGAIN) did,
 * at that moment; a full buffer may have left more. */
static void note_read(fd_watch *w, const cora__op *op)
{
    if (w && is_read(op))
        w->drained = !w->hup && (op->res == -EAGAIN || (op->res > 0 && (size_t)op->res < op->len));
}

static bool is_input(const cora__op *op)
{
    return interest(op) == EPOLLIN;
}

/* Registers the fd edge-triggered for input and output, once: from then on only
 * edges (new data, room to write, hang-up) are reported, whether or not an op waits. */
static int et_register(epoll_data_s *e, int fd, fd_watch *w)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = fd};
    int r = set_registration(e, fd, w, &ev);
    if (r < 0) return r;
    /* Adding reports the present state as an edge, so nothing is assumed here. */
    w->registered = w->et = true;
    w->mask = 0;
    w->drained = w->wblocked = w->hup = false;
    return 0;
}

/* submit() for an owned fd: try the op unless the last edge says it would block;
 * if it would, note that and wait for the next edge. No epoll_ctl but the first. */
static int et_submit(epoll_data_s *e, fd_watch *w, cora__op *op)
{
    if (!w) w = watch_of(e, op->fd);
    if (!w) return -ENOMEM;
    if (!w->et) {
        int r = et_register(e, op->fd, w);
        if (r == -EPERM) { /* a regular file: always ready */
            if (op->kind == CORA__OP_POLL)
                op->res = op->events;
            else
                try_op(op);
            return 1;
        }
        if (r < 0) return r;
    }
    bool input = is_input(op);
    bool blocked = op->kind != CORA__OP_POLL && (input ? w->drained : w->wblocked);
    if (!blocked) {
        if (try_op(op)) {
            note_read(w, op);
            return 1;
        }
        if (op->kind != CORA__OP_POLL && !w->hup) {
            if (input)
                w->drained = true;
            else
                w->wblocked = true;
        }
    }
    cora__list_push_back(&w->ops, &op->link);
    return 0;
}

static int epoll_submit(cora_loop *loop, cora__op *op)
{
    epoll_data_s *e = data_of(loop);
    fd_watch *w = (size_t)op->fd < e->nfds ? e->fds[op->fd] : NULL;
    if (op->hints & CORA__HINT_OWNED) return et_submit(e, w, op);
    /* A raw op on an fd registered edge-triggered: the fd is a stream's (a stream's
     * fd used directly), or its stream closed it without telling us. Going back to
     * one-shot is safe either way; its re-arm finds a reused fd. */
    if (w && w->et) {
        w->et = false;
        w->mask = 0;
        w->drained = false;
    }
    /* A read on an fd the last read drained would only find EAGAIN: skip that system
     * call and wait for readiness directly (an echo server's reads, for one). If data
     * came meanwhile, the level-triggered registration reports it at once, so a wrong
     * guess costs a round, never a hang. */
    bool skip_try = is_read(op) && w && w->drained && w->registered;
    if (!skip_try && try_op(op)) {
        note_read(w, op);
        return 1;
    }
    if (!w) w = watch_of(e, op->fd);
    if (!w) return -ENOMEM;
    cora__list_push_back(&w->ops, &op->link);
    int r = update_interest(e, op->fd, w);
    if (r == -EPERM) {
        /* A regular file or directory: always ready, so the op runs now. */
        cora__list_remove(&op->link);
        if (op->kind == CORA__OP_POLL)
            op->res = op->events;
        else
            try_op(op);
        return 1;
    }
    if (r < 0) {
        cora__list_remove(&op->link);
        return r;
    }
    return 0;
}

static void epoll_cancel(cora_loop *loop, cora__op *op)
{
    epoll_data_s *e = data_of(loop);
    cora__list_remove(&op->link);
    fd_watch *w = e->fds[op->fd];
    /* Nobody waits any more: forget the armed state (the kernel may keep it until a
     * spurious event), so the next wait re-arms, and finds out through ENOENT if the
     * fd was closed and its number reused meanwhile. */
    if (cora__list_empty(&w->ops)) w->mask = 0;
    cora__op_done(loop, op, -ECANCELED);
}

static void epoll_forget(cora_loop *loop, int fd)
{
    epoll_data_s *e = data_of(loop);
    if (!e || fd < 0 || (size_t)fd >= e->nfds || !e->fds[fd]) return;
    fd_watch *w = e->fds[fd];
    /* The close removes the kernel's registration (unless the file lives on in a dup,
     * whose stray edges then cost a retry each, nothing more). A new file under this
     * number starts afresh. */
    w->registered = w->et = w->drained = w->wblocked = w->hup = false;
    w->mask = 0;
}

static void fd_ready(cora_loop *loop, epoll_data_s *e, int fd, uint32_t revents)
{
    if ((size_t)fd >= e->nfds || !e->fds[fd]) return;
    fd_watch *w = e->fds[fd];
    w->mask = 0; /* the event disarmed the one-shot registration */
    if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) w->drained = false;
    if (revents & (EPOLLOUT | EPOLLHUP | EPOLLERR)) w->wblocked = false;
    /* A short read is no sign of an empty socket once the peer has ended its side: the
     * end is still to be read, and no further edge will say so. */
    if (w->et && (revents & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) w->hup = true;
    cora__list done;
    cora__list_init(&done);
    /* Retry in arrival order; completed ops are moved aside first, because
     * completing wakes a task and must not disturb this walk. */
    for (cora__list *l = w->ops.next, *next; l != &w->ops; l = next) {
        next = l->next;
        cora__op *op = CORA__CONTAINER_OF(l, cora__op, link);
        bool concerned = (revents & (interest(op) | EPOLLERR | EPOLLHUP)) != 0;
        if (!concerned) continue;
        int finished;
        if (op->kind == CORA__OP_POLL) {
            op->res = revents & (op->events | EPOLLERR | EPOLLHUP);
            finished = op->res != 0;
        } else {
            finished = try_op(op);
        }
        if (finished) {
            note_read(w, op);
            cora__list_remove(&op->link);
            cora__list_push_back(&done, &op->link);
        } else if (w->et && op->kind != CORA__OP_POLL && !w->hup) {
            if (is_input(op))
                w->drained = true;
            else
                w->wblocked = true;
        }
    }
    if (!w->et) update_interest(e, fd, w);
    cora__list *l;
    while ((l = cora__list_pop_front(&done))) {
        cora__op *op = CORA__CONTAINER_OF(l, cora__op, link);
        cora__op_done(loop, op, op->res);
    }
}

static int epoll_poll(cora_loop *loop, int64_t timeout_ns)
{
    epoll_data_s *e = data_of(loop);
    struct epoll_event evs[MAX_EVENTS];
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        ts.tv_sec = timeout_ns / 1000000000;
        ts.tv_nsec = timeout_ns % 1000000000;
        tsp = &ts;
    }
    /* epoll_pwait2 (Linux 5.11) takes nanoseconds; epoll_wait only milliseconds,
     * which would make every short sleep oversleep by up to 1 ms. */
    int n = -1;
    errno = ENOSYS;
    if (!e->no_pwait2) n = epoll_pwait2(e->epfd, evs, MAX_EVENTS, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        e->no_pwait2 = true; /* older kernel (or valgrind): do not ask again */
        int ms = timeout_ns < 0 ? -1 : (int)((timeout_ns + 999999) / 1000000);
        n = epoll_wait(e->epfd, evs, MAX_EVENTS, ms);
    }
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.fd == -1) {
            uint64_t v;
            ssize_t r = read(e->wake_fd, &v, sizeof v);
            (void)r;
            continue;
        }
        fd_ready(loop, e, evs[i].data.fd, evs[i].events);
    }
    return 0;
}

static void epoll_wake(cora_loop *loop)
{
    epoll_data_s *e = data_of(loop);
    uint64_t one = 1;
    ssize_t r = write(e->wake_fd, &one, sizeof one);
    (void)r;
}

const struct cora__backend cora__backend_epoll = {
    .name = "epoll",
    .init = epoll_init_backend,
    .close = epoll_close_backend,
    .submit = epoll_submit,
    .cancel = epoll_cancel,
    .poll = epoll_poll,
    .wake = epoll_wake,
    .forget = epoll_forget,
};

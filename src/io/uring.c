/* src/io/uring.c: the io_uring backend (liburing).
 *
 * Every operation is one SQE whose user_data is the cora__op; its CQE completes it.
 * Submissions are batched: the loop hands them to the kernel once per round, in the
 * same io_uring_enter that waits for completions. Cancellation is an ASYNC_CANCEL SQE
 * (user_data 0, its own CQE ignored); the op's CQE still arrives and is what wakes the
 * task, so its buffer is never touched by the task while the kernel may write it.
 *
 * The cross-thread wake-up is an eventfd with a READ always in flight on it.
 *
 * A stream's socket in request-response use (its reads come back short) gets a
 * multishot receive into buffers the kernel picks from a ring of ours (see "Multishot
 * receive" below): the kernel keeps its wait on the socket armed instead of arming one
 * per read, which is most of what io_uring costs over epoll for small messages.
 */
#include <sys/mman.h>
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

typedef struct ms_fd ms_fd;

typedef struct uring_data {
    struct io_uring ring;
    /* Multishot receive: the buffer ring (made on first use; `ms_off` if the kernel
     * refused it), each buffer's bytes, and the per-fd state, indexed by fd. */
    struct io_uring_buf_ring *br;
    char *bufs;
    uint32_t *buf_len;  /* bytes in buffer bid, while some fd's queue holds it */
    uint16_t *buf_next; /* the next buffer in the same fd's queue */
    unsigned free_bufs; /* buffers the kernel may fill */
    bool ms_off;
    ms_fd **ms;
    int ms_cap;
    ms_fd *gone; /* detached, their multishot not yet given back */
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

/* ---- Multishot receive ----------------------------------------------------------
 *
 * For an OWNED receive with the EMPTY hint (the stream's last read came back short),
 * the fd gets one multishot RECV that stays armed while the stream lives. Each
 * arrival fills a buffer the kernel takes from our ring and posts a CQE; the bytes
 * queue on the fd (a chain of buffer ids) until a read takes them, and the buffer
 * goes back to the ring once read. A read finds the queue non-empty (done at once)
 * or parks as the fd's waiter until the next CQE.
 *
 * Order is kept by sending every OWNED receive of an fd through its queue while the
 * multishot is armed or bytes are queued. The end of the stream or an error ends the
 * multishot and is reported after the queued bytes. When the ring runs dry the
 * kernel ends the multishot with -ENOBUFS; the fd then falls back to plain receives
 * into the reader's own buffer (nothing is lost: the kernel keeps the bytes in the
 * socket) and re-arms once buffers are back. A stream that closes (forget) takes
 * its multishot back with an ASYNC_CANCEL; its state lives until the final CQE. */

#define MS_BGID 7        /* our buffer group */
#define MS_BUFS 256      /* a power of two */
#define MS_BUFSZ 4096    /* request-response messages are small; bulk reads are full */
#define MS_LOW 32        /* fewer free buffers than this: arm no new multishot */
#define MS_FD_MAX 16     /* an fd with this many buffers unread: stop its multishot */
#define MS_ARM 0xA5      /* cora__op.phase of an fd's multishot (its user_data) */
#define MS_WAIT 0x5A     /* cora__op.phase of a task's receive parked on an fd */
#define NO_BUF 0xFFFF

struct ms_fd {
    cora__op arm;     /* the multishot's identity: its user_data */
    int fd;
    bool armed;       /* its CQEs still come (IORING_CQE_F_MORE) */
    bool stopping;    /* asked the kernel to end it (its reader is behind) */
    bool detached;    /* forgotten: freed at the final CQE, not in u->ms any more */
    bool ended;       /* the end of the stream or an error came: end_res, after the bytes */
    int64_t end_res;
    cora__op *waiter; /* a task's receive waiting for bytes */
    cora__op *pollw;  /* a task's wait for input on the fd (the bytes come here, so the
                       * socket itself would not look readable) */
    ms_fd *next;      /* in u->gone while detached */
    uint16_t head, tail; /* the queued buffers, NO_BUF when none */
    uint32_t off;        /* bytes of head already read */
    unsigned queued;     /* buffers in the queue */
};

static int ms_setup(uring_data *u)
{
    size_t ring_bytes = MS_BUFS * sizeof(struct io_uring_buf);
    void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (br == MAP_FAILED) return -ENOMEM;
    u->bufs = cora__malloc((size_t)MS_BUFS * MS_BUFSZ);
    u->buf_len = cora__calloc(MS_BUFS, sizeof *u->buf_len);
    u->buf_next = cora__calloc(MS_BUFS, sizeof *u->buf_next);
    struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = MS_BUFS,
                                   .bgid = MS_BGID};
    /* Provided-buffer rings came with Linux 5.19: an older kernel says no here. */
    if (!u->bufs || !u->buf_len || !u->buf_next || io_uring_register_buf_ring(&u->ring, &reg, 0) < 0) {
        munmap(br, ring_bytes);
        free(u->bufs), free(u->buf_len), free(u->buf_next);
        u->bufs = NULL, u->buf_len = NULL, u->buf_next = NULL;
        return -ENOSYS;
    }
    u->br = br;
    io_uring_buf_ring_init(u->br);
    for (unsigned i = 0; i < MS_BUFS; i++)
        io_uring_buf_ring_add(u->br, u->bufs + (size_t)i * MS_BUFSZ, MS_BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(MS_BUFS), (int)i);
    io_uring_buf_ring_advance(u->br, MS_BUFS);
    u->free_bufs = MS_BUFS;
    return 0;
}

/* After io_uring_queue_exit: the kernel writes into no buffer any more. */
static void ms_teardown(uring_data *u)
{
    for (int fd = 0; fd < u->ms_cap; fd++) free(u->ms[fd]);
    free(u->ms);
    while (u->gone) {
        ms_fd *m = u->gone;
        u->gone = m->next;
        free(m);
    }
    if (u->br) munmap(u->br, MS_BUFS * sizeof(struct io_uring_buf));
    free(u->bufs), free(u->buf_len), free(u->buf_next);
}

/* Gives buffer bid back to the kernel. */
static void ms_recycle(uring_data *u, uint16_t bid)
{
    io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * MS_BUFSZ, MS_BUFSZ, bid,
                          io_uring_buf_ring_mask(MS_BUFS), 0);
    io_uring_buf_ring_advance(u->br, 1);
    u->free_bufs++;
}

/* Copies up to len queued bytes of m into buf, recycling emptied buffers. */
static size_t ms_take(uring_data *u, ms_fd *m, char *buf, size_t len)
{
    size_t done = 0;
    while (done < len && m->head != NO_BUF) {
        uint16_t b = m->head;
        size_t k = u->buf_len[b] - m->off;
        if (k > len - done) k = len - done;
        memcpy(buf + done, u->bufs + (size_t)b * MS_BUFSZ + m->off, k);
        done += k;
        m->off += (uint32_t)k;
        if (m->off == u->buf_len[b]) {
            m->head = u->buf_next[b];
            if (m->head == NO_BUF) m->tail = NO_BUF;
            m->off = 0;
            m->queued--;
            ms_recycle(u, b);
        }
    }
    return done;
}

static void ms_drop_queue(uring_data *u, ms_fd *m)
{
    while (m->head != NO_BUF) {
        uint16_t b = m->head;
        m->head = u->buf_next[b];
        ms_recycle(u, b);
    }
    m->tail = NO_BUF;
    m->off = 0;
    m->queued = 0;
}

/* Asks the kernel to end m's multishot; its last CQE comes without F_MORE. */
static void ms_stop(uring_data *u, ms_fd *m)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) return; /* it goes on; the ring's own limit still bounds it */
    io_uring_prep_cancel(sqe, &m->arm, 0);
    io_uring_sqe_set_data(sqe, NULL);
    m->stopping = true;
}

/* What a receive of m can have now: > 0 bytes taken, the end's result, or -EAGAIN
 * (nothing yet). */
static int64_t ms_ready(uring_data *u, ms_fd *m, cora__op *op)
{
    if (m->head != NO_BUF) return (int64_t)ms_take(u, m, op->buf, op->len);
    if (m->ended) return m->end_res;
    return -EAGAIN;
}

static ms_fd *ms_lookup(uring_data *u, int fd)
{
    return fd < u->ms_cap ? u->ms[fd] : NULL;
}

static ms_fd *ms_get(uring_data *u, int fd)
{
    if (fd >= u->ms_cap) {
        int cap = u->ms_cap ? u->ms_cap : 64;
        while (cap <= fd) cap *= 2;
        ms_fd **t = cora__realloc(u->ms, (size_t)cap * sizeof *t);
        if (!t) return NULL;
        memset(t + u->ms_cap, 0, (size_t)(cap - u->ms_cap) * sizeof *t);
        u->ms = t;
        u->ms_cap = cap;
    }
    if (!u->ms[fd]) {
        ms_fd *m = cora__calloc(1, sizeof *m);
        if (!m) return NULL;
        m->fd = fd;
        m->arm.phase = MS_ARM;
        m->head = m->tail = NO_BUF;
        u->ms[fd] = m;
    }
    return u->ms[fd];
}

static int ms_arm(uring_data *u, ms_fd *m)
{
    struct io_uring_sqe *sqe = get_sqe(u);
    if (!sqe) return -EBUSY;
    io_uring_prep_recv_multishot(sqe, m->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = MS_BGID;
    io_uring_sqe_set_data(sqe, &m->arm);
    m->armed = true;
    m->stopping = false;
    return 0;
}

/* A plain receive into the op's own buffer: the fallback when no multishot runs. */
static void prep_recv(struct io_uring_sqe *sqe, cora__op *op)
{
    io_uring_prep_recv(sqe, op->fd, op->buf, op->len, op->flags);
    /* The last read came back short: most likely nothing is there yet, so arm the
     * poll at once rather than first failing a recv in the kernel. */
    if (op->hints & CORA__HINT_EMPTY) sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
}

/* Submits a stream's receive through its fd's queue. Returns as backend->submit, or
 * 2 to have the caller submit a plain receive. */
static int ms_submit(uring_data *u, cora__op *op)
{
    ms_fd *m = ms_lookup(u, op->fd);
    if (!m && !(op->hints & CORA__HINT_EMPTY)) return 2; /* full reads: plain is better */
    if (op->len == 0) return 2; /* taking 0 bytes from the queue would read as the end */
    if (!u->br && !u->ms_off && ms_setup(u) < 0) u->ms_off = true; /* not on this kernel */
    if (!u->br) return 2;
    if (!m && u->free_bufs < MS_LOW) return 2;
    if (!m && !(m = ms_get(u, op->fd))) return 2;
    if (m->waiter) return -EBUSY; /* one reader at a time, as a stream has */
    int64_t r = ms_ready(u, m, op);
    if (r != -EAGAIN) {
        op->res = r;
        return 1;
    }
    if (!m->armed) {
        /* Not armed, nothing queued: a plain receive keeps the order too, and is
         * better for full reads (a bulk transfer, straight into the reader's buffer,
         * in large pieces); a short one re-arms. */
        if (!(op->hints & CORA__HINT_EMPTY) || u->free_bufs < MS_LOW || ms_arm(u, m) < 0)
            return 2;
    }
    op->phase = MS_WAIT;
    m->waiter = op;
    return 0;
}

/* Answers m's input wait, if bytes or the end are there; or, if the multishot ended
 * with nothing queued, hands it to the kernel as an ordinary poll. */
static void ms_feed_poll(cora_loop *loop, uring_data *u, ms_fd *m)
{
    cora__op *w = m->pollw;
    if (!w) return;
    if (m->head == NO_BUF && !m->ended) {
        if (m->armed) return;
        struct io_uring_sqe *sqe = get_sqe(u);
        if (sqe) {
            m->pollw = NULL;
            w->phase = 0;
            io_uring_prep_poll_add(sqe, w->fd, w->events);
            io_uring_sqe_set_data(sqe, w);
            return;
        }
    }
    m->pollw = NULL;
    w->phase = 0;
    cora__op_done(loop, w, POLLIN);
}

/* Hands what m has to its waiters, if it has anything. */
static void ms_feed(cora_loop *loop, uring_data *u, ms_fd *m)
{
    ms_feed_poll(loop, u, m);
    cora__op *w = m->waiter;
    if (!w) return;
    int64_t r = ms_ready(u, m, w);
    if (r == -EAGAIN) {
        if (m->armed) return;
        /* The multishot ended (buffers ran out) with nothing queued: the waiter
         * receives into its own buffer instead. */
        struct io_uring_sqe *sqe = get_sqe(u);
        if (!sqe) {
            r = -EBUSY;
        } else {
            m->waiter = NULL;
            w->phase = 0;
            prep_recv(sqe, w);
            io_uring_sqe_set_data(sqe, w);
            return;
        }
    }
    m->waiter = NULL;
    w->phase = 0;
    cora__op_done(loop, w, r);
}

static void ms_cqe(cora_loop *loop, uring_data *u, ms_fd *m, struct io_uring_cqe *cqe)
{

    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint16_t b = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        u->free_bufs--;
        if (cqe->res <= 0 || m->detached) {
            ms_recycle(u, b);
        } else {
            u->buf_len[b] = (uint32_t)cqe->res;
            u->buf_next[b] = NO_BUF;
            if (m->tail == NO_BUF)
                m->head = b;
            else
                u->buf_next[m->tail] = b;
            m->tail = b;
            /* A reader this far behind gets the socket's own back-pressure again,
             * rather than the rest of the ring. */
            if (++m->queued >= MS_FD_MAX && m->armed && !m->stopping &&
                (cqe->flags & IORING_CQE_F_MORE))
                ms_stop(u, m);
        }
    } else if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)) {
        m->ended = true; /* the end of the stream, or the socket's error */
        m->end_res = cqe->res;
    }
    if (!(cqe->flags & IORING_CQE_F_MORE)) m->armed = m->stopping = false;
    if (m->detached) {
        if (!m->armed) {
            ms_fd **pp = &u->gone;
            while (*pp != m) pp = &(*pp)->next;
            *pp = m->next;
            ms_drop_queue(u, m);
            free(m);
        }
        return;
    }
    ms_feed(loop, u, m);
}

/* The stream is closing fd: no op of it is in flight (backend.h), so only the
 * multishot may be, and the queue holds bytes nobody will read. */
static void ms_forget(cora_loop *loop, uring_data *u, int fd)
{
    ms_fd *m = ms_lookup(u, fd);
    if (!m) return;
    u->ms[fd] = NULL;
    if (m->pollw) { /* another task's wait on an fd being closed */
        cora__op *w = m->pollw;
        m->pollw = NULL;
        w->phase = 0;
        cora__op_done(loop, w, POLLNVAL);
    }
    ms_drop_queue(u, m);
    if (!m->armed) {
        free(m);
        return;
    }
    m->detached = true; /* freed at its final CQE */
    m->next = u->gone;
    u->gone = m;
    if (!m->stopping) ms_stop(u, m);
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
    cora__op *op = p;
    if (op->phase == MS_ARM) {
        ms_cqe(loop, u, CORA__CONTAINER_OF(op, ms_fd, arm), cqe);
        return;
    }
    cora__op_done(loop, op, cqe->res);
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
    ms_teardown(u);
    close(u->wake_fd);
    free(u);
    loop->backend_data = NULL;
}

static int uring_submit(cora_loop *loop, cora__op *op)
{
    uring_data *u = data_of(loop);
    if (op->kind == CORA__OP_RECV && (op->hints & CORA__HINT_OWNED) && !op->flags) {
        int r = ms_submit(u, op);
        if (r != 2) return r;
    }
    ms_fd *m;
    if (op->kind == CORA__OP_POLL && op->events == POLLIN && (m = ms_lookup(u, op->fd)) &&
        (m->head != NO_BUF || m->ended || m->armed)) {
        /* Input the multishot takes in never shows on the socket: the wait is
         * answered from the fd's queue instead. */
        if (m->head != NO_BUF || m->ended) {
            op->res = POLLIN;
            return 1;
        }
        if (m->pollw) return -EBUSY; /* one at a time */
        op->phase = MS_WAIT;
        m->pollw = op;
        return 0;
    }
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
        prep_recv(sqe, op);
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
    if (op->phase == MS_WAIT) { /* parked on its fd's queue: nothing of the kernel's */
        ms_fd *m = ms_lookup(u, op->fd);
        if (m && m->waiter == op) m->waiter = NULL;
        if (m && m->pollw == op) m->pollw = NULL;
        op->phase = 0;
        cora__op_done(loop, op, -ECANCELED);
        return;
    }
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

static void uring_forget(cora_loop *loop, int fd)
{
    ms_forget(loop, data_of(loop), fd);
}

const struct cora__backend cora__backend_uring = {
    .name = "uring",
    .init = uring_init,
    .close = uring_close,
    .submit = uring_submit,
    .cancel = uring_cancel,
    .poll = uring_poll,
    .wake = uring_wake,
    .forget = uring_forget,
};

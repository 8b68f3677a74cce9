/* tests/test_io.c: fd operations through the backend contract: pipes, readiness,
 * cancellation of in-flight operations, back-pressure, budgets. Once per backend. */
#include "harness.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* ---- ping-pong ------------------------------------------------------------------ */

enum { ROUNDS = 2000 };

struct pp {
    int in, out;
    int first; /* sends before receiving */
};

static void *ponger(void *arg)
{
    struct pp *p = arg;
    uint32_t v = 0;
    for (int i = 0; i < ROUNDS; i++) {
        if (p->first) {
            uint32_t send = (uint32_t)i;
            assert_int_equal(cora_write(p->out, &send, 4), 4);
            assert_int_equal(cora_read(p->in, &v, 4), 4);
            assert_int_equal(v, (uint32_t)i + 1000000);
        } else {
            assert_int_equal(cora_read(p->in, &v, 4), 4);
            assert_int_equal(v, (uint32_t)i);
            v += 1000000;
            assert_int_equal(cora_write(p->out, &v, 4), 4);
        }
    }
    return NULL;
}

static void *main_pingpong(void *arg)
{
    int a[2], b[2];
    assert_int_equal(cora_pipe(a), 0);
    assert_int_equal(cora_pipe(b), 0);
    struct pp x = {b[0], a[1], 1}, y = {a[0], b[1], 0};
    cora_task *tx = cora_spawn(ponger, &x), *ty = cora_spawn(ponger, &y);
    assert_int_equal(cora_await(tx, NULL), 0);
    assert_int_equal(cora_await(ty, NULL), 0);
    for (int i = 0; i < 2; i++) close(a[i]), close(b[i]);
    return NULL;
}

static void pipe_pingpong(void **state)
{
    run_ok(main_pingpong, NULL);
}

/* ---- cancellation of an operation in flight ------------------------------------- */

struct reader {
    int fd;
    char buf[16];
    ssize_t got;
};

static void *read_some(void *arg)
{
    struct reader *r = arg;
    r->got = cora_read(r->fd, r->buf, sizeof r->buf);
    return NULL;
}

static void *main_cancel_read(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    struct reader r = {.fd = p[0], .got = 1};
    cora_task *t = cora_spawn(read_some, &r);
    assert_int_equal(cora_sleep(0.002), 0); /* t is parked in the read, in the kernel */
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(r.got, -ECANCELED);
    /* The cancelled read took nothing: what is written now is all ours. */
    assert_int_equal(cora_write(p[1], "hello", 5), 5);
    char buf[8];
    assert_int_equal(cora_read(p[0], buf, sizeof buf), 5);
    assert_memory_equal(buf, "hello", 5);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void cancel_read_in_flight(void **state)
{
    run_ok(main_cancel_read, NULL);
}

struct writer {
    int fd;
    ssize_t res;
};

static void *write_blocked(void *arg)
{
    struct writer *w = arg;
    static char payload[1000];
    w->res = cora_write(w->fd, payload, sizeof payload);
    return NULL;
}

static void *main_cancel_write(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    char chunk[4096] = {0};
    size_t filled = 0;
    ssize_t n;
    while ((n = write(p[1], chunk, sizeof chunk)) > 0) filled += (size_t)n;
    struct writer w = {p[1], 1};
    cora_task *t = cora_spawn(write_blocked, &w);
    assert_int_equal(cora_sleep(0.002), 0); /* t is parked: the pipe is full */
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(w.res, -ECANCELED);
    /* Not one byte of the cancelled write went into the pipe. */
    size_t drained = 0;
    while ((n = read(p[0], chunk, sizeof chunk)) > 0) drained += (size_t)n;
    assert_int_equal(drained, filled);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void cancel_write_in_flight(void **state)
{
    run_ok(main_cancel_write, NULL);
}

static void *wait_readable(void *arg)
{
    return (void *)(intptr_t)cora_wait_fd(*(int *)arg, CORA_READABLE);
}

static void *main_cancel_poll(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    cora_task *t = cora_spawn(wait_readable, &p[0]);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(t);
    void *r;
    assert_int_equal(cora_await(t, &r), -ECANCELED);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void cancel_wait_fd(void **state)
{
    run_ok(main_cancel_poll, NULL);
}

/* A read that already completed when the cancel arrives keeps its bytes. */
static void *main_cancel_after_data(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    struct reader r = {.fd = p[0], .got = 0};
    cora_task *t = cora_spawn(read_some, &r);
    assert_int_equal(cora_yield(), 0); /* t submitted its read */
    assert_int_equal(write(p[1], "abc", 3), 3);
    /* Give the kernel (uring) or epoll a poll to complete the read, then cancel: the
     * completion is already queued for t, so the cancel must not eat it. */
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    int st = cora_await(t, NULL);
    assert_int_equal(st, 0); /* completed before the cancel: not a cancelled task */
    assert_int_equal(r.got, 3);
    assert_memory_equal(r.buf, "abc", 3);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void cancel_after_completion_keeps_data(void **state)
{
    run_ok(main_cancel_after_data, NULL);
}

/* ---- readiness, errors ---------------------------------------------------------- */

static void *main_wait_fd(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    assert_int_equal(cora_wait_fd(p[1], CORA_WRITABLE) & CORA_WRITABLE, CORA_WRITABLE);
    cora_task *t = cora_spawn(wait_readable, &p[0]);
    assert_int_equal(cora_yield(), 0);
    assert_false(cora_task_done(t));
    assert_int_equal(write(p[1], "x", 1), 1);
    void *r;
    assert_int_equal(cora_await(t, &r), 0);
    assert_true((intptr_t)r & CORA_READABLE);
    close(p[1]);
    /* The writer gone: readable with end of file (and HUP). */
    assert_true(cora_wait_fd(p[0], CORA_READABLE) & (CORA_READABLE | CORA_HANGUP));
    char c[2];
    assert_int_equal(cora_read(p[0], c, 2), 1);
    assert_int_equal(cora_read(p[0], c, 2), 0);
    close(p[0]);
    assert_int_equal(cora_wait_fd(-1, CORA_READABLE), -EBADF);
    assert_int_equal(cora_wait_fd(0, 0), -EINVAL);
    assert_int_equal(cora_read(-1, c, 1), -EBADF);
    return NULL;
}

static void wait_fd_events(void **state)
{
    run_ok(main_wait_fd, NULL);
}

static void *main_epipe(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    close(p[0]);
    assert_int_equal(cora_write(p[1], "x", 1), -EPIPE); /* and the process lives */
    close(p[1]);
    return NULL;
}

static void write_broken_pipe(void **state)
{
    run_ok(main_epipe, NULL);
}

/* ---- back-pressure: more data than the pipe holds -------------------------------- */

enum { BIG = 1 << 20 };

static void *write_big(void *arg)
{
    int fd = *(int *)arg;
    unsigned char *buf = malloc(BIG);
    for (size_t i = 0; i < BIG; i++) buf[i] = (unsigned char)(i * 7);
    size_t done;
    assert_int_equal(cora_write_all(fd, buf, BIG, &done), BIG);
    assert_int_equal(done, BIG);
    free(buf);
    close(fd);
    return NULL;
}

static void *main_big(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    cora_task *w = cora_spawn(write_big, &p[1]);
    unsigned char buf[4096];
    size_t total = 0;
    ssize_t n;
    while ((n = cora_read(p[0], buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) assert_int_equal(buf[i], (unsigned char)((total + i) * 7));
        total += (size_t)n;
        if (total % (64 * 1024) < sizeof buf) cora_sleep(0.0005); /* a slow reader */
    }
    assert_int_equal(n, 0);
    assert_int_equal(total, BIG);
    assert_int_equal(cora_await(w, NULL), 0);
    close(p[0]);
    return NULL;
}

static void big_transfer_backpressure(void **state)
{
    run_ok(main_big, NULL);
}

/* ---- the cooperative budget ----------------------------------------------------- */

struct budget {
    int fd;
    volatile long ticks;
    long ticks_seen_by_reader;
};

static void *ticker(void *arg)
{
    struct budget *b = arg;
    while (cora_yield() == 0) b->ticks++;
    return NULL;
}

static void *greedy_reader(void *arg)
{
    struct budget *b = arg;
    char c;
    /* Every read completes at once (the data is there), so without a budget this
     * loop would never let the ticker run. */
    for (int i = 0; i < 2000; i++) assert_int_equal(cora_read(b->fd, &c, 1), 1);
    b->ticks_seen_by_reader = b->ticks;
    return NULL;
}

static void *main_budget(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    char data[2000];
    memset(data, 'z', sizeof data);
    assert_int_equal(write(p[1], data, sizeof data), (ssize_t)sizeof data);
    struct budget b = {.fd = p[0]};
    cora_task *tk = cora_spawn(ticker, &b);
    cora_task *rd = cora_spawn(greedy_reader, &b);
    assert_int_equal(cora_await(rd, NULL), 0);
    assert_true(b.ticks_seen_by_reader >= 2000 / CORA__BUDGET - 1);
    cora_cancel(tk);
    assert_int_equal(cora_await(tk, NULL), -ECANCELED);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void budget_forces_yield(void **state)
{
    run_ok(main_budget, NULL);
}

/* A regular file: epoll cannot watch it, io_uring reads it natively. */
static void *main_file(void *arg)
{
    char path[] = "/tmp/cora-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(cora_write(fd, "file data", 9), 9);
    lseek(fd, 0, SEEK_SET);
    char buf[16];
    assert_int_equal(cora_read(fd, buf, sizeof buf), 9);
    assert_memory_equal(buf, "file data", 9);
    assert_true(cora_wait_fd(fd, CORA_READABLE) & CORA_READABLE);
    close(fd);
    return NULL;
}

static void regular_file(void **state)
{
    run_ok(main_file, NULL);
}

static void *report_backend(void *arg)
{
    *(const char **)arg = cora_loop_backend(cora_loop_current());
    return NULL;
}

static void backend_override(void **state)
{
    const char *got = NULL;
    setenv("CORA_BACKEND", "epoll", 1);
    run_ok(report_backend, &got);
    assert_string_equal(got, "epoll");
    setenv("CORA_BACKEND", "uring", 1);
    run_ok(report_backend, &got);
    assert_string_equal(got, "uring");
    unsetenv("CORA_BACKEND");
    run_ok(report_backend, &got);
    assert_string_equal(got, "uring"); /* the default where the kernel allows it */
}

/* io_uring refused the way container runtimes refuse it (a seccomp filter answering
 * EPERM to io_uring_setup): the loop falls back to epoll and, in debug mode, says
 * why; a forced uring fails instead of falling back quietly. In a child process,
 * since a seccomp filter cannot be removed. */
static void deny_io_uring(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
        _exit(90);
}

static void child_fallback(void)
{
    deny_io_uring();
    const char *got = NULL;
    setenv("CORA_DEBUG", "1", 1);
    unsetenv("CORA_BACKEND");
    if (cora_run(report_backend, &got, NULL) != 0 || strcmp(got, "epoll") != 0) _exit(91);
    setenv("CORA_BACKEND", "uring", 1);
    if (cora_run(report_backend, &got, NULL) != -EPERM) _exit(92);
    _exit(0);
}

static void uring_refused_falls_back(void **state)
{
    char path[] = "/tmp/cora-stderr-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fd, 2);
        child_fallback();
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char out[1024] = {0};
    assert_true(pread(fd, out, sizeof out - 1, 0) > 0);
    close(fd);
    assert_non_null(strstr(out, "io_uring unusable"));
    assert_non_null(strstr(out, "seccomp"));
    assert_non_null(strstr(out, "using epoll"));
    assert_non_null(strstr(out, "CORA_BACKEND=uring but io_uring is unusable"));
}

/* ---- cora_poll: several fds at once --------------------------------------------- */

static void *write_to(void *arg)
{
    cora_sleep(0.002);
    assert_int_equal(write((int)(intptr_t)arg, "x", 1), 1);
    return NULL;
}

static void *poll_forever(void *arg)
{
    struct pollfd *p = arg;
    return (void *)(intptr_t)cora_poll(p, 1, -1);
}

static void *main_poll(void *arg)
{
    int a[2], b[2];
    assert_int_equal(cora_pipe(a), 0);
    assert_int_equal(cora_pipe(b), 0);
    struct pollfd p[3] = {{a[0], POLLIN, 0}, {-1, POLLIN, 0}, {b[0], POLLIN, 0}};
    assert_int_equal(cora_poll(p, 3, 0), 0);     /* nothing yet: a check */
    assert_int_equal(cora_poll(p, 3, 0.002), 0); /* a timeout is 0, not an error */
    cora_task *w = cora_spawn(write_to, (void *)(intptr_t)b[1]);
    assert_int_equal(cora_poll(p, 3, -1), 1);    /* b became readable */
    assert_int_equal(p[0].revents, 0);
    assert_int_equal(p[1].revents, 0);           /* a negative fd is ignored */
    assert_true(p[2].revents & POLLIN);
    assert_int_equal(cora_await(w, NULL), 0);
    /* Writable at once; several ready together. */
    struct pollfd q[2] = {{a[1], POLLOUT, 0}, {b[0], POLLIN, 0}};
    assert_int_equal(cora_poll(q, 2, -1), 2);
    /* Cancelled while polling: no poll is left behind (the harness checks). */
    cora_task *t = cora_spawn(poll_forever, p);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(cora_poll(p, CORA_POLL_MAX + 1, 0), -EINVAL);
    for (int i = 0; i < 2; i++) close(a[i]), close(b[i]);
    return NULL;
}

static void poll_several_fds(void **state)
{
    run_ok(main_poll, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(pipe_pingpong),
    CORA_TEST(cancel_read_in_flight),
    CORA_TEST(cancel_write_in_flight),
    CORA_TEST(cancel_wait_fd),
    CORA_TEST(cancel_after_completion_keeps_data),
    CORA_TEST(wait_fd_events),
    CORA_TEST(write_broken_pipe),
    CORA_TEST(big_transfer_backpressure),
    CORA_TEST(budget_forces_yield),
    CORA_TEST(regular_file),
    CORA_TEST(backend_override),
    CORA_TEST(uring_refused_falls_back),
    CORA_TEST(poll_several_fds),
};

CORA_TEST_MAIN("io", tests)

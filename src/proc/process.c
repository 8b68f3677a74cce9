/* src/proc/process.c: subprocesses (asyncio.create_subprocess_exec) and waiting for
 * signals.
 *
 * A child is started with posix_spawn (vfork speed, no fork of a big process) and
 * watched through a pidfd: the pidfd becomes readable when the child exits, so
 * waiting is an ordinary readiness wait on both backends, and signals go through
 * pidfd_send_signal, which can never hit a recycled pid. The child stays a zombie
 * until cora reaps it with waitid(P_PIDFD); a process object that is freed while its
 * child still runs kills and reaps it, so no zombie is ever left behind, even when
 * the task waiting for it was cancelled.
 */
#include "../core/internal.h"
#include "cora/fs.h"
#include "cora/io.h"
#include "cora/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct cora_process {
    pid_t pid;
    int pidfd;
    int fds[3]; /* our ends of the child's stdin, stdout, stderr, or -1 */
    bool reaped;
    int returncode;
};

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static int pidfd_send_signal_(int pidfd, int sig)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* Finds the program as posix_spawnp will (PATH search unless it has a slash), so a
 * missing program is -ENOENT here and now. glibc's posix_spawn reports a failed exec
 * itself, but not everywhere (a fork-based spawn, valgrind) and not before the child
 * exists. */
static int check_program(const char *prog)
{
    if (strchr(prog, '/')) return access(prog, X_OK) == 0 ? 0 : -errno;
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    int best = -ENOENT;
    char buf[4096];
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n + 1 + strlen(prog) + 1 <= sizeof buf) {
            snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? p : ".", prog);
            if (access(buf, X_OK) == 0) return 0;
            if (errno == EACCES) best = -EACCES;
        }
        if (!end) return best;
        p = end;
    }
}

int cora_process_spawn(cora_process **out, const char *const argv[], const cora_process_opts *opts)
{
    if (!out || !argv || !argv[0]) return -EINVAL;
    *out = NULL;
    int checked = check_program(argv[0]);
    if (checked < 0) return checked;
    cora_process_opts o = opts ? *opts : (cora_process_opts){0};
    int modes[3] = {o.stdin_mode, o.stdout_mode, o.stderr_mode};
    for (int i = 0; i < 3; i++)
        if (modes[i] < CORA_INHERIT || modes[i] > CORA_STDOUT || (modes[i] == CORA_STDOUT && i != 2))
            return -EINVAL;
    cora_process *p = cora__calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->pidfd = -1;
    int child[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) p->fds[i] = -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int r = 0;
    for (int i = 0; i < 3 && r == 0; i++) {
        if (modes[i] == CORA_PIPE) {
            int pp[2];
            if (pipe2(pp, O_CLOEXEC) < 0) {
                r = -errno;
                break;
            }
            /* stdin: the child reads pp[0]; stdout/stderr: the child writes pp[1]. */
            child[i] = i == 0 ? pp[0] : pp[1];
            p->fds[i] = i == 0 ? pp[1] : pp[0];
            fcntl(p->fds[i], F_SETFL, O_NONBLOCK);
            r = -posix_spawn_file_actions_adddup2(&fa, child[i], i);
        } else if (modes[i] == CORA_DEVNULL) {
            r = -posix_spawn_file_actions_addopen(&fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0);
        } else if (modes[i] == CORA_STDOUT) {
            r = -posix_spawn_file_actions_adddup2(&fa, 1, 2);
        }
    }
    if (r == 0 && o.cwd) r = -posix_spawn_file_actions_addchdir_np(&fa, o.cwd);
    pid_t pid = -1;
    if (r == 0)
        r = -posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv,
                          o.env ? (char *const *)o.env : environ);
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 3; i++) close_fd(&child[i]);
    if (r == 0) {
        p->pid = pid;
        p->pidfd = pidfd_open_(pid);
        /* Without pidfds (Linux before 5.3, or valgrind 3.19, which does not know the
         * call) the child is polled with waitpid instead: slower to notice an exit,
         * equally correct, since an unreaped pid cannot be recycled. */
        if (p->pidfd < 0 && errno != ENOSYS) {
            r = -errno;
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    if (r < 0) {
        for (int i = 0; i < 3; i++) close_fd(&p->fds[i]);
        free(p);
        return r;
    }
    *out = p;
    return 0;
}

int cora_process_pid(const cora_process *p)
{
    return p ? p->pid : -EINVAL;
}

int cora_process_fd(const cora_process *p, int which)
{
    if (!p || which < 0 || which > 2) return -EINVAL;
    return p->fds[which];
}

void cora_process_close_fd(cora_process *p, int which)
{
    if (p && which >= 0 && which <= 2) close_fd(&p->fds[which]);
}

static bool try_reap(cora_process *p)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int r = p->pidfd >= 0 ? waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED | WNOHANG)
                          : waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG);
    if (r < 0 || si.si_pid == 0) return false;
    p->reaped = true;
    p->returncode = si.si_code == CLD_EXITED ? si.si_status : -si.si_status;
    return true;
}

int cora_process_wait(cora_process *p, int *returncode)
{
    if (!p) return -EINVAL;
    double backoff = 0.001;
    while (!p->reaped && !try_reap(p)) {
        int r;
        if (p->pidfd >= 0) {
            r = cora_wait_fd(p->pidfd, CORA_READABLE);
        } else { /* no pidfd: poll, 1 ms doubling to 50 ms */
            r = cora_sleep(backoff);
            backoff = backoff * 2 > 0.05 ? 0.05 : backoff * 2;
        }
        if (r < 0) return r; /* the child is still ours: free reaps it */
    }
    if (returncode) *returncode = p->returncode;
    return 0;
}

int cora_process_kill(cora_process *p, int sig)
{
    if (!p) return -EINVAL;
    if (p->reaped) return -ESRCH;
    int r = p->pidfd >= 0 ? pidfd_send_signal_(p->pidfd, sig) : kill(p->pid, sig);
    return r < 0 ? -errno : 0;
}

void cora_process_free(cora_process *p)
{
    if (!p) return;
    if (!p->reaped) {
        /* Still running (or an unreaped zombie): kill and reap now, never leave a
         * zombie. The wait is short: SIGKILL cannot be caught. */
        cora_process_kill(p, SIGKILL);
        siginfo_t si;
        if (p->pidfd >= 0)
            waitid(P_PIDFD, (id_t)p->pidfd, &si, WEXITED);
        else
            waitid(P_PID, (id_t)p->pid, &si, WEXITED);
    }
    for (int i = 0; i < 3; i++) close_fd(&p->fds[i]);
    close_fd(&p->pidfd);
    free(p);
}

/* ---- communicate ---------------------------------------------------------------- */

struct collector {
    int fd;
    char *buf;
    size_t len, cap, max;
    int err;
};

static void *collect(void *arg)
{
    struct collector *c = arg;
    for (;;) {
        if (c->len + 4096 + 1 > c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8192;
            if (cap > c->max + 1) cap = c->max + 1;
            if (cap <= c->len + 1) {
                c->err = -EFBIG; /* the child says more than max: stop listening */
                return NULL;
            }
            char *b = cora__realloc(c->buf, cap);
            if (!b) {
                c->err = -ENOMEM;
                return NULL;
            }
            c->buf = b;
            c->cap = cap;
        }
        ssize_t n = cora_read(c->fd, c->buf + c->len, c->cap - 1 - c->len);
        if (n <= 0) {
            if (n < 0) c->err = (int)n;
            break;
        }
        c->len += (size_t)n;
    }
    return NULL;
}

struct feeder {
    cora_process *p;
    const char *data;
    size_t len;
    int err;
};

static void *feed(void *arg)
{
    struct feeder *f = arg;
    ssize_t r = cora_write_all(f->p->fds[0], f->data, f->len, NULL);
    if (r < 0 && r != -EPIPE) f->err = (int)r; /* a child that stops reading is fine */
    cora_process_close_fd(f->p, 0);             /* the child sees the end of its input */
    return NULL;
}

int cora_process_communicate(cora_process *p, const void *input, size_t inlen,
                             cora_output *out, cora_output *err, size_t max, int *returncode)
{
    if (!p) return -EINVAL;
    if (max == 0) max = (size_t)64 << 20;
    struct collector co[2] = {{.fd = p->fds[1], .max = max}, {.fd = p->fds[2], .max = max}};
    struct feeder fe = {.p = p, .data = input, .len = input ? inlen : 0};
    cora_group g;
    int r = cora_group_init(&g);
    if (r < 0) return r;
    if (p->fds[0] >= 0) {
        if (fe.len)
            r = cora_group_spawn(&g, feed, &fe, NULL);
        else
            cora_process_close_fd(p, 0); /* nothing to say: end of input at once */
    }
    for (int i = 0; i < 2 && r == 0; i++)
        if (co[i].fd >= 0) r = cora_group_spawn(&g, collect, &co[i], NULL);
    if (r < 0) cora_group_cancel(&g);
    int gr = cora_group_wait(&g);
    cora_group_destroy(&g);
    cora_process_close_fd(p, 0);
    if (!r) r = gr;
    if (!r) r = co[0].err ? co[0].err : co[1].err ? co[1].err : fe.err;
    if (!r) r = cora_process_wait(p, NULL);
    if (r < 0) {
        /* Cancelled, timed out or failed: the child goes, and is reaped, so nothing
         * outlives this call but what the caller was handed. */
        cora_process_kill(p, SIGKILL);
        cora_scope shield;
        cora_shield_enter(&shield);
        cora_process_wait(p, NULL);
        cora_scope_exit(&shield);
        free(co[0].buf);
        free(co[1].buf);
        return r;
    }
    struct collector *src[2] = {&co[0], &co[1]};
    cora_output *dst[2] = {out, err};
    for (int i = 0; i < 2; i++) {
        if (src[i]->buf) src[i]->buf[src[i]->len] = 0;
        if (dst[i]) {
            dst[i]->data = src[i]->buf;
            dst[i]->len = src[i]->len;
        } else {
            free(src[i]->buf);
        }
    }
    if (returncode) *returncode = p->returncode;
    return 0;
}

/* ---- signals -------------------------------------------------------------------- */

int cora_signal_wait(const int *signals, int n)
{
    if (!signals || n <= 0) return -EINVAL;
    if (!cora__current()) return -EPERM;
    sigset_t set, old;
    sigemptyset(&set);
    for (int i = 0; i < n; i++)
        if (sigaddset(&set, signals[i]) < 0) return -EINVAL;
    /* While the task waits, this thread blocks the signals so they queue for the
     * signalfd instead of running their handlers (or killing the process). */
    if (pthread_sigmask(SIG_BLOCK, &set, &old) != 0) return -EINVAL;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    int r;
    if (fd < 0) {
        r = -errno;
    } else {
        struct signalfd_siginfo si;
        ssize_t got = cora_read(fd, &si, sizeof si);
        r = got == (ssize_t)sizeof si ? (int)si.ssi_signo : got < 0 ? (int)got : -EIO;
        close(fd);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r;
}

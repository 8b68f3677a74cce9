/* src/core/debug.c: debug mode's blocking detector (cora/debug.h, docs/debug.md).
 *
 * A loop in debug mode notes, at every switch into a task, which task and when; at the
 * switch back, that nothing is running. One watchdog thread per process looks at every
 * debug loop each quarter threshold. When a task has run past the threshold it claims
 * the episode (each is reported once), asks the loop's thread for a backtrace with
 * SIGURG, whose handler only calls backtrace() into a buffer made beforehand, and
 * then formats and writes the report itself: nothing but backtrace() runs in the
 * handler. When the task finally gives the loop back, the loop's thread waits for
 * that report to be written (so the two lines come in order) and prints how long the
 * task held the loop.
 *
 * Lock order: the watchdog's list lock, then a loop's lock. The loop's thread takes
 * only its own loop's lock on a switch, and the list lock only when it starts or
 * closes, never both at once.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "cora/debug.h"
#include "internal.h"
#include "../io/backend.h"

#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define BT_MAX 48
#define DEBUG_SIGNAL SIGURG /* ignored by default, so a stray one does no harm */

struct cora__dbg {
    struct cora__dbg *next; /* the watchdog's list, under wd.lock */
    cora_loop *loop;
    pthread_t thread;
    int64_t threshold_ns;

    pthread_mutex_t lock;
    pthread_cond_t reported; /* signalled when a claimed report has been written */
    /* Under lock. */
    int64_t start_ns; /* when the running task was switched in; 0: none runs */
    uint64_t episode; /* switches in so far: names one stretch of running */
    uint64_t claimed; /* the episode the watchdog reports (or reported) */
    uint64_t written; /* the last episode whose report is written */
    uint64_t task_id;
    void *spawn_site;
    char name[CORA_TASK_NAME_MAX];

    /* Between the signal handler (on the loop's thread) and the watchdog. */
    atomic_uint_fast64_t running; /* the episode running now, 0 between tasks */
    atomic_int bt_state;          /* 0 idle, 1 asked for, 2 taken */
    uint64_t bt_episode;          /* `running` when the backtrace was taken */
    void *bt_pc;                  /* the interrupted instruction, NULL if unknown */
    int bt_n;
    void *bt[BT_MAX];
};

/* ---- Process-wide settings and the watchdog's list ---------------------------- */

static atomic_int set_mode = -1;      /* cora_debug_set: 1 on, 0 off, -1 as CORA_DEBUG says */
static _Atomic int64_t set_threshold; /* cora_debug_set's threshold, 0: none given */

static atomic_int dump_requested; /* set by the SIGUSR1 handler, read by the watchdog */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    cora__dbg *loops;
    bool started;
    bool handler_installed;
    bool usr1_installed;
    bool atfork_registered;
} wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, false, false, false, false};

static bool env_debug(void)
{
    const char *e = getenv("CORA_DEBUG");
    return e && e[0] && strcmp(e, "0") != 0;
}

bool cora__debug_default(void)
{
    int m = atomic_load(&set_mode);
    return m >= 0 ? m == 1 : env_debug();
}

static int64_t threshold_ns(void)
{
    int64_t t = atomic_load(&set_threshold);
    if (t > 0) return t;
    const char *e = getenv("CORA_DEBUG_BLOCKING_MS");
    if (e && *e) {
        char *end;
        long ms = strtol(e, &end, 10);
        if (*end == 0 && ms > 0) return (int64_t)ms * 1000000;
    }
    return CORA_DEBUG_BLOCKING_DEFAULT_NS;
}

/* ---- The signal handler: a backtrace, nothing else ----------------------------- */

/* Where the signal interrupted the thread: the report's backtrace starts there, below
 * the handler and the kernel's trampoline (glibc's __restore_rt has no dynamic
 * symbol, and a sanitizer may add a frame of its own). */
static void *interrupted_pc(void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (void *)u->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (void *)u->uc_mcontext.pc;
#else
    (void)u;
    return NULL;
#endif
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si;
    int saved = errno;
    cora_loop *loop = cora__tls_loop;
    cora__dbg *d = loop ? loop->dbg : NULL;
    int want = 1;
    if (d && atomic_compare_exchange_strong(&d->bt_state, &want, 3)) {
        d->bt_episode = atomic_load(&d->running);
        d->bt_pc = uc ? interrupted_pc(uc) : NULL;
        d->bt_n = backtrace(d->bt, BT_MAX);
        atomic_store(&d->bt_state, 2);
    }
    errno = saved;
}

static void on_dump_signal(int sig)
{
    (void)sig;
    atomic_store(&dump_requested, 1); /* the watchdog passes it on within a period */
}

/* ---- Naming the blocking call ------------------------------------------------- */

/* Libraries whose frames sit between the user's code and the kernel: the C library
 * and the sanitizers' and valgrind's interceptors. */
static bool system_object(const char *path)
{
    static const char *const libs[] = {"/libc.so",   "/libc-",    "libasan", "libtsan",
                                       "libubsan",   "libresolv", "libnss_", "ld-linux",
                                       "libpthread", "vgpreload", "liblsan"};
    if (!path) return false;
    for (size_t i = 0; i < sizeof libs / sizeof libs[0]; i++)
        if (strstr(path, libs[i])) return true;
    return false;
}

/* "__GI___libc_read" -> "read", "__interceptor_sleep" -> "sleep",
 * "__clock_nanosleep" -> "clock_nanosleep". */
static void plain_name(const char *s, char *out, size_t cap)
{
    static const char *const prefixes[] = {"GI_", "libc_", "interceptor_", "___interceptor_"};
    for (bool again = true; again;) {
        again = false;
        while (*s == '_')
            s++, again = true;
        for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
            size_t n = strlen(prefixes[i]);
            if (strncmp(s, prefixes[i], n) == 0) s += n, again = true;
        }
    }
    snprintf(out, cap, "%s", s);
    size_t n = strlen(out);
    if (n > 9 && strcmp(out + n - 9, "_nocancel") == 0) out[n - 9] = 0;
}

static const struct {
    const char *call;
    const char *advice;
} blocking_calls[] = {
    {"sleep", "cora_sleep()"},
    {"usleep", "cora_sleep()"},
    {"nanosleep", "cora_sleep() or cora_sleep_ns()"},
    {"clock_nanosleep", "cora_sleep_ns() or cora_sleep_until_ns()"},
    {"read", "cora_read() (cora_stream_read() on a stream)"},
    {"readv", "cora_read() (cora_stream_read() on a stream)"},
    {"write", "cora_write() (cora_stream_write() on a stream)"},
    {"writev", "cora_write() (cora_stream_write() on a stream)"},
    {"recv", "cora_recv() (cora_stream_read() on a stream)"},
    {"recvfrom", "cora_recv() (cora_stream_read() on a stream)"},
    {"recvmsg", "cora_recv() (cora_stream_read() on a stream)"},
    {"send", "cora_send_all() (cora_stream_write() on a stream)"},
    {"sendto", "cora_send_all() (cora_stream_write() on a stream)"},
    {"sendmsg", "cora_send_all() (cora_stream_write() on a stream)"},
    {"accept", "cora_accept()"},
    {"accept4", "cora_accept()"},
    {"connect", "cora_tcp_connect()"},
    {"poll", "cora_wait_fd() or cora_poll()"},
    {"ppoll", "cora_wait_fd() or cora_poll()"},
    {"select", "cora_wait_fd() or cora_poll()"},
    {"getaddrinfo", "cora_getaddrinfo() or cora_resolve()"},
    {"gethostbyname", "cora_getaddrinfo() or cora_resolve()"},
};

/* The blocking call the user's code made: walking out from the innermost frame
 * through the C library (and interceptors), the outermost frame whose name is in the
 * table. Returns its index, or -1. */
static int find_blocking_call(void *const *bt, int n, int first)
{
    int found = -1;
    for (int i = first; i < n; i++) {
        Dl_info info;
        if (!dladdr(bt[i], &info) || !system_object(info.dli_fname)) break;
        if (!info.dli_sname) continue;
        char name[64];
        plain_name(info.dli_sname, name, sizeof name);
        for (size_t k = 0; k < sizeof blocking_calls / sizeof blocking_calls[0]; k++)
            if (strcmp(name, blocking_calls[k].call) == 0) found = (int)k;
    }
    return found;
}

/* ---- Writing the report ------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    if (t->len >= t->cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len = t->len + (size_t)n < t->cap ? t->len + (size_t)n : t->cap - 1;
}


/* Called by the watchdog with wd.lock held and d->lock not held; `held` is how long
 * the task had run when it was noticed. */
static void report(cora__dbg *d, uint64_t episode, int64_t held, uint64_t id, const char *name,
                   void *site)
{
    /* Ask for the backtrace and wait for it, a bounded time: a thread that blocks
     * signals, or a sanitizer that defers them, must not stall the watchdog. */
    bool have_bt = false;
    if (wd.handler_installed) {
        atomic_store(&d->bt_state, 1);
        if (pthread_kill(d->thread, DEBUG_SIGNAL) == 0) {
            for (int i = 0; i < 500 && atomic_load(&d->bt_state) != 2; i++)
                nanosleep(&(struct timespec){0, 1000000}, NULL);
        }
        int want = 1;
        if (!atomic_compare_exchange_strong(&d->bt_state, &want, 0)) {
            /* Taken (2), or being taken right now (3): wait for the end. */
            while (atomic_load(&d->bt_state) != 2)
                nanosleep(&(struct timespec){0, 100000}, NULL);
            have_bt = d->bt_episode == episode;
            atomic_store(&d->bt_state, 0);
        }
    }

    static char buf[8192]; /* only the watchdog thread writes reports */
    text t = {buf, 0, sizeof buf};
    char where[512];
    put(&t,
        "cora: debug: task '%s' (id %llu) has been running for %lld ms without reaching a "
        "suspension point (threshold %lld ms): every other task of its loop is stalled.\n",
        name, (unsigned long long)id, (long long)(held / 1000000),
        (long long)(d->threshold_ns / 1000000));
    cora__symbolize(where, sizeof where, site);
    put(&t, "  spawned at: %s\n", site ? where : "(unknown)");
    if (have_bt) {
        int first = 0;
        while (first < d->bt_n && d->bt[first] != d->bt_pc)
            first++;
        if (first == d->bt_n) first = d->bt_n > 2 ? 2 : d->bt_n; /* handler, trampoline */
        int k = find_blocking_call(d->bt, d->bt_n, first);
        if (k >= 0)
            put(&t,
                "  it is blocked in %s(), a blocking call that stops the whole loop: use %s "
                "instead, which suspends only this task.\n",
                blocking_calls[k].call, blocking_calls[k].advice);
        put(&t, "  backtrace of the blocked code:\n");
        for (int i = first; i < d->bt_n; i++) {
            cora__symbolize(where, sizeof where, d->bt[i]);
            put(&t, "    #%-2d %s\n", i - first, where);
        }
    } else {
        put(&t, "  (no backtrace: the task yielded, or the signal could not be delivered)\n");
    }
    cora__write_stderr(t.buf, t.len);
}

/* ---- The watchdog thread ------------------------------------------------------ */

static void check_loop(cora__dbg *d, int64_t now)
{
    pthread_mutex_lock(&d->lock);
    bool due = d->start_ns && now - d->start_ns >= d->threshold_ns && d->claimed != d->episode;
    uint64_t episode = d->episode, id = d->task_id;
    int64_t held = now - d->start_ns;
    void *site = d->spawn_site;
    char name[CORA_TASK_NAME_MAX];
    memcpy(name, d->name, sizeof name);
    if (due) d->claimed = episode;
    pthread_mutex_unlock(&d->lock);
    if (!due) return;
    report(d, episode, held, id, name, site);
    pthread_mutex_lock(&d->lock);
    d->written = episode;
    pthread_cond_broadcast(&d->reported);
    pthread_mutex_unlock(&d->lock);
}

static void *watchdog(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&wd.lock);
    for (;;) {
        if (!wd.loops) {
            pthread_cond_wait(&wd.changed, &wd.lock);
            continue;
        }
        int64_t period = INT64_MAX;
        int64_t now = cora_now_ns();
        /* A dump asked for with SIGUSR1: each loop makes its own, on its thread, at
         * its next round (its tasks are its thread's alone). The loop stays on this
         * list until after its backend is closed, so the wake-up is safe. */
        bool dump = atomic_exchange(&dump_requested, 0) != 0;
        for (cora__dbg *d = wd.loops; d; d = d->next) {
            if (dump) {
                atomic_fetch_or(&d->loop->interrupted, CORA__INTR_DUMP);
                d->loop->backend->wake(d->loop);
            }
            check_loop(d, now);
            if (d->threshold_ns / 4 < period) period = d->threshold_ns / 4;
        }
        if (period < 1000000) period = 1000000;
        /* A timed wait on the monotonic clock would need a condattr; the realtime
         * clock is fine for a poll period. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t ns = ts.tv_nsec + period;
        ts.tv_sec += ns / 1000000000;
        ts.tv_nsec = ns % 1000000000;
        pthread_cond_timedwait(&wd.changed, &wd.lock, &ts);
    }
    return NULL;
}

/* A child forked while the watchdog ran has no watchdog and none of the parent's
 * loops: it starts afresh if it runs a debug loop. */
static void after_fork_child(void)
{
    pthread_mutex_init(&wd.lock, NULL);
    pthread_cond_init(&wd.changed, NULL);
    wd.loops = NULL;
    wd.started = false;
}

/* Called with wd.lock held. */
static int start_watchdog(void)
{
    if (!wd.atfork_registered) {
        pthread_atfork(NULL, NULL, after_fork_child);
        wd.atfork_registered = true;
    }
    if (!wd.handler_installed) {
        /* backtrace() loads libgcc's unwinder the first time, which is not safe in a
         * signal handler: do it here. */
        void *warm[2];
        backtrace(warm, 2);
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_signal;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        /* A program that handles SIGURG itself keeps its handler; reports then come
         * without a backtrace. */
        if (sigaction(DEBUG_SIGNAL, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            (old.sa_handler == SIG_DFL || old.sa_handler == SIG_IGN))
            wd.handler_installed = sigaction(DEBUG_SIGNAL, &sa, NULL) == 0;
    }
    if (!wd.usr1_installed) {
        /* SIGUSR1 asks for a task dump, as SIGQUIT does in Go; only when the program
         * left it at its default action (which would kill it). */
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_dump_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGUSR1, NULL, &old) == 0 && !(old.sa_flags & SA_SIGINFO) &&
            old.sa_handler == SIG_DFL)
            wd.usr1_installed = sigaction(SIGUSR1, &sa, NULL) == 0;
    }
    if (wd.started) return 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The watchdog must not take the program's signals (Ctrl-C, SIGCHLD...). */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_t th;
    int r = pthread_create(&th, &attr, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (r != 0) return -EAGAIN;
    wd.started = true;
    return 0;
}

/* ---- The loop's side ---------------------------------------------------------- */

int cora__debug_loop_start(cora_loop *loop)
{
    if (loop->dbg) return 0;
    cora__dbg *d = cora__calloc(1, sizeof *d);
    if (!d) return -ENOMEM;
    d->loop = loop;
    d->thread = pthread_self();
    d->threshold_ns = threshold_ns();
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->reported, NULL);
    atomic_init(&d->running, 0);
    atomic_init(&d->bt_state, 0);
    pthread_mutex_lock(&wd.lock);
    int r = start_watchdog();
    if (r == 0) {
        d->next = wd.loops;
        wd.loops = d;
        pthread_cond_signal(&wd.changed);
    }
    pthread_mutex_unlock(&wd.lock);
    if (r < 0) {
        pthread_cond_destroy(&d->reported);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return r;
    }
    loop->dbg = d;
    return 0;
}

void cora__debug_loop_stop(cora_loop *loop)
{
    cora__dbg *d = loop->dbg;
    if (!d) return;
    pthread_mutex_lock(&wd.lock); /* the watchdog is not looking at d once we hold it */
    for (cora__dbg **p = &wd.loops; *p; p = &(*p)->next) {
        if (*p == d) {
            *p = d->next;
            break;
        }
    }
    pthread_mutex_unlock(&wd.lock);
    loop->dbg = NULL;
    pthread_cond_destroy(&d->reported);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void cora__debug_switch_in(cora_loop *loop, cora_task *t)
{
    cora__dbg *d = loop->dbg;
    if (!d) return;
    pthread_mutex_lock(&d->lock);
    d->start_ns = cora_now_ns();
    d->episode++;
    d->task_id = t->id;
    d->spawn_site = t->spawn_site;
    snprintf(d->name, sizeof d->name, "%s", cora_task_name(t));
    atomic_store(&d->running, d->episode);
    pthread_mutex_unlock(&d->lock);
}

void cora__debug_switch_out(cora_loop *loop, cora_task *t)
{
    cora__dbg *d = loop->dbg;
    if (!d) return;
    int64_t now = cora_now_ns();
    atomic_store(&d->running, 0);
    pthread_mutex_lock(&d->lock);
    int64_t held = d->start_ns ? now - d->start_ns : 0;
    d->start_ns = 0;
    bool reported = held > 0 && d->claimed == d->episode;
    /* The report of this episode comes first: wait until the watchdog wrote it. */
    while (reported && d->written != d->episode)
        pthread_cond_wait(&d->reported, &d->lock);
    pthread_mutex_unlock(&d->lock);
    loop->stat_run_ns += held;
    t->run_ns += held;
    if (held > loop->stat_longest_ns) {
        loop->stat_longest_ns = held;
        snprintf(loop->stat_longest_name, sizeof loop->stat_longest_name, "%s", cora_task_name(t));
    }
    if (reported) {
        char line[160 + CORA_TASK_NAME_MAX];
        int n = snprintf(line, sizeof line,
                         "cora: debug: task '%s' (id %llu) held the loop for %lld ms before "
                         "it %s\n",
                         cora_task_name(t), (unsigned long long)t->id, (long long)(held / 1000000),
                         t->state == CORA__DONE ? "ended" : "suspended");
        if (n > 0) cora__write_stderr(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    }
    if (t->state == CORA__DONE) cora__stack_note_end(loop, t); /* high-water mark, stackuse.c */
}

/* ---- The public API ----------------------------------------------------------- */

int cora_debug_set(const cora_debug_opts *opts)
{
    if (!opts || opts->blocking_ns < 0) return -EINVAL;
    atomic_store(&set_threshold, opts->blocking_ns);
    atomic_store(&set_mode, opts->on ? 1 : 0);
    cora_loop *loop = cora__tls_loop;
    if (!loop) return 0;
    if (!opts->on) {
        /* Reports stop; the loop stays on the watchdog's list until it closes. */
        if (loop->dbg) {
            pthread_mutex_lock(&loop->dbg->lock);
            loop->dbg->start_ns = 0;
            pthread_mutex_unlock(&loop->dbg->lock);
        }
        loop->debug = false;
        return 0;
    }
    int r = cora__debug_loop_start(loop);
    if (r < 0) return r;
    if (!loop->debug) /* the tasks' accounting starts now (it is kept only in debug mode) */
        for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next) {
            cora_task *t = CORA__CONTAINER_OF(l, cora_task, all_link);
            t->switches = 0;
            t->run_ns = 0;
        }
    pthread_mutex_lock(&wd.lock); /* the watchdog reads it under this lock */
    loop->dbg->threshold_ns = threshold_ns();
    pthread_mutex_unlock(&wd.lock);
    if (!loop->debug) cora__stack_pool_scrub(&loop->stacks); /* stackuse.c */
    loop->debug = true;
    return 0;
}

int cora_stats_get(cora_stats *out)
{
    cora_loop *loop = cora__tls_loop;
    if (!out) return -EINVAL;
    if (!loop) return -EPERM;
    memset(out, 0, sizeof *out);
    out->switches = loop->stat_switches;
    out->spawns = loop->stat_spawns;
    out->live_tasks = loop->live;
    out->timers_armed = loop->timers.len;
    out->io_submitted = loop->stat_ops;
    out->io_in_flight = loop->inflight;
    out->poll_ns = loop->stat_poll_ns;
    out->run_ns = loop->stat_run_ns;
    out->longest_hold_ns = loop->stat_longest_ns;
    snprintf(out->longest_hold_task, sizeof out->longest_hold_task, "%s", loop->stat_longest_name);
    const uint64_t *k = loop->stat_ops_kind;
    out->ops_read = k[CORA__OP_READ] + k[CORA__OP_RECV] + k[CORA__OP_RECVMSG];
    out->ops_write = k[CORA__OP_WRITE] + k[CORA__OP_SEND] + k[CORA__OP_SENDMSG];
    out->ops_poll = k[CORA__OP_POLL];
    out->ops_accept = k[CORA__OP_ACCEPT];
    out->ops_connect = k[CORA__OP_CONNECT];
    out->ops_file = k[CORA__OP_OPENAT] + k[CORA__OP_CLOSE] + k[CORA__OP_FSYNC] + k[CORA__OP_STATX] +
                    k[CORA__OP_RENAMEAT] + k[CORA__OP_UNLINKAT];
    out->jobs = loop->stat_jobs;
    return 0;
}

int cora_debug_enabled(void)
{
    cora_loop *loop = cora__tls_loop;
    return loop ? loop->debug : cora__debug_default();
}

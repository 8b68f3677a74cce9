/* tests/test_debug.c: debug mode (cora/debug.h, docs/debug.md): the blocking
 * detector and its naming of blocking calls, the loop's stats, the reports of nested
 * loops and of forgotten task handles, and cora_run_in_thread (the bridge the nested
 * loop report points to). Each scenario runs in a forked
 * child whose stderr goes to a pipe, and the test checks the text and its order: debug mode writes
 * with write(2) and so does the scenario's marker, so the order in the pipe is the order in time.
 * Runs once per backend (see harness.h). */
#include "capture.h"

#include "../src/io/backend.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

/* Not static, and the binary is linked with -rdynamic (tests/CMakeLists.txt), so
 * that dladdr can name these functions in the reports. */
void *debug_test_spin(void *arg);
void *debug_test_sleep(void *arg);
void *debug_test_read(void *arg);
void *debug_test_forgetful(void *arg);

static void mark(const char *s)
{
    ssize_t w = write(2, s, strlen(s));
    (void)w;
}

void *debug_test_spin(void *arg)
{
    int64_t ms = (intptr_t)arg;
    int64_t end = cora_now_ns() + ms * 1000000;
    while (cora_now_ns() < end) {
    }
    mark("MARK spin over\n");
    return NULL;
}

void *debug_test_sleep(void *arg)
{
    (void)arg;
    sleep(1); /* the mistake: blocks the whole loop (the signal may cut it short) */
    mark("MARK sleep over\n");
    return NULL;
}

static void *write_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    nanosleep(&(struct timespec){0, 300000000}, NULL);
    ssize_t w = write(fd, "x", 1);
    (void)w;
    return NULL;
}

void *debug_test_read(void *arg)
{
    (void)arg;
    int p[2];
    if (pipe(p) != 0) return cora_fail(-errno);
    pthread_t th;
    pthread_create(&th, NULL, write_later, (void *)(intptr_t)p[1]);
    char c;
    ssize_t n = read(p[0], &c, 1); /* the mistake: a blocking read in a task */
    pthread_join(th, NULL);
    close(p[0]);
    close(p[1]);
    mark(n == 1 ? "MARK read over\n" : "MARK read failed\n");
    return NULL;
}

typedef struct {
    cora_fn fn;
    intptr_t arg;
    const char *name;
} scenario;

void *scenario_main(void *arg);
void *scenario_main(void *arg)
{
    scenario *s = arg;
    cora_task *t = NULL;
    int r = cora_spawn_ex(&t, s->fn, (void *)s->arg, &(cora_spawn_opts){.name = s->name});
    if (r < 0) return cora_fail(r);
    r = cora_await(t, NULL);
    return r < 0 ? cora_fail(r) : NULL;
}

enum { VIA_ENV, VIA_API, OFF };

typedef struct {
    scenario *s;
    int how, ms;
} child_setup;

static int scenario_child(void *arg)
{
    child_setup *c = arg;
    unsetenv("CORA_DEBUG");
    unsetenv("CORA_DEBUG_BLOCKING_MS");
    if (c->how == VIA_ENV) {
        setenv("CORA_DEBUG", "1", 1);
        char v[16];
        snprintf(v, sizeof v, "%d", c->ms);
        setenv("CORA_DEBUG_BLOCKING_MS", v, 1);
    } else if (c->how == VIA_API) {
        cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = (int64_t)c->ms * 1000000});
    }
    return cora_run(scenario_main, c->s, NULL) == 0 ? 0 : 3;
}

/* Runs the scenario in a child with debug mode switched on as `how` says and a
 * threshold of ms milliseconds; returns what the child wrote to stderr (NUL-terminated,
 * in out). */
static void run_child_ms(scenario *s, int how, int ms, char *out, size_t cap)
{
    child_setup c = {s, how, ms};
    int status = capture_child(scenario_child, &c, out, cap);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fprintf(stderr, "child:\n%s\n", out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The usual threshold: 50 ms. */
static void run_child(scenario *s, int how, char *out, size_t cap)
{
    run_child_ms(s, how, 50, out, cap);
}

static char out[65536];

/* A task that spins for 300 ms is reported while it spins: name, spawn site,
 * backtrace with the spinning function; then, after it ends, how long it held the
 * loop. Debug mode from the environment. */
static void spin_reported_while_blocking(void **state)
{
    (void)state;
    scenario s = {debug_test_spin, 300, "spinner"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "cora: debug: task 'spinner'", "without reaching a suspension point",
                             "spawned at: scenario_main", "backtrace", "debug_test_spin",
                             "MARK spin over", "task 'spinner'", "held the loop for", NULL});
    /* Once per episode, and the spin is no blocking call. */
    assert_null(strstr(strstr(out, "has been running") + 1, "has been running"));
    assert_null(strstr(out, "it is blocked in"));
}

/* sleep() in a task is named, with the advice to use cora_sleep. Debug mode from the
 * API. */
static void sleep_named(void **state)
{
    (void)state;
    scenario s = {debug_test_sleep, 0, "sleeper"};
    run_child(&s, VIA_API, out, sizeof out);
    assert_in_order(out, (const char *const[]){"task 'sleeper'", "it is blocked in sleep()",
                                               "use cora_sleep()", "debug_test_sleep",
                                               "held the loop for", NULL});
    /* The report's signal may cut the sleep short (EINTR): the marker's place is not
     * asserted. */
    assert_non_null(strstr(out, "MARK sleep over"));
}

/* A blocking read() on a pipe is named, with cora_read as the fix. */
static void read_named(void **state)
{
    (void)state;
    scenario s = {debug_test_read, 0, "reader"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(out, (const char *const[]){"task 'reader'", "it is blocked in read()",
                                               "use cora_read()", "debug_test_read",
                                               "held the loop for", NULL});
    /* Not asserted: that the report comes before the read ends. ThreadSanitizer runs
     * signal handlers only when the intercepted read() returns. */
    assert_non_null(strstr(out, "MARK read over"));
}

/* Debug mode off: the same spin prints nothing but the scenario's own marker. */
static void off_prints_nothing(void **state)
{
    (void)state;
    scenario s = {debug_test_spin, 300, "spinner"};
    run_child(&s, OFF, out, sizeof out);
    assert_string_equal(out, "MARK spin over\n");
}

/* Short runs are not reported: a task that yields often never crosses the threshold,
 * though its runs add up to twice it. (Runs are 5 ms against 150 ms: wall time, so a
 * loaded machine that preempts the task must not make a run look long.) */
static void *yields_often(void *arg)
{
    (void)arg;
    for (int i = 0; i < 60; i++) {
        int64_t end = cora_now_ns() + 5 * 1000000;
        while (cora_now_ns() < end) {
        }
        cora_yield();
    }
    mark("MARK done\n");
    return NULL;
}

static void short_runs_quiet(void **state)
{
    (void)state;
    scenario s = {yields_often, 0, "polite"};
    run_child_ms(&s, VIA_ENV, 150, out, sizeof out);
    assert_string_equal(out, "MARK done\n");
}

/* The API's switch: on and off, seen by cora_debug_enabled inside and outside. */
static void *check_enabled(void *arg)
{
    (void)arg;
    assert_int_equal(cora_debug_enabled(), 1);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 0}), 0);
    assert_int_equal(cora_debug_enabled(), 0);
    return NULL;
}

static void api_switch(void **state)
{
    (void)state;
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.blocking_ns = -1}), -EINVAL);
    assert_int_equal(cora_debug_set(NULL), -EINVAL);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 1}), 0);
    assert_int_equal(cora_debug_enabled(), 1);
    run_ok(check_enabled, NULL);
    assert_int_equal(cora_debug_enabled(), 0);
}

/* ---- Stats ---------------------------------------------------------------------- */

static void *yield_once(void *arg)
{
    (void)arg;
    cora_yield();
    return NULL;
}

static void *sleep_long(void *arg)
{
    (void)arg;
    cora_sleep(60);
    return NULL;
}

static void *main_stats_count(void *arg)
{
    (void)arg;
    cora_stats a, b;
    assert_int_equal(cora_stats_get(NULL), -EINVAL);
    assert_int_equal(cora_stats_get(&a), 0);
    assert_int_equal(a.spawns, 1); /* main */
    assert_int_equal(a.live_tasks, 1);
    assert_int_equal(a.switches, 1);

    enum { N = 10 };
    cora_task *t[N];
    for (int i = 0; i < N; i++)
        assert_non_null(t[i] = cora_spawn(yield_once, NULL));
    assert_int_equal(cora_stats_get(&b), 0);
    assert_int_equal(b.spawns, a.spawns + N);
    assert_int_equal(b.live_tasks, a.live_tasks + N);
    assert_int_equal(b.switches, a.switches); /* spawn never switches */
    for (int i = 0; i < N; i++)
        assert_int_equal(cora_await(t[i], NULL), 0);
    assert_int_equal(cora_stats_get(&b), 0);
    assert_int_equal(b.live_tasks, a.live_tasks);
    /* Each child ran twice (start, after its yield); main came back at least once. */
    assert_true(b.switches >= a.switches + 2 * N + 1);

    /* A sleeping task arms a timer; cancelled, it no longer has one. */
    cora_task *s = cora_spawn(sleep_long, NULL);
    cora_yield();
    assert_int_equal(cora_stats_get(&b), 0);
    assert_int_equal(b.timers_armed, a.timers_armed + 1);
    cora_cancel(s);
    assert_int_equal(cora_await(s, NULL), -ECANCELED);
    assert_int_equal(cora_stats_get(&b), 0);
    assert_int_equal(b.timers_armed, a.timers_armed);

    /* Each read is one operation handed to the backend. */
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "ab", 2), 2);
    cora_stats_get(&a);
    char c;
    assert_int_equal(cora_read(p[0], &c, 1), 1);
    assert_int_equal(cora_read(p[0], &c, 1), 1);
    cora_stats_get(&b);
    assert_int_equal(b.io_submitted, a.io_submitted + 2);
    assert_int_equal(b.io_in_flight, 0);
    close(p[0]);
    close(p[1]);

    /* Debug mode off: the times are not kept. */
    assert_int_equal(b.poll_ns, 0);
    assert_int_equal(b.run_ns, 0);
    assert_int_equal(b.longest_hold_ns, 0);
    assert_string_equal(b.longest_hold_task, "");
    return NULL;
}

/* The counters move as the loop works (debug mode off). */
static void stats_count(void **state)
{
    (void)state;
    cora_stats st;
    assert_int_equal(cora_stats_get(&st), -EPERM);
    run_ok(main_stats_count, NULL);
}

static void *spin_20ms(void *arg)
{
    (void)arg;
    int64_t end = cora_now_ns() + 20 * 1000000;
    while (cora_now_ns() < end) {
    }
    return NULL;
}

static void *main_stats_times(void *arg)
{
    (void)arg;
    cora_task *t = NULL;
    assert_int_equal(cora_spawn_ex(&t, spin_20ms, NULL, &(cora_spawn_opts){.name = "hog"}), 0);
    assert_int_equal(cora_await(t, NULL), 0);
    cora_sleep(0.01); /* the loop polls (waits) meanwhile */
    cora_stats st;
    assert_int_equal(cora_stats_get(&st), 0);
    assert_true(st.longest_hold_ns >= 20 * 1000000);
    assert_string_equal(st.longest_hold_task, "hog");
    assert_true(st.run_ns >= st.longest_hold_ns);
    assert_true(st.poll_ns > 0);
    return NULL;
}

/* In debug mode the times are kept too: the longest hold names its task. */
static void stats_times_in_debug(void **state)
{
    (void)state;
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = 1000000000}), 0);
    run_ok(main_stats_times, NULL);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 0}), 0);
}

/* ---- cora_run inside a loop ------------------------------------------------------ */

static void *nested_main(void *arg)
{
    (void)arg;
    return NULL;
}

static void *calls_cora_run(void *arg)
{
    (void)arg;
    int r = cora_run(nested_main, NULL, NULL);
    mark(r == -EBUSY ? "MARK nested refused\n" : "MARK nested not refused\n");
    return NULL;
}

/* The refusal names the calling task and, in debug mode, the code that spawned it
 * (scenario_main, exported), and points to cora_run_in_thread. Without debug mode it
 * says how to see the spawn site. */
static void nested_run_names_task_and_site(void **state)
{
    (void)state;
    scenario s = {calls_cora_run, 0, "nester"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "cora: cora_run() called while this thread is already running a loop",
                             "from task 'nester' (id 2), spawned at scenario_main (",
                             "cora_await()", "cora_run_in_thread()", "MARK nested refused", NULL});
    run_child(&s, OFF, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "from task 'nester' (id 2)", "CORA_DEBUG=1 shows where it was spawned",
                             "cora_run_in_thread()", "MARK nested refused", NULL});
    assert_null(strstr(out, "spawned at"));
}

/* ---- cora_run_in_thread ---------------------------------------------------------- */

typedef struct {
    atomic_int ticks;         /* the outer loop's ticker counts here */
    atomic_int stop;          /* tells the ticker to end */
    atomic_int inner_started; /* fn began on the inner loop */
    atomic_int inner_sleep;   /* what fn's cora_sleep returned (1: not yet) */
    int caller;               /* what cora_run_in_thread returned to the caller */
} bridge_state;

static void *ticker(void *arg)
{
    bridge_state *b = arg;
    while (!atomic_load(&b->stop) && cora_sleep(0.001) == 0)
        atomic_fetch_add(&b->ticks, 1);
    return NULL;
}

/* The inner loop's main: a full loop (it spawns and awaits a task of its own), which
 * waits until the outer loop's ticker has ticked three more times, and that can only
 * happen if the outer loop runs on while one of its tasks waits for this one. No
 * assertion here: cmocka's cannot jump across threads; a status says what went wrong. */
static void *inner_child(void *arg)
{
    return (void *)((intptr_t)arg + 1);
}

static void *inner_waits_for_ticks(void *arg)
{
    bridge_state *b = arg;
    int from = atomic_load(&b->ticks);
    void *r = NULL;
    cora_task *t = cora_spawn(inner_child, (void *)41);
    if (!t || cora_await(t, &r) != 0) return cora_fail(-EPROTO);
    for (int i = 0; i < 20000 && atomic_load(&b->ticks) < from + 3; i++)
        cora_sleep(0.001);
    if (atomic_load(&b->ticks) < from + 3) return cora_fail(-ETIMEDOUT);
    return r; /* 42 */
}

static void *main_bridge_runs_alongside(void *arg)
{
    bridge_state *b = arg;
    cora_task *tk = cora_spawn(ticker, b);
    void *res = NULL;
    assert_int_equal(cora_run_in_thread(inner_waits_for_ticks, b, &res), 0);
    assert_ptr_equal(res, (void *)42);
    /* A second run, to show the first left nothing behind that gets in the way. */
    res = NULL;
    assert_int_equal(cora_run_in_thread(inner_waits_for_ticks, b, &res), 0);
    assert_ptr_equal(res, (void *)42);
    atomic_store(&b->stop, 1);
    assert_int_equal(cora_await(tk, NULL), 0);
    return NULL;
}

/* The caller gets fn's result and status while the other tasks of its loop go on. */
static void run_in_thread_result_while_loop_runs(void **state)
{
    (void)state;
    bridge_state b = {0};
    run_ok(main_bridge_runs_alongside, &b);
    assert_true(atomic_load(&b.ticks) >= 6);
}

static void *inner_sleeps(void *arg)
{
    bridge_state *b = arg;
    atomic_store(&b->inner_started, 1);
    int r = cora_sleep(60);
    atomic_store(&b->inner_sleep, r);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *bridge_caller(void *arg)
{
    bridge_state *b = arg;
    b->caller = cora_run_in_thread(inner_sleeps, b, NULL);
    return NULL;
}

static void *bridge_caller_with_deadline(void *arg)
{
    bridge_state *b = arg;
    cora_scope s;
    assert_int_equal(cora_fail_after(&s, 0.05), 0);
    b->caller = cora_run_in_thread(inner_sleeps, b, NULL);
    cora_scope_exit(&s);
    return NULL;
}

static void *main_bridge_cancel(void *arg)
{
    (void)arg;
    /* Cancelled while fn sleeps: fn's sleep is cancelled, and the caller returns only
     * after that (the inner loop has ended by then). */
    bridge_state b = {.inner_sleep = 1};
    cora_task *c = cora_spawn(bridge_caller, &b);
    while (!atomic_load(&b.inner_started))
        assert_int_equal(cora_sleep(0.001), 0);
    cora_cancel(c);
    assert_int_equal(cora_await(c, NULL), -ECANCELED);
    assert_int_equal(b.caller, -ECANCELED);
    assert_int_equal(atomic_load(&b.inner_sleep), -ECANCELED);

    /* A deadline around the call: its cause, -ETIMEDOUT, comes back. */
    bridge_state d = {.inner_sleep = 1};
    c = cora_spawn(bridge_caller_with_deadline, &d);
    assert_int_equal(cora_await(c, NULL), 0);
    assert_int_equal(d.caller, -ETIMEDOUT);
    assert_int_equal(atomic_load(&d.inner_sleep), -ECANCELED);

    /* Cancelled at once, before or after the new loop published itself (either may
     * happen): -ECANCELED, and fn, if it started at all, was cancelled. */
    for (int i = 0; i < 20; i++) {
        bridge_state e = {.inner_sleep = 1};
        c = cora_spawn(bridge_caller, &e);
        assert_int_equal(cora_yield(), 0); /* the caller runs and parks in the bridge */
        cora_cancel(c);
        assert_int_equal(cora_await(c, NULL), -ECANCELED);
        assert_int_equal(e.caller, -ECANCELED);
        if (atomic_load(&e.inner_started))
            assert_int_equal(atomic_load(&e.inner_sleep), -ECANCELED);
        else
            assert_int_equal(atomic_load(&e.inner_sleep), 1);
    }

    /* Already cancelled when it calls: nothing starts. */
    bridge_state f = {.inner_sleep = 1};
    cora_cancel(cora_current());
    assert_int_equal(cora_run_in_thread(inner_sleeps, &f, NULL), -ECANCELED);
    assert_int_equal(atomic_load(&f.inner_started), 0);
    return NULL;
}

/* Cancelling the caller cancels fn's task on the inner loop, waits for that loop to
 * end, and returns the caller's cause. */
static void run_in_thread_cancel_forwarded(void **state)
{
    (void)state;
    assert_int_equal(cora_run(main_bridge_cancel, NULL, NULL), -ECANCELED);
}

static void *inner_fails(void *arg)
{
    (void)arg;
    return cora_fail(-ENOENT);
}

static void *inner_returns_arg(void *arg)
{
    return arg;
}

static void call_from_callback(void *arg)
{
    *(int *)arg = cora_run_in_thread(inner_returns_arg, NULL, NULL);
}

static void *main_bridge_errors(void *arg)
{
    (void)arg;
    void *res = (void *)7;
    assert_int_equal(cora_run_in_thread(inner_fails, NULL, &res), -ENOENT);
    assert_ptr_equal(res, (void *)7); /* left alone unless 0 is returned */
    assert_int_equal(cora_run_in_thread(NULL, NULL, &res), -EINVAL);
    /* A callback of the loop cannot wait. */
    int r = 1;
    assert_int_equal(cora_call_soon_threadsafe(cora_loop_current(), call_from_callback, &r), 0);
    while (r == 1)
        assert_int_equal(cora_yield(), 0);
    assert_int_equal(r, -EPERM);
    /* Out of memory at each allocation the caller makes: -ENOMEM, and nothing started
     * or leaked (the harness's census, LeakSanitizer). The sweep ends when the call
     * needs fewer allocations than the one set to fail. */
    for (long n = 1;; n++) {
        assert_true(n < 20);
        cora__fail_alloc_at = n;
        res = NULL;
        r = cora_run_in_thread(inner_returns_arg, (void *)3, &res);
        long left = cora__fail_alloc_at;
        cora__fail_alloc_at = 0;
        if (left > 0) {
            assert_int_equal(r, 0);
            assert_ptr_equal(res, (void *)3);
            break;
        }
        assert_int_equal(r, -ENOMEM);
    }
    return NULL;
}

/* fn's failure is the status returned; misuse gets its error; and outside any loop
 * the call just runs the loop on a new thread and joins it. */
static void run_in_thread_status_and_errors(void **state)
{
    (void)state;
    run_ok(main_bridge_errors, NULL);
    void *res = NULL;
    assert_int_equal(cora_run_in_thread(inner_returns_arg, (void *)5, &res), 0);
    assert_ptr_equal(res, (void *)5);
    assert_int_equal(cora_run_in_thread(inner_fails, NULL, NULL), -ENOENT);
    assert_int_equal(cora_run_in_thread(NULL, NULL, NULL), -EINVAL);
}

/* Sends SIGINT to the process once fn has started, and keeps the loop waking so
 * that ThreadSanitizer, which runs handlers from its interceptors, runs it soon. */
static void *interrupter(void *arg)
{
    bridge_state *b = arg;
    bool sent = false;
    while (cora_sleep(0.001) == 0) {
        if (!sent && atomic_load(&b->inner_started)) {
            kill(getpid(), SIGINT);
            sent = true;
        }
    }
    return NULL;
}

static void *main_bridge_interrupted(void *arg)
{
    bridge_state *b = arg;
    cora_detach(cora_spawn(interrupter, b));
    b->caller = cora_run_in_thread(inner_sleeps, b, NULL);
    return NULL;
}

/* Ctrl-C while a task waits in cora_run_in_thread: the outer loop, which took the
 * signal, cancels its main task, and that reaches fn on the inner loop (whose thread
 * blocks the signal and which did not take it). Afterwards SIGINT is back to its
 * default action. */
static void run_in_thread_ctrl_c(void **state)
{
    (void)state;
    bridge_state b = {.inner_sleep = 1};
    assert_int_equal(cora_run(main_bridge_interrupted, &b, NULL), -ECANCELED);
    assert_int_equal(b.caller, -ECANCELED);
    assert_int_equal(atomic_load(&b.inner_sleep), -ECANCELED);
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
}

/* The caller's loop stops on a backend error while a task waits in cora_run_in_thread:
 * the closing loop cancels fn, joins the bridge thread and frees the bridge, so
 * nothing of the call outlives cora_run (LeakSanitizer checks the heap at exit). The
 * error is injected by swapping the loop's backend for a copy whose poll fails. */
static struct cora__backend broken_backend;
static atomic_int broken_releases_fn; /* 1: the failing poll first lets fn return */
static atomic_int fn_may_return;

static int broken_poll(cora_loop *loop, int64_t timeout_ns)
{
    (void)timeout_ns;
    if (atomic_load(&broken_releases_fn)) {
        /* fn returns only now, so the bridge thread's hand-back arrives while the loop
         * is inside this poll and can never run it: wait for it, then fail. */
        atomic_store(&fn_may_return, 1);
        for (int i = 0; i < 20000 && !atomic_load(&loop->wake_pending); i++)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
    }
    return -EIO;
}

static void break_backend(void)
{
    cora_loop *loop = cora_loop_current();
    broken_backend = *loop->backend;
    broken_backend.poll = broken_poll;
    loop->backend = &broken_backend;
}

static void *inner_returns_when_told(void *arg)
{
    bridge_state *b = arg;
    atomic_store(&b->inner_started, 1);
    for (int i = 0; i < 20000 && !atomic_load(&fn_may_return); i++)
        nanosleep(&(struct timespec){0, 1000000}, NULL);
    atomic_store(&b->inner_sleep, 0);
    return (void *)42;
}

static void *main_bridge_outer_fails(void *arg)
{
    bridge_state *b = arg;
    cora_detach(cora_spawn(bridge_caller, b));
    while (!atomic_load(&b->inner_started))
        assert_int_equal(cora_sleep(0.001), 0);
    break_backend();
    cora_sleep(60); /* the next poll fails: cora_run returns with both tasks parked */
    return NULL;
}

static void *bridge_caller_told(void *arg)
{
    bridge_state *b = arg;
    b->caller = cora_run_in_thread(inner_returns_when_told, b, NULL);
    return NULL;
}

static void *main_bridge_outer_fails_after_fn(void *arg)
{
    bridge_state *b = arg;
    cora_detach(cora_spawn(bridge_caller_told, b));
    while (!atomic_load(&b->inner_started))
        assert_int_equal(cora_sleep(0.001), 0);
    break_backend();
    cora_sleep(60);
    return NULL;
}

static void run_in_thread_outer_loop_fails(void **state)
{
    (void)state;
    /* While fn runs: fn is cancelled and has ended by the time cora_run returns. */
    bridge_state b = {.inner_sleep = 1, .caller = 1};
    assert_int_equal(cora_run(main_bridge_outer_fails, &b, NULL), -EIO);
    assert_int_equal(atomic_load(&b.inner_sleep), -ECANCELED);
    assert_int_equal(b.caller, 1); /* the caller never returned: its loop is gone */

    /* After fn returned and the bridge thread posted its hand-back, which the failed
     * loop never runs: the bridge and the node are freed all the same. */
    bridge_state c = {.inner_sleep = 1, .caller = 1};
    atomic_store(&broken_releases_fn, 1);
    assert_int_equal(cora_run(main_bridge_outer_fails_after_fn, &c, NULL), -EIO);
    atomic_store(&broken_releases_fn, 0);
    assert_int_equal(atomic_load(&fn_may_return), 1);
    assert_int_equal(atomic_load(&c.inner_sleep), 0);
    assert_int_equal(c.caller, 1);
}

/* ---- Forgotten task handles ------------------------------------------------------ */

static void *quick_ok(void *arg)
{
    (void)arg;
    return NULL;
}

static void *quick_fail(void *arg)
{
    (void)arg;
    return cora_fail(-ECONNREFUSED);
}

static void *group_fails(void *arg)
{
    (void)arg;
    cora_group g;
    cora_group_init(&g);
    cora_group_spawn(&g, quick_fail, NULL, &(cora_spawn_opts){.name = "grouped"});
    int r = cora_group_wait(&g);
    cora_group_destroy(&g);
    mark(r == -ECONNREFUSED ? "MARK group saw it\n" : "MARK group missed it\n");
    return NULL;
}

enum { FORGET_OK, FORGET_FAIL, FORGET_RUNNING, DETACH_FAIL, GROUP_FAIL };

/* Spawns a task as `arg` says, lets it run, and drops the handle (or detaches it, or
 * gives the task to a group). Exported, so that the reports can name it as the spawn
 * site. */
void *debug_test_forgetful(void *arg)
{
    intptr_t how = (intptr_t)arg;
    static const cora_fn fns[] = {quick_ok, quick_fail, sleep_long, quick_fail, group_fails};
    static const char *const names[] = {"forgotten", "forgotten", "forgotten", "detached",
                                        "grouper"};
    cora_task *t = NULL;
    int r = cora_spawn_ex(&t, fns[how], NULL, &(cora_spawn_opts){.name = names[how]});
    if (r < 0) return cora_fail(r);
    if (how == DETACH_FAIL || how == GROUP_FAIL) cora_detach(t);
    for (int i = 0; i < 3; i++) /* it runs (and, but for the sleeper, ends) meanwhile */
        cora_yield();
    mark("MARK forgot\n");
    return NULL;
}

/* Debug mode reports a task that ended well but whose handle was dropped, when the
 * loop closes: where it was spawned and what to do. */
static void forgotten_success_reported(void **state)
{
    (void)state;
    scenario s = {debug_test_forgetful, FORGET_OK, "forgetful"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "MARK forgot",
                             "cora: task 'forgotten' (id 3) spawned at "
                             "debug_test_forgetful (",
                             "was never awaited nor detached; it returned normally",
                             "cora_await() it", "cora_detach() it", "cora_group_spawn()", NULL});
}

/* A forgotten task that failed: its error and its spawn site. */
static void forgotten_failure_reported(void **state)
{
    (void)state;
    scenario s = {debug_test_forgetful, FORGET_FAIL, "forgetful"};
    run_child(&s, VIA_API, out, sizeof out);
    assert_in_order(
        out, (const char *const[]){"MARK forgot",
                                   "task 'forgotten' (id 3) spawned at debug_test_forgetful",
                                   "was never awaited nor detached; it failed with ECONNREFUSED "
                                   "(Connection refused)",
                                   "cora_await() it", NULL});
}

/* A forgotten task still running when main returned: the loop cancelled it, and says
 * so. */
static void forgotten_running_reported(void **state)
{
    (void)state;
    scenario s = {debug_test_forgetful, FORGET_RUNNING, "forgetful"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(
        out, (const char *const[]){
                 "MARK forgot", "task 'forgotten' (id 3) spawned at debug_test_forgetful",
                 "never awaited nor detached; it was still running when main returned", NULL});
}

/* Without debug mode: a forgotten task that ended well is not reported, and a
 * failure is reported as before, with the way to see its spawn site. */
static void forgotten_without_debug(void **state)
{
    (void)state;
    scenario s = {debug_test_forgetful, FORGET_OK, "forgetful"};
    run_child(&s, OFF, out, sizeof out);
    assert_string_equal(out, "MARK forgot\n");
    s.arg = FORGET_RUNNING;
    run_child(&s, OFF, out, sizeof out);
    assert_string_equal(out, "MARK forgot\n");
    s.arg = FORGET_FAIL;
    run_child(&s, OFF, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "MARK forgot",
                             "cora: task 'forgotten' (id 3) failed with ECONNREFUSED (Connection "
                             "refused) and nobody awaited it",
                             "cora_await() it", "CORA_DEBUG=1 shows where it was spawned", NULL});
    assert_null(strstr(out, "spawned at"));
}

/* A detached task that failed is reported when it ends, with its spawn site in debug
 * mode; a group child's failure went to its group and is not reported at all. */
static void detached_failure_names_site(void **state)
{
    (void)state;
    scenario s = {debug_test_forgetful, DETACH_FAIL, "forgetful"};
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_in_order(out, (const char *const[]){
                             "cora: task 'detached' (id 3) spawned at debug_test_forgetful (",
                             "failed with ECONNREFUSED", "(it was detached)", "MARK forgot", NULL});
    run_child(&s, OFF, out, sizeof out);
    assert_in_order(out, (const char *const[]){"task 'detached' (id 3) failed with ECONNREFUSED",
                                               "CORA_DEBUG=1 shows where it was spawned",
                                               "MARK forgot", NULL});
    s.arg = GROUP_FAIL;
    run_child(&s, VIA_ENV, out, sizeof out);
    assert_string_equal(out, "MARK group saw it\nMARK forgot\n");
}

/* ---- Stack overflow ------------------------------------------------------------- */

/* The fault actions the program started with, before cmocka put in its own for each
 * case: the default, or a sanitizer's. AddressSanitizer and ThreadSanitizer install
 * their handler at startup and report a stack overflow themselves; cora then stays out
 * of the way, and these cases check that the sanitizer's report still comes through.
 * Saved and put back with the raw system call, as the kernel's struct (handler, flags,
 * restorer, mask: four words on x86-64 and aarch64): ThreadSanitizer's sigaction
 * wrapper would turn its own handler, put back through it, into a "user" handler it
 * calls from inside its own, which then reports a nested bug instead of the overflow. */
static unsigned long initial_segv[4], initial_bus[4];

__attribute__((constructor)) static void save_initial_fault_actions(void)
{
    syscall(SYS_rt_sigaction, SIGSEGV, NULL, initial_segv, 8);
    syscall(SYS_rt_sigaction, SIGBUS, NULL, initial_bus, 8);
}

static bool sanitizer_owns_segv(void)
{
    return initial_segv[0] != (unsigned long)SIG_DFL;
}

/* cmocka handles SIGSEGV and SIGBUS itself while a case runs, and cora steps aside for
 * a handler the program installed: a child that plays a program without one puts the
 * initial actions back. */
static void initial_fault_actions(void)
{
    syscall(SYS_rt_sigaction, SIGSEGV, initial_segv, NULL, 8);
    syscall(SYS_rt_sigaction, SIGBUS, initial_bus, NULL, 8);
}

static bool on_valgrind(void)
{
#if __has_include(<valgrind/valgrind.h>)
    return RUNNING_ON_VALGRIND;
#else
    return false;
#endif
}

/* Runs body(arg) in a child whose stderr goes to `out`, with debug mode on or off and
 * the fault actions the program started with; returns the child's wait status (the
 * child exits 0 if body returns). */
typedef struct {
    void (*body)(void *);
    void *arg;
    bool debug;
} fault_child;

static int fault_child_main(void *arg)
{
    fault_child *c = arg;
    unsetenv("CORA_DEBUG");
    if (c->debug) {
        setenv("CORA_DEBUG", "1", 1);
        setenv("CORA_DEBUG_BLOCKING_MS", "10000", 1); /* valgrind is slow */
    }
    initial_fault_actions();
    c->body(c->arg);
    return 0;
}

static int run_child_status(void (*body)(void *), void *arg, bool debug, char *out, size_t cap)
{
    fault_child c = {body, arg, debug};
    return capture_child(fault_child_main, &c, out, cap);
}

/* Recursion that cannot become a loop: each frame keeps a volatile array alive across
 * the call. Not static, so that reports can name it. */
unsigned long overflow_recurse(int depth);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winfinite-recursion"
__attribute__((noinline)) unsigned long overflow_recurse(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)depth;
    return overflow_recurse(depth + 1) + pad[0];
}
#pragma GCC diagnostic pop

static void *overflow_task(void *arg)
{
    (void)arg;
    return (void *)overflow_recurse(0);
}

/* A frame bigger than the guard page: the stack pointer jumps past the guard at once,
 * and the first store (at the frame's lowest byte) lands below it. */
static void *big_frame_task(void *arg)
{
    (void)arg;
    volatile char pad[128 * 1024];
    pad[0] = 1;
    pad[sizeof pad - 1] = 1;
    return (void *)(intptr_t)(pad[0] + pad[sizeof pad - 1]);
}

static void *wild_pointer_task(void *arg)
{
    (void)arg;
    /* Not NULL itself, which UBSan would catch first: an address in the zero page. */
    volatile uintptr_t addr = 16;
    return (void *)(intptr_t) * (volatile int *)addr;
}

/* Spawns `arg`'s function as 'deep' on a 64 KiB stack and awaits it. Not static: the
 * reports in debug mode name it as the spawn site. */
void *overflow_spawner(void *arg);
void *overflow_spawner(void *arg)
{
    cora_task *t = NULL;
    int r = cora_spawn_ex(&t, (cora_fn)arg, NULL,
                          &(cora_spawn_opts){.name = "deep", .stack_size = 64 * 1024});
    if (r < 0) return cora_fail(r);
    cora_await(t, NULL);
    return NULL;
}

static void run_overflow_spawner(void *fn)
{
    cora_run(overflow_spawner, fn, NULL);
}

/* Asserts that the child died of the sanitizer's stack-overflow report, not of cora's. */
static void assert_sanitizer_report(int status, const char *what)
{
    assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_non_null(strstr(out, what));
    assert_null(strstr(out, "cora: task"));
}

static void check_overflow_report(bool debug, const char *guard)
{
    if (guard) setenv("CORA_GUARD", guard, 1);
    int status = run_child_status(run_overflow_spawner, overflow_task, debug, out, sizeof out);
    unsetenv("CORA_GUARD");
    if (sanitizer_owns_segv()) {
        assert_sanitizer_report(status, "Sanitizer: stack-overflow");
        return;
    }
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
        fprintf(stderr, "child status %#x:\n%s\n", status, out);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_in_order(
        out, (const char *const[]){"cora: task 'deep' (id ", ") overflowed its stack of 64 KiB.\n",
                                   "Give it a bigger stack: cora_spawn_ex(",
                                   "(cora_spawn_opts){.stack_size = 128 * 1024})", NULL});
    if (debug) {
        assert_in_order(out, (const char *const[]){"cora_debug_print_stacks()",
                                                   "spawned at: overflow_spawner", NULL});
    } else {
        assert_non_null(strstr(out, "Debug mode (CORA_DEBUG=1) names the spawn site"));
        assert_null(strstr(out, "spawned at"));
    }
}

/* A task that recurses off its stack: the child aborts, and stderr names the task, its
 * stack size and the fix; with each kind of guard page. */
static void overflow_reported(void **state)
{
    (void)state;
    check_overflow_report(false, NULL);
    check_overflow_report(false, "mprotect");
}

/* In debug mode the report also names the spawn site. */
static void overflow_names_spawn_site(void **state)
{
    (void)state;
    check_overflow_report(true, NULL);
}

/* Makes sure nothing is mapped in the 256 KiB below the guard page of `deep`'s stack,
 * by mapping it PROT_NONE ourselves, so that the big frame's store faults there
 * whatever else the process mapped; then overflows. */
static void *reserve_then_big_frame(void *arg)
{
    (void)arg;
    cora__stack *s = cora_current()->stack;
    size_t len = 256 * 1024;
    char *want = (char *)s->map - len;
    void *got =
        mmap(want, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (got != want) {
        char msg[128];
        snprintf(msg, sizeof msg, "MARK cannot reserve below the stack (%p for %p: %s)\n", got,
                 (void *)want, got == MAP_FAILED ? strerror(errno) : "elsewhere");
        mark(msg);
        _exit(0);
    }
    return big_frame_task(NULL);
}

static void big_frame_reported(void **state)
{
    (void)state;
    int status =
        run_child_status(run_overflow_spawner, reserve_then_big_frame, false, out, sizeof out);
    if (strstr(out, "MARK cannot reserve")) {
        print_message("skipped: the address range below the stack is taken\n");
        skip();
    }
    if (sanitizer_owns_segv()) {
        assert_sanitizer_report(status, "Sanitizer: stack-overflow");
        return;
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_non_null(strstr(out, "cora: task 'deep' (id 2) overflowed its stack of 64 KiB"));
}

/* The main task's stack cannot be chosen: the advice says to move the work. */
static void *main_overflows(void *arg)
{
    (void)arg;
    return (void *)overflow_recurse(0);
}

static void run_main_overflows(void *arg)
{
    (void)arg;
    cora_run(main_overflows, NULL, NULL);
}

static void main_overflow_advice(void **state)
{
    (void)state;
    int status = run_child_status(run_main_overflows, NULL, false, out, sizeof out);
    if (sanitizer_owns_segv()) {
        assert_sanitizer_report(status, "Sanitizer: stack-overflow");
        return;
    }
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
    assert_in_order(out, (const char *const[]){"cora: task 'main' (id 1) overflowed its stack of "
                                               "256 KiB.\n",
                                               "The main task runs on a stack of the default size",
                                               ".stack_size = 512 * 1024", NULL});
}

/* A wild pointer in a task (into the zero page) is no overflow: the child dies of SIGSEGV as it
 * would without cora, and nothing is said about stacks. */
static void wild_fault_not_overflow(void **state)
{
    (void)state;
    int status = run_child_status(run_overflow_spawner, wild_pointer_task, true, out, sizeof out);
    assert_null(strstr(out, "overflowed"));
    if (sanitizer_owns_segv()) {
        assert_sanitizer_report(status, "Sanitizer: SEGV");
        return;
    }
    if (!WIFSIGNALED(status)) fprintf(stderr, "child status %#x:\n%s\n", status, out);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGSEGV);
}

/* A program's own SIGSEGV handler (with its own alternate stack) is left alone: it is
 * what runs on an overflow, and cora says nothing. */
static void own_handler(int sig)
{
    (void)sig;
    mark("MARK own handler\n");
    _exit(7);
}

static void run_with_own_handler(void *fn)
{
    static char altmem[64 * 1024];
    stack_t ss = {.ss_sp = altmem, .ss_size = sizeof altmem};
    assert_int_equal(sigaltstack(&ss, NULL), 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = own_handler;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGSEGV, &sa, NULL), 0);
    cora_run(overflow_spawner, fn, NULL);
}

static void own_handler_kept(void **state)
{
    (void)state;
    int status = run_child_status(run_with_own_handler, overflow_task, false, out, sizeof out);
    if (!WIFEXITED(status)) fprintf(stderr, "child status %#x:\n%s\n", status, out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 7);
    assert_string_equal(out, "MARK own handler\n");
}

/* The handler is installed while a loop runs and removed when the last loop ends, on
 * whichever thread; each loop's thread has an alternate stack meanwhile, and gets its
 * own back after. Under a sanitizer, whose handler is there from the start, nothing
 * changes. (cmocka's asserts work only on the main thread: the other thread records
 * what it saw and the main thread asserts it.) */
typedef struct {
    struct sigaction before;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stage;          /* 1: the thread's loop runs; 2: the main thread's loop ended */
    bool thread_ok[2];  /* the thread's loop saw the right handler, before and after stage 2 */
    int thread_run;     /* its cora_run's result */
    bool thread_alt_ok; /* its alternate stack after its loop is the one it had before */
} handler_check;

/* Same handler and flags (but SA_RESTORER, which the C library adds on its own and
 * valgrind reports where the kernel does not). */
static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
    const int flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART | SA_NODEFER | SA_RESETHAND;
    return (a->sa_flags & flags) == (b->sa_flags & flags) &&
           (a->sa_flags & SA_SIGINFO ? a->sa_sigaction == b->sa_sigaction
                                     : a->sa_handler == b->sa_handler);
}

static bool is_default_action(const struct sigaction *a)
{
    return !(a->sa_flags & SA_SIGINFO) && a->sa_handler == SIG_DFL;
}

/* Inside a loop: ours (SA_ONSTACK, SA_SIGINFO, an alternate stack) if the action was
 * the default before, else unchanged. */
static bool handler_in_loop_ok(const handler_check *c)
{
    struct sigaction now;
    stack_t ss;
    if (sigaction(SIGSEGV, NULL, &now) != 0 || sigaltstack(NULL, &ss) != 0) return false;
    if (!is_default_action(&c->before)) return same_action(&now, &c->before);
    return (now.sa_flags & SA_SIGINFO) && (now.sa_flags & SA_ONSTACK) &&
           !(ss.ss_flags & SS_DISABLE);
}

static void set_stage(handler_check *c, int stage)
{
    pthread_mutex_lock(&c->lock);
    c->stage = stage;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void wait_stage(handler_check *c, int stage)
{
    pthread_mutex_lock(&c->lock);
    while (c->stage < stage)
        pthread_cond_wait(&c->cond, &c->lock);
    pthread_mutex_unlock(&c->lock);
}

static void *thread_loop_main(void *arg)
{
    handler_check *c = arg;
    c->thread_ok[0] = handler_in_loop_ok(c);
    set_stage(c, 1);
    wait_stage(c, 2); /* blocks this loop's thread: it has nothing else to run */
    c->thread_ok[1] = handler_in_loop_ok(c); /* still there: this loop still runs */
    return NULL;
}

static void *thread_body(void *arg)
{
    handler_check *c = arg;
    stack_t before, after;
    sigaltstack(NULL, &before);
    c->thread_run = cora_run(thread_loop_main, c, NULL);
    sigaltstack(NULL, &after);
    c->thread_alt_ok = before.ss_flags == after.ss_flags && before.ss_sp == after.ss_sp;
    set_stage(c, 1); /* in case its loop never started */
    return NULL;
}

static void *main_loop_check(void *arg)
{
    assert_true(handler_in_loop_ok(arg));
    return NULL;
}

static void fault_handler_lifetime(void **state)
{
    (void)state;
    handler_check c = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    struct sigaction cmocka_segv, cmocka_bus;
    sigaction(SIGSEGV, NULL, &cmocka_segv);
    sigaction(SIGBUS, NULL, &cmocka_bus);
    initial_fault_actions(); /* the case checks cora's handler, not cmocka's */
    assert_int_equal(sigaction(SIGSEGV, NULL, &c.before), 0);
    stack_t ss_before;
    assert_int_equal(sigaltstack(NULL, &ss_before), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_body, &c), 0);
    wait_stage(&c, 1);
    run_ok(main_loop_check, &c);
    set_stage(&c, 2);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(c.thread_run, 0);
    assert_true(c.thread_ok[0]);
    assert_true(c.thread_ok[1]);

    struct sigaction after;
    assert_int_equal(sigaction(SIGSEGV, NULL, &after), 0);
    assert_true(same_action(&after, &c.before));
    stack_t ss_after;
    assert_int_equal(sigaltstack(NULL, &ss_after), 0);
    if (!on_valgrind()) { /* there cora keeps it (src/core/overflow.c says why) */
        assert_true(c.thread_alt_ok);
        assert_int_equal(ss_after.ss_flags, ss_before.ss_flags);
        assert_ptr_equal(ss_after.ss_sp, ss_before.ss_sp);
    }
    sigaction(SIGSEGV, &cmocka_segv, NULL);
    sigaction(SIGBUS, &cmocka_bus, NULL);
}

/* ---- Stack high-water marks ------------------------------------------------------- */

/* About 100 KiB deep: 100 frames of a bit more than 1 KiB each. */
__attribute__((noinline)) static unsigned long descend(int depth)
{
    volatile char pad[1024];
    pad[0] = (char)depth;
    pad[sizeof pad - 1] = (char)depth;
    if (depth == 0) return pad[0];
    return descend(depth - 1) + pad[0];
}

static void *deep_task(void *arg)
{
    (void)arg;
    return (void *)descend(100);
}

static void *shallow_task(void *arg)
{
    (void)arg;
    return NULL;
}

/* Two spawn sites, in functions of their own so the table can tell them apart. */
void hw_spawn_deep(void);
void hw_spawn_shallow(void);
__attribute__((noinline)) void hw_spawn_deep(void)
{
    cora_task *t = cora_spawn(deep_task, NULL);
    assert_non_null(t);
    assert_int_equal(cora_await(t, NULL), 0);
}

__attribute__((noinline)) void hw_spawn_shallow(void)
{
    cora_task *t = cora_spawn(shallow_task, NULL);
    assert_non_null(t);
    assert_int_equal(cora_await(t, NULL), 0);
}

/* The row of the site whose symbol is `fn`: high-water and stack size in KiB, tasks. */
static void find_row(const char *table, const char *fn, unsigned *hw, unsigned *size, unsigned *pct,
                     unsigned *tasks)
{
    const char *at = strstr(table, fn);
    if (!at) fprintf(stderr, "no row for %s in:\n%s\n", fn, table);
    assert_non_null(at);
    while (at > table && at[-1] != '\n')
        at--;
    assert_int_equal(sscanf(at, " %u KiB %u KiB %u%% %u", hw, size, pct, tasks), 4);
}

static void *main_high_water(void *arg)
{
    (void)arg;
    assert_int_equal(cora_debug_print_stacks(NULL), -EINVAL);
    /* The deep task first: the shallow ones then run on its pooled stack, whose pages
     * it touched must not count for them. */
    hw_spawn_deep();
    for (int i = 0; i < 5; i++)
        hw_spawn_shallow();

    char *table = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&table, &len);
    assert_non_null(f);
    int rows = cora_debug_print_stacks(f);
    fclose(f);
    if (getenv("CORA_TEST_SHOW")) fprintf(stderr, "%s", table);
    assert_int_equal(rows, 2);
    unsigned hw, size, pct, tasks;
    find_row(table, "hw_spawn_deep", &hw, &size, &pct, &tasks);
    assert_true(hw >= 100 && hw <= 256);
    assert_int_equal(size, 256);
    assert_int_equal(pct, hw * 100 / 256);
    assert_int_equal(tasks, 1);
    unsigned deep_hw = hw;
    find_row(table, "hw_spawn_shallow", &hw, &size, &pct, &tasks);
    assert_true(hw > 0 && hw <= 16);
    assert_int_equal(size, 256);
    assert_int_equal(tasks, 5);
    /* Deepest first. */
    assert_true(strstr(table, "hw_spawn_deep") < strstr(table, "hw_spawn_shallow"));
    assert_true(deep_hw > hw);
    free(table);
    return NULL;
}

/* In debug mode, each spawn site's tasks' high-water mark is measured: ~100 KiB for
 * the deep one, a page or so for the shallow ones run after it on the same stack. */
static void stack_high_water(void **state)
{
    (void)state;
    assert_int_equal(cora_debug_print_stacks(stdout), -EPERM);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = 10000000000}), 0);
    run_ok(main_high_water, NULL);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 0}), 0);
}

/* Debug mode off: nothing is measured, and the table says why. */
static void *main_no_high_water(void *arg)
{
    (void)arg;
    hw_spawn_deep();
    char *table = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&table, &len);
    assert_non_null(f);
    assert_int_equal(cora_debug_print_stacks(f), 0);
    fclose(f);
    assert_non_null(strstr(table, "nothing recorded (debug mode is off"));
    free(table);
    return NULL;
}

static void stack_high_water_off(void **state)
{
    (void)state;
    run_ok(main_no_high_water, NULL);
}

/* Switched on in a running loop, debug mode first cleans the pooled stacks that tasks
 * used before, so the first measures are not inflated by them. */
static void *main_high_water_late(void *arg)
{
    (void)arg;
    hw_spawn_deep(); /* debug off: its stack goes back to the pool as it is */
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = 10000000000}), 0);
    hw_spawn_shallow(); /* on that same stack */
    char *table = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&table, &len);
    assert_non_null(f);
    assert_int_equal(cora_debug_print_stacks(f), 1);
    fclose(f);
    unsigned hw, size, pct, tasks;
    find_row(table, "hw_spawn_shallow", &hw, &size, &pct, &tasks);
    assert_true(hw > 0 && hw <= 16);
    free(table);
    return NULL;
}

static void stack_high_water_late(void **state)
{
    (void)state;
    run_ok(main_high_water_late, NULL);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 0}), 0);
}

/* One case a line: tests/CMakeLists.txt registers them by this pattern. */
// clang-format off
static const struct CMUnitTest tests[] = {
    CORA_TEST(spin_reported_while_blocking),
    CORA_TEST(sleep_named),
    CORA_TEST(read_named),
    CORA_TEST(off_prints_nothing),
    CORA_TEST(short_runs_quiet),
    CORA_TEST(api_switch),
    CORA_TEST(stats_count),
    CORA_TEST(stats_times_in_debug),
    CORA_TEST(nested_run_names_task_and_site),
    CORA_TEST(run_in_thread_result_while_loop_runs),
    CORA_TEST(run_in_thread_cancel_forwarded),
    CORA_TEST(run_in_thread_status_and_errors),
    CORA_TEST(run_in_thread_ctrl_c),
    CORA_TEST(run_in_thread_outer_loop_fails),
    CORA_TEST(forgotten_success_reported),
    CORA_TEST(forgotten_failure_reported),
    CORA_TEST(forgotten_running_reported),
    CORA_TEST(forgotten_without_debug),
    CORA_TEST(detached_failure_names_site),
    CORA_TEST(overflow_reported),
    CORA_TEST(overflow_names_spawn_site),
    CORA_TEST(big_frame_reported),
    CORA_TEST(main_overflow_advice),
    CORA_TEST(wild_fault_not_overflow),
    CORA_TEST(own_handler_kept),
    CORA_TEST(fault_handler_lifetime),
    CORA_TEST(stack_high_water),
    CORA_TEST(stack_high_water_off),
    CORA_TEST(stack_high_water_late),
};
// clang-format on

CORA_TEST_MAIN("debug", tests)

/* tests/test_debug.c: debug mode (cora/debug.h, docs/debug.md): the blocking
 * detector and its naming of blocking calls, and the loop's stats. Each scenario runs in a forked
 * child whose stderr goes to a pipe, and the test checks the text and its order: debug mode writes
 * with write(2) and so does the scenario's marker, so the order in the pipe is the order in time.
 * Runs once per backend (see harness.h). */
#include "harness.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <time.h>

/* Not static, and the binary is linked with -rdynamic (tests/CMakeLists.txt), so
 * that dladdr can name these functions in the reports. */
void *debug_test_spin(void *arg);
void *debug_test_sleep(void *arg);
void *debug_test_read(void *arg);

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

/* Runs the scenario in a child with debug mode switched on as `how` says and a
 * threshold of ms milliseconds; returns what the child wrote to stderr (NUL-terminated,
 * in out). */
static void run_child_ms(scenario *s, int how, int ms, char *out, size_t cap)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(p[1], 2);
        close(p[0]);
        close(p[1]);
        unsetenv("CORA_DEBUG");
        unsetenv("CORA_DEBUG_BLOCKING_MS");
        if (how == VIA_ENV) {
            setenv("CORA_DEBUG", "1", 1);
            char v[16];
            snprintf(v, sizeof v, "%d", ms);
            setenv("CORA_DEBUG_BLOCKING_MS", v, 1);
        } else if (how == VIA_API) {
            cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = (int64_t)ms * 1000000});
        }
        int r = cora_run(scenario_main, s, NULL);
        _exit(r == 0 ? 0 : 3);
    }
    close(p[1]);
    size_t len = 0;
    ssize_t n;
    while ((n = read(p[0], out + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    out[len] = 0;
    close(p[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (getenv("CORA_TEST_SHOW")) fprintf(stderr, "--- child's stderr:\n%s---\n", out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fprintf(stderr, "child:\n%s\n", out);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The usual threshold: 50 ms. */
static void run_child(scenario *s, int how, char *out, size_t cap)
{
    run_child_ms(s, how, 50, out, cap);
}

/* Asserts that the needles appear in `text` in this order; NULL ends the list. */
static void assert_in_order(const char *text, const char *const *needles)
{
    const char *at = text;
    for (; *needles; needles++) {
        const char *f = strstr(at, *needles);
        if (!f) fprintf(stderr, "missing, in order: \"%s\" in:\n%s\n", *needles, text);
        assert_non_null(f);
        at = f + strlen(*needles);
    }
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
};
// clang-format on

CORA_TEST_MAIN("debug", tests)

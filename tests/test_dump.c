/* tests/test_dump.c: seeing inside a loop (cora/debug.h, docs/debug.md): the task
 * dump and the waits it names, deadlock cycles, "all tasks are asleep", SIGUSR1, and
 * per-task accounting. Scenarios that print run in a forked child whose stderr goes to
 * a pipe; the test checks the text. Runs once per backend (see harness.h). */
#include "capture.h"

#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

typedef struct {
    cora_fn fn;
    void *arg;
    bool debug;
} child_run;

static int child_main(void *arg)
{
    child_run *c = arg;
    unsetenv("CORA_DEBUG");
    cora_debug_set(&(cora_debug_opts){.on = c->debug});
    int r = cora_run(c->fn, c->arg, NULL);
    return r <= 0 && r > -256 ? -r : 255;
}

/* Runs cora_run(fn, arg) in a child, in debug mode if `debug`; returns cora_run's
 * result, and what the child wrote on stderr in out (NUL-terminated). */
static int run_in_child(cora_fn fn, void *arg, bool debug, char *out, size_t cap)
{
    child_run c = {fn, arg, debug};
    int status = capture_child(child_main, &c, out, cap);
    if (!WIFEXITED(status)) fprintf(stderr, "child died (status %d):\n%s\n", status, out);
    assert_true(WIFEXITED(status));
    return -WEXITSTATUS(status);
}

static char out[65536];

/* ---- The dump names every wait -------------------------------------------------- */

typedef struct {
    cora_lock lock;
    int fds[2];
} waits;

/* The functions the dump must name are not static, and the binary is linked with
 * -rdynamic, so that dladdr finds them. (The library's own frames may be missing from
 * an optimised build's backtrace: tail calls leave none.) */

static void *hold_lock(void *arg)
{
    waits *w = arg;
    cora_lock_acquire(&w->lock);
    cora_sleep(60); /* holds it until cancelled */
    cora_lock_release(&w->lock);
    return NULL;
}

void *dump_test_want_lock(void *arg);
void *dump_test_want_lock(void *arg)
{
    waits *w = arg;
    if (cora_lock_acquire(&w->lock) == 0) cora_lock_release(&w->lock);
    return NULL;
}

void *dump_test_read(void *arg);
void *dump_test_read(void *arg)
{
    waits *w = arg;
    char c;
    cora_read(w->fds[0], &c, 1); /* nobody writes */
    return NULL;
}

void *dump_test_sleep(void *arg);
void *dump_test_sleep(void *arg)
{
    (void)arg;
    cora_sleep(30);
    return NULL;
}

void *dump_test_main(void *arg);
void *dump_test_main(void *arg)
{
    (void)arg;
    waits w;
    cora_lock_init(&w.lock);
    if (cora_socketpair(SOCK_STREAM, w.fds) < 0) return cora_fail(-EIO);
    cora_task *t[4];
    cora_spawn_ex(&t[0], hold_lock, &w, &(cora_spawn_opts){.name = "locker"});
    cora_spawn_ex(&t[1], dump_test_want_lock, &w, &(cora_spawn_opts){.name = "waiter"});
    cora_spawn_ex(&t[2], dump_test_read, &w, &(cora_spawn_opts){.name = "reader"});
    cora_spawn_ex(&t[3], dump_test_sleep, &w, &(cora_spawn_opts){.name = "sleeper"});
    cora_sleep(0.05); /* every task reaches its wait */
    cora_dump_tasks(stderr);
    for (int i = 0; i < 4; i++) cora_cancel(t[i]);
    for (int i = 0; i < 4; i++) cora_await(t[i], NULL);
    close(w.fds[0]);
    close(w.fds[1]);
    return NULL;
}

/* In debug mode the dump names the lock and its owner, the socket read and its fd,
 * and the timer, with how long each has waited, the spawn site and where each
 * suspended. */
static void dump_names_waits(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(dump_test_main, NULL, true, out, sizeof out), 0);
    assert_in_order(out, (const char *const[]){"cora: task dump", "5 live of 5 tasks",
                                               "'main': running (the task printing this dump)",
                                               NULL});
    assert_in_order(out, (const char *const[]){"'locker': suspended, waiting for sleep", NULL});
    assert_in_order(out, (const char *const[]){
                             "'waiter': suspended, waiting for lock",
                             "blocked by task 'locker' (id 2)", ", for ", "spawned at: dump_test_main",
                             "suspended at:", "dump_test_want_lock", NULL});
    assert_in_order(out, (const char *const[]){"'reader': suspended, waiting for I/O (", "on fd ",
                                               "spawned at: dump_test_main", "suspended at:",
                                               "dump_test_read", NULL});
    assert_in_order(out, (const char *const[]){"'sleeper': suspended, waiting for sleep (",
                                               "s left)", "suspended at:", "dump_test_sleep", NULL});
}

/* Debug mode off: the waits are still named, without times, sites or backtraces. */
static void dump_without_debug(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(dump_test_main, NULL, false, out, sizeof out), 0);
    assert_in_order(out, (const char *const[]){"cora: task dump", "CORA_DEBUG=1 adds",
                                               "'waiter': suspended, waiting for lock",
                                               "blocked by task '", NULL});
    assert_non_null(strstr(out, "'reader': suspended, waiting for I/O ("));
    assert_null(strstr(out, "spawned at"));
    assert_null(strstr(out, "suspended at"));
}

/* ---- Deadlocks ------------------------------------------------------------------ */

typedef struct {
    cora_task *a, *b;
} pair;

static void *await_a(void *arg)
{
    pair *p = arg;
    cora_await(p->a, NULL); /* a awaits us: a cycle */
    return NULL;
}

static void *await_b(void *arg)
{
    pair *p = arg;
    cora_spawn_ex(&p->b, await_a, p, &(cora_spawn_opts){.name = "b"});
    cora_await(p->b, NULL);
    return NULL;
}

static void *await_cycle_main(void *arg)
{
    (void)arg;
    pair p = {0};
    cora_spawn_ex(&p.a, await_b, &p, &(cora_spawn_opts){.name = "a"});
    cora_sleep(0.05);
    cora_cancel(p.a); /* breaks the cycle: b then collects a */
    cora_await(p.b, NULL);
    return NULL;
}

/* Two tasks each awaiting the other are reported as a deadlock naming both. */
static void await_cycle_reported(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(await_cycle_main, NULL, true, out, sizeof out), 0);
    assert_in_order(out, (const char *const[]){"deadlock: 2 tasks wait for each other",
                                               "task 'b' (id 3) waits for await",
                                               "blocked by task 'a' (id 2)",
                                               "task 'a' (id 2) waits for await",
                                               "blocked by task 'b' (id 3)", NULL});
    assert_null(strstr(strstr(out, "deadlock") + 1, "deadlock:")); /* once */
}

typedef struct {
    cora_lock l1, l2;
} two_locks;

static void *lock_1_then_2(void *arg)
{
    two_locks *L = arg;
    cora_scope s;
    cora_fail_after(&s, 0.3); /* unwinds the deadlock */
    if (cora_lock_acquire(&L->l1) == 0) {
        cora_sleep(0.02);
        if (cora_lock_acquire(&L->l2) == 0) cora_lock_release(&L->l2);
        cora_lock_release(&L->l1);
    }
    cora_scope_exit(&s);
    return NULL;
}

static void *lock_2_then_1(void *arg)
{
    two_locks *L = arg;
    cora_scope s;
    cora_fail_after(&s, 0.3);
    if (cora_lock_acquire(&L->l2) == 0) {
        cora_sleep(0.02);
        if (cora_lock_acquire(&L->l1) == 0) cora_lock_release(&L->l1);
        cora_lock_release(&L->l2);
    }
    cora_scope_exit(&s);
    return NULL;
}

static void *lock_order_main(void *arg)
{
    (void)arg;
    two_locks L;
    cora_lock_init(&L.l1);
    cora_lock_init(&L.l2);
    cora_task *a, *b;
    cora_spawn_ex(&a, lock_1_then_2, &L, &(cora_spawn_opts){.name = "first"});
    cora_spawn_ex(&b, lock_2_then_1, &L, &(cora_spawn_opts){.name = "second"});
    cora_await(a, NULL);
    cora_await(b, NULL);
    return NULL;
}

/* Two tasks taking two locks in opposite orders: the cycle is reported, naming both
 * tasks and both locks with their owners. */
static void lock_order_reported(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(lock_order_main, NULL, true, out, sizeof out), 0);
    assert_in_order(out, (const char *const[]){"deadlock: 2 tasks wait for each other",
                                               "task 'second' (id 3) waits for lock 0x",
                                               "blocked by task 'first' (id 2)",
                                               "task 'first' (id 2) waits for lock 0x",
                                               "blocked by task 'second' (id 3)",
                                               "Take locks in one order", NULL});
}

/* ---- All tasks asleep ----------------------------------------------------------- */

static void *wait_event(void *arg)
{
    cora_event_wait(arg); /* nobody will set it */
    return NULL;
}

static void *asleep_main(void *arg)
{
    (void)arg;
    cora_event ev;
    cora_event_init(&ev);
    cora_task *t;
    cora_spawn_ex(&t, wait_event, &ev, &(cora_spawn_opts){.name = "forgotten"});
    int r = cora_await(t, NULL);
    /* Cancelled by the loop, which found nothing able to wake anyone. */
    const char *m = r == -ECANCELED ? "MARK main cancelled\n" : "MARK main not cancelled\n";
    ssize_t w = write(2, m, strlen(m));
    (void)w;
    return NULL;
}

/* A loop whose tasks all wait with nothing to wake them says so with the dump,
 * unwinds by cancelling main, and cora_run returns -EDEADLK instead of hanging. */
static void all_asleep_reported(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(asleep_main, NULL, true, out, sizeof out), -EDEADLK);
    assert_in_order(out, (const char *const[]){"all tasks are asleep", "Cancelling the main task",
                                               "cora: task dump",
                                               "'main': suspended, waiting for await",
                                               "blocked by task 'forgotten'",
                                               "'forgotten': suspended, waiting for event",
                                               "MARK main cancelled", NULL});
    assert_null(strstr(out, "Still asleep"));
}

static void *put_later(void *arg)
{
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    cora_queue_put_threadsafe(arg, (void *)1);
    return NULL;
}

static void *slow_job(void *arg)
{
    (void)arg;
    nanosleep(&(struct timespec){0, 100000000}, NULL);
    return (void *)7;
}

static void *not_asleep_main(void *arg)
{
    (void)arg;
    /* Waiting for another thread is not being asleep: a threadsafe queue... */
    cora_queue *q;
    if (cora_queue_new(&q, &(cora_queue_opts){.flags = CORA_QUEUE_THREADSAFE}) < 0)
        return cora_fail(-ENOMEM);
    pthread_t th;
    pthread_create(&th, NULL, put_later, q);
    void *item = NULL;
    int r = cora_queue_get(q, &item);
    pthread_join(th, NULL);
    cora_queue_free(q);
    if (r < 0 || item != (void *)1) return cora_fail(-EIO);
    /* ... and a thread-pool job. */
    void *res = NULL;
    if (cora_to_thread(slow_job, NULL, &res) < 0 || res != (void *)7) return cora_fail(-EIO);
    return NULL;
}

/* No false alarm while a task waits for another thread. */
static void waiting_for_threads_not_asleep(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(not_asleep_main, NULL, true, out, sizeof out), 0);
    assert_null(strstr(out, "asleep"));
}

/* ---- SIGUSR1 -------------------------------------------------------------------- */

static void *usr1_main(void *arg)
{
    (void)arg;
    kill(getpid(), SIGUSR1);
    cora_sleep(0.5); /* the watchdog passes the request on within a period */
    return NULL;
}

/* In debug mode SIGUSR1 makes the loop dump its tasks (and does not kill it). */
static void sigusr1_dumps(void **state)
{
    (void)state;
    assert_int_equal(run_in_child(usr1_main, NULL, true, out, sizeof out), 0);
    assert_in_order(out, (const char *const[]){"cora: task dump",
                                               "'main': suspended, waiting for sleep", NULL});
}

/* ---- Accounting ----------------------------------------------------------------- */

static void *echo_once(void *arg)
{
    int fd = *(int *)arg;
    char buf[100];
    ssize_t n = cora_read(fd, buf, sizeof buf);
    if (n > 0) cora_write(fd, buf, (size_t)n);
    return NULL;
}

static void *main_task_stats(void *arg)
{
    (void)arg;
    cora_task_stats ts;
    assert_int_equal(cora_task_stats_get(NULL, &ts), -EINVAL);
    assert_int_equal(cora_task_stats_get(cora_current(), NULL), -EINVAL);
    int fds[2];
    assert_int_equal(cora_socketpair(SOCK_STREAM, fds), 0);
    cora_task *t = cora_spawn(echo_once, &fds[1]);
    cora_stats a, b;
    cora_stats_get(&a);
    char msg[100], back[100];
    memset(msg, 'x', sizeof msg);
    assert_int_equal(cora_write(fds[0], msg, sizeof msg), 100);
    size_t got = 0;
    while (got < sizeof back) {
        ssize_t n = cora_read(fds[0], back + got, sizeof back - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
    /* The echo task moved 100 bytes each way, and is not collected yet. */
    while (!cora_task_done(t)) cora_yield();
    assert_int_equal(cora_task_stats_get(t, &ts), 0);
    assert_int_equal(ts.bytes_read, 100);
    assert_int_equal(ts.bytes_written, 100);
    assert_int_equal(ts.switches, 0); /* kept in debug mode only */
    assert_int_equal(cora_task_stats_get(cora_current(), &ts), 0);
    assert_int_equal(ts.bytes_written, 100);
    assert_int_equal(ts.bytes_read, 100);
    assert_true(ts.stack_size >= CORA_STACK_MIN);
    assert_int_equal(cora_await(t, NULL), 0);
    cora_stats_get(&b);
    assert_true(b.ops_read >= a.ops_read + 2);
    assert_true(b.ops_write >= a.ops_write + 2);
    assert_int_equal(b.ops_accept, a.ops_accept);
    void *res;
    assert_int_equal(cora_to_thread(slow_job, NULL, &res), 0);
    cora_stats_get(&a);
    assert_int_equal(a.jobs, b.jobs + 1);
    close(fds[0]);
    close(fds[1]);
    return NULL;
}

/* Each task's bytes are counted, and the loop's operations by kind. */
static void task_stats(void **state)
{
    (void)state;
    run_ok(main_task_stats, NULL);
}

/* Uses about 64 KiB of stack, then looks at its own accounting. */
static void __attribute__((noinline)) deep_frame(cora_task_stats *ts)
{
    volatile char big[64 * 1024];
    for (size_t i = 0; i < sizeof big; i += 512) big[i] = (char)i;
    assert_int_equal(cora_task_stats_get(cora_current(), ts), 0);
    (void)big[0];
}

static void *run_time_main(void *arg)
{
    (void)arg;
    cora_task_stats deep;
    deep_frame(&deep);
    assert_true(deep.stack_used >= 64 * 1024);
    assert_true(deep.stack_used <= deep.stack_size);
    int64_t end = cora_now_ns() + 20 * 1000000;
    while (cora_now_ns() < end) {
    }
    cora_yield();
    cora_task_stats ts;
    assert_int_equal(cora_task_stats_get(cora_current(), &ts), 0);
    assert_true(ts.run_ns >= 20 * 1000000);
    assert_int_equal(ts.switches, 2); /* its start, and back from the yield */
    return NULL;
}

/* In debug mode a task's run time, switches and stack depth are kept too. */
static void task_run_time_in_debug(void **state)
{
    (void)state;
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 1, .blocking_ns = 1000000000}), 0);
    run_ok(run_time_main, NULL);
    assert_int_equal(cora_debug_set(&(cora_debug_opts){.on = 0}), 0);
}

static void *stats_of_other_loop(void *arg)
{
    cora_task_stats ts;
    /* A task of another loop (the caller's main, on another thread) is refused. */
    assert_int_equal(cora_task_stats_get(arg, &ts), -EPERM);
    return NULL;
}

static void *main_errors(void *arg)
{
    (void)arg;
    assert_int_equal(cora_dump_tasks(NULL), -EINVAL);
    void *res = NULL;
    assert_int_equal(cora_run_in_thread(stats_of_other_loop, cora_current(), &res), 0);
    return NULL;
}

/* Bad arguments and the wrong loop get errors, not a crash. */
static void errors(void **state)
{
    (void)state;
    cora_task_stats ts;
    assert_int_equal(cora_dump_tasks(stderr), -EPERM); /* outside a loop */
    assert_int_equal(cora_task_stats_get(NULL, &ts), -EINVAL);
    run_ok(main_errors, NULL);
}

/* One case a line: tests/CMakeLists.txt registers them by this pattern. */
// clang-format off
static const struct CMUnitTest tests[] = {
    CORA_TEST(dump_names_waits),
    CORA_TEST(dump_without_debug),
    CORA_TEST(await_cycle_reported),
    CORA_TEST(lock_order_reported),
    CORA_TEST(all_asleep_reported),
    CORA_TEST(waiting_for_threads_not_asleep),
    CORA_TEST(sigusr1_dumps),
    CORA_TEST(task_stats),
    CORA_TEST(task_run_time_in_debug),
    CORA_TEST(errors),
};
// clang-format on

CORA_TEST_MAIN("dump", tests)

/* tests/test_combine.c: gather, wait, as_completed, wait_for, timeout scopes,
 * shields and task groups. Runs once per backend (see harness.h). */
#include "harness.h"

#include <poll.h>

/* A task that sleeps `ms` then returns `value`, or fails with `err` when set. It
 * records how its sleep ended. */
struct job {
    int ms;
    intptr_t value;
    int err;
    int slept; /* what cora_sleep returned */
    int ran;
};

static void *job(void *arg)
{
    struct job *j = arg;
    j->ran = 1;
    j->slept = cora_sleep(j->ms / 1000.0);
    if (j->slept < 0) return cora_fail(j->slept);
    if (j->err) return cora_fail(j->err);
    return (void *)j->value;
}

static cora_task *spawn_job(struct job *j)
{
    cora_task *t = cora_spawn(job, j);
    assert_non_null(t);
    return t;
}

/* ---- gather --------------------------------------------------------------------- */

static void *main_gather_order(void *arg)
{
    enum { N = 5 };
    struct job j[N];
    cora_task *t[N];
    for (int i = 0; i < N; i++) {
        j[i] = (struct job){.ms = 2 * (N - i), .value = 100 + i}; /* finish in reverse */
        t[i] = spawn_job(&j[i]);
    }
    cora_outcome out[N];
    assert_int_equal(cora_gather(N, t, out, 0), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal((intptr_t)out[i].result, 100 + i);
    }
    assert_int_equal(cora_gather(0, NULL, NULL, 0), 0);
    return NULL;
}

static void gather_keeps_input_order(void **state)
{
    run_ok(main_gather_order, NULL);
}

static void *main_gather_collect(void *arg)
{
    struct job j[4] = {{.ms = 8, .value = 1},
                       {.ms = 1, .err = -EIO},
                       {.ms = 4, .err = -ENOENT},
                       {.ms = 2, .value = 4}};
    cora_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = spawn_job(&j[i]);
    cora_outcome out[4];
    /* Every task runs to its end; the first error in input order is returned. */
    assert_int_equal(cora_gather(4, t, out, 0), -EIO);
    assert_int_equal(out[0].status, 0);
    assert_int_equal((intptr_t)out[0].result, 1);
    assert_int_equal(out[1].status, -EIO);
    assert_int_equal(out[2].status, -ENOENT);
    assert_int_equal(out[3].status, 0);
    for (int i = 0; i < 4; i++) assert_int_equal(j[i].slept, 0);
    return NULL;
}

static void gather_collects_every_outcome(void **state)
{
    run_ok(main_gather_collect, NULL);
}

static void *main_gather_fail_fast(void *arg)
{
    struct job j[3] = {{.ms = 10000, .value = 1}, {.ms = 1, .err = -EPROTO}, {.ms = 10000}};
    cora_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = spawn_job(&j[i]);
    cora_outcome out[3];
    assert_int_equal(cora_gather(3, t, out, CORA_GATHER_FAIL_FAST), -EPROTO);
    assert_int_equal(out[1].status, -EPROTO);
    assert_int_equal(out[0].status, -ECANCELED); /* siblings were cancelled... */
    assert_int_equal(out[2].status, -ECANCELED);
    assert_int_equal(j[0].slept, -ECANCELED); /* ...while asleep, and awaited */
    return NULL;
}

static void gather_fail_fast_cancels_siblings(void **state)
{
    run_ok(main_gather_fail_fast, NULL);
}

struct gatherer {
    struct job j[2];
    int result;
};

static void *gather_two(void *arg)
{
    struct gatherer *g = arg;
    cora_task *t[2] = {spawn_job(&g->j[0]), spawn_job(&g->j[1])};
    g->result = cora_gather(2, t, NULL, 0);
    return NULL;
}

static void *main_gather_cancelled(void *arg)
{
    struct gatherer g = {.j = {{.ms = 10000}, {.ms = 10000}}, .result = 1};
    cora_task *t = cora_spawn(gather_two, &g);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(g.result, -ECANCELED);
    assert_int_equal(g.j[0].slept, -ECANCELED); /* the children went with it */
    assert_int_equal(g.j[1].slept, -ECANCELED);
    return NULL;
}

static void gather_cancelled_cancels_children(void **state)
{
    run_ok(main_gather_cancelled, NULL);
}

static void *main_gather_args(void *arg)
{
    struct job j = {.ms = 1};
    cora_task *t = spawn_job(&j);
    cora_task *dup[2] = {t, t};
    assert_int_equal(cora_gather(2, dup, NULL, 0), -EINVAL); /* nothing taken */
    cora_task *null[1] = {NULL};
    assert_int_equal(cora_gather(1, null, NULL, 0), -EINVAL);
    assert_int_equal(cora_gather(1, &t, NULL, 0x80), -EINVAL);
    assert_int_equal(cora_gather(1, &t, NULL, 0), 0); /* still ours, and fine */
    return NULL;
}

static void gather_refuses_bad_arguments(void **state)
{
    run_ok(main_gather_args, NULL);
}

/* ---- wait and as_completed ------------------------------------------------------ */

static void *main_wait_modes(void *arg)
{
    /* Far apart, so a slow machine (valgrind, TSan) cannot blur the order. */
    struct job j[3] = {{.ms = 300}, {.ms = 1}, {.ms = 60, .err = -EIO}};
    cora_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = spawn_job(&j[i]);
    unsigned char done[3];
    assert_int_equal(cora_wait(3, t, CORA_FIRST_COMPLETED, -1, done), 1);
    assert_true(done[1] && !done[0] && !done[2]);
    assert_int_equal(cora_wait(3, t, CORA_FIRST_ERROR, -1, done), 2);
    assert_true(done[1] && done[2] && !done[0]);
    /* A timeout that passes is not an error: it reports what is done. */
    assert_int_equal(cora_wait(3, t, CORA_ALL_COMPLETED, 0.001, done), 2);
    assert_int_equal(cora_wait(3, t, CORA_ALL_COMPLETED, -1, done), 3);
    assert_int_equal(cora_wait(3, t, 99, -1, done), -EINVAL);
    /* wait collected nothing: each is awaited now, without suspending. */
    assert_int_equal(cora_await(t[0], NULL), 0);
    assert_int_equal(cora_await(t[1], NULL), 0);
    assert_int_equal(cora_await(t[2], NULL), -EIO);
    return NULL;
}

static void wait_modes(void **state)
{
    run_ok(main_wait_modes, NULL);
}

/* Ends at an absolute time, so the order of ends does not depend on how quickly each
 * task got to start (TSan and valgrind are slow). */
struct timed_value {
    int64_t at;
    intptr_t value;
};

static void *end_at(void *arg)
{
    struct timed_value *tv = arg;
    int r = cora_sleep_until_ns(tv->at);
    return r < 0 ? cora_fail(r) : (void *)tv->value;
}

static void *main_as_completed(void *arg)
{
    int64_t base = cora_now_ns() + 5000000;
    struct timed_value j[4] = {{base + 12000000, 0}, {base + 3000000, 1}, {base + 9000000, 2},
                               {base + 6000000, 3}};
    cora_task *t[4];
    for (int i = 0; i < 4; i++) t[i] = cora_spawn(end_at, &j[i]);
    cora_as_completed it;
    assert_int_equal(cora_as_completed_init(&it, 4, t, -1), 0);
    intptr_t order[4];
    int k = 0, r;
    cora_task *d;
    while ((r = cora_as_completed_next(&it, &d)) > 0) {
        void *v;
        assert_int_equal(cora_await(d, &v), 0);
        order[k++] = (intptr_t)v;
    }
    assert_int_equal(r, 0);
    cora_as_completed_free(&it);
    assert_int_equal(k, 4);
    assert_int_equal(order[0], 1);
    assert_int_equal(order[1], 3);
    assert_int_equal(order[2], 2);
    assert_int_equal(order[3], 0);
    return NULL;
}

static void as_completed_order(void **state)
{
    run_ok(main_as_completed, NULL);
}

static void *main_as_completed_timeout(void *arg)
{
    struct job fast = {.ms = 1}, slow = {.ms = 10000};
    cora_task *t[2] = {spawn_job(&slow), spawn_job(&fast)};
    cora_as_completed it;
    assert_int_equal(cora_as_completed_init(&it, 2, t, 0.02), 0);
    cora_task *d;
    assert_int_equal(cora_as_completed_next(&it, &d), 1);
    assert_ptr_equal(d, t[1]);
    assert_int_equal(cora_as_completed_next(&it, &d), -ETIMEDOUT);
    cora_as_completed_free(&it);
    assert_int_equal(cora_await(t[1], NULL), 0);
    cora_cancel(t[0]);
    assert_int_equal(cora_await(t[0], NULL), -ECANCELED);
    return NULL;
}

static void as_completed_timeout(void **state)
{
    run_ok(main_as_completed_timeout, NULL);
}

/* ---- wait_for ------------------------------------------------------------------- */

static void *main_wait_for(void *arg)
{
    struct job slow = {.ms = 10000}, quick = {.ms = 1, .value = 9};
    cora_task *t = spawn_job(&slow);
    assert_int_equal(cora_wait_for(t, 0.005, NULL), -ETIMEDOUT);
    assert_int_equal(slow.slept, -ECANCELED); /* the awaited task was cancelled */
    void *v = NULL;
    assert_int_equal(cora_wait_for(spawn_job(&quick), 5, &v), 0);
    assert_int_equal((intptr_t)v, 9);
    struct job failing = {.ms = 1, .err = -EBADMSG};
    assert_int_equal(cora_wait_for(spawn_job(&failing), 5, NULL), -EBADMSG);
    return NULL;
}

static void wait_for_times_out(void **state)
{
    run_ok(main_wait_for, NULL);
}

/* A task that finishes its work even when cancelled, and returns a result. */
static int stubborn_shielded;

static void *stubborn(void *arg)
{
    cora_scope shield;
    cora_shield_enter(&shield);
    stubborn_shielded = 1;
    cora_sleep(0.01);
    cora_scope_exit(&shield);
    return (void *)77;
}

static void *main_wait_for_keeps_result(void *arg)
{
    void *v = NULL;
    /* Only once it is inside its shield: a deadline that passes before the task ever
     * ran (a loaded machine) would cancel it before it starts, which is another case. */
    stubborn_shielded = 0;
    cora_task *t = cora_spawn(stubborn, NULL);
    while (!stubborn_shielded) cora_yield();
    assert_int_equal(cora_wait_for(t, 0.001, &v), 0);
    assert_int_equal((intptr_t)v, 77);
    return NULL;
}

static void wait_for_keeps_late_result(void **state)
{
    run_ok(main_wait_for_keeps_result, NULL);
}

/* ---- timeout scopes ------------------------------------------------------------- */

static void *main_nested_inner_first(void *arg)
{
    cora_scope outer, inner;
    assert_int_equal(cora_fail_after(&outer, 10), 0);
    assert_int_equal(cora_fail_after(&inner, 0.002), 0);
    assert_int_equal(cora_sleep(10), -ETIMEDOUT);
    assert_int_equal(cora_yield(), -ETIMEDOUT); /* sticky inside the expired scope */
    assert_int_equal(cora_scope_exit(&inner), -ETIMEDOUT);
    assert_int_equal(cora_yield(), 0); /* the outer scope is fine */
    assert_int_equal(cora_scope_exit(&outer), 0);
    return NULL;
}

static void nested_timeouts_inner_wins(void **state)
{
    run_ok(main_nested_inner_first, NULL);
}

static void *main_nested_outer_first(void *arg)
{
    cora_scope outer, inner;
    assert_int_equal(cora_fail_after(&outer, 0.002), 0);
    assert_int_equal(cora_fail_after(&inner, 10), 0);
    assert_int_equal(cora_sleep(10), -ETIMEDOUT); /* the nearer (outer) deadline */
    assert_int_equal(cora_scope_exit(&inner), 0); /* its own deadline did not pass */
    assert_int_equal(cora_yield(), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&outer), -ETIMEDOUT);
    assert_int_equal(cora_yield(), 0);
    return NULL;
}

static void nested_timeouts_outer_wins(void **state)
{
    run_ok(main_nested_outer_first, NULL);
}

static void *main_move_on(void *arg)
{
    cora_scope s;
    assert_int_equal(cora_move_on_after(&s, 0.002), 0);
    assert_int_equal(cora_sleep(10), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), 0);
    assert_int_equal(cora_scope_cause(&s), -ETIMEDOUT);
    /* Expired from the start: the first suspension point fails at once. */
    assert_int_equal(cora_scope_enter(&s, cora_now_ns() - 1, 0), 0);
    assert_int_equal(cora_yield(), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_int_equal(cora_fail_after(&s, 0.0 / 0.0), -EINVAL);
    assert_int_equal(cora_scope_enter(&s, CORA_NO_DEADLINE, 0x100), -EINVAL);
    return NULL;
}

static void move_on_after(void **state)
{
    run_ok(main_move_on, NULL);
}

static void *main_scope_misuse(void *arg)
{
    cora_scope a, b;
    assert_int_equal(cora_fail_after(&a, 10), 0);
    assert_int_equal(cora_fail_after(&b, 10), 0);
    assert_int_equal(cora_scope_exit(&a), -EINVAL); /* not the innermost */
    assert_int_equal(cora_scope_exit(&b), 0);
    assert_int_equal(cora_scope_exit(&a), 0);
    assert_int_equal(cora_scope_exit(&a), -EINVAL); /* already left */
    return NULL;
}

static void scope_exit_out_of_order(void **state)
{
    run_ok(main_scope_misuse, NULL);
    cora_scope s;
    assert_int_equal(cora_fail_after(&s, 1), -EPERM);
}

struct scoped_reader {
    int fd;
    cora_scope *scope;
    ssize_t got;
};

static void *read_in_scope(void *arg)
{
    struct scoped_reader *r = arg;
    char c;
    cora_scope_enter(r->scope, CORA_NO_DEADLINE, 0);
    r->got = cora_read(r->fd, &c, 1);
    cora_scope_exit(r->scope);
    return (void *)(intptr_t)cora_yield(); /* the task itself is not cancelled */
}

static void *main_scope_cancel(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    cora_scope s;
    struct scoped_reader r = {p[0], &s, 1};
    cora_task *t = cora_spawn(read_in_scope, &r);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_scope_cancel(&s);
    void *v;
    assert_int_equal(cora_await(t, &v), 0);
    assert_int_equal(r.got, -ECANCELED);
    assert_int_equal((intptr_t)v, 0);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void scope_cancel_from_outside(void **state)
{
    run_ok(main_scope_cancel, NULL);
}

static void *main_timeout_io(void *arg)
{
    int p[2];
    assert_int_equal(cora_pipe(p), 0);
    char buf[4];
    cora_scope s;
    cora_fail_after(&s, 0.003);
    assert_int_equal(cora_read(p[0], buf, sizeof buf), -ETIMEDOUT);
    assert_int_equal(cora_wait_fd(p[0], CORA_READABLE), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    /* Nothing was consumed by the timed-out read. */
    assert_int_equal(write(p[1], "ab", 2), 2);
    assert_int_equal(cora_read(p[0], buf, sizeof buf), 2);
    /* Timeouts on the other waits. */
    cora_event ev;
    cora_event_init(&ev);
    cora_fail_after(&s, 0.002);
    assert_int_equal(cora_event_wait(&ev), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    struct job slow = {.ms = 10000};
    cora_task *t = spawn_job(&slow);
    cora_fail_after(&s, 0.002);
    assert_int_equal(cora_await(t, NULL), -ETIMEDOUT); /* t itself goes on */
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_false(cora_task_done(t));
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    close(p[0]);
    close(p[1]);
    return NULL;
}

static void timeouts_on_every_wait(void **state)
{
    run_ok(main_timeout_io, NULL);
}

/* ---- shield --------------------------------------------------------------------- */

struct shielded {
    int in_shield, after_shield, exit;
    cora_event inside;
};

static void *shielded_section(void *arg)
{
    struct shielded *s = arg;
    cora_scope sh;
    cora_shield_enter(&sh);
    cora_event_set(&s->inside);
    s->in_shield = cora_sleep(0.01); /* the cancellation arrives meanwhile */
    s->exit = cora_scope_exit(&sh);
    s->after_shield = cora_yield(); /* ...and is delivered here, not lost */
    return NULL;
}

static void *main_shield(void *arg)
{
    struct shielded s = {.in_shield = 1, .after_shield = 1, .exit = 1};
    cora_event_init(&s.inside);
    cora_task *t = cora_spawn(shielded_section, &s);
    assert_int_equal(cora_event_wait(&s.inside), 0);
    cora_cancel(t); /* t is asleep inside its shield */
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(s.in_shield, 0);
    assert_int_equal(s.exit, 0);
    assert_int_equal(s.after_shield, -ECANCELED);
    return NULL;
}

static void shield_delays_cancellation(void **state)
{
    run_ok(main_shield, NULL);
}

static void *main_shield_outer_timeout(void *arg)
{
    cora_scope t, sh;
    cora_fail_after(&t, 0.001);
    cora_shield_enter(&sh);
    assert_int_equal(cora_sleep(0.005), 0); /* the outer deadline passes meanwhile */
    assert_int_equal(cora_scope_exit(&sh), 0);
    assert_int_equal(cora_yield(), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&t), -ETIMEDOUT);
    return NULL;
}

static void shield_holds_back_outer_timeout(void **state)
{
    run_ok(main_shield_outer_timeout, NULL);
}

/* ---- task groups ---------------------------------------------------------------- */

static void *main_group_ok(void *arg)
{
    cora_group g;
    assert_int_equal(cora_group_init(&g), 0);
    struct job j[3] = {{.ms = 3}, {.ms = 1}, {.ms = 2}};
    for (int i = 0; i < 3; i++) assert_int_equal(cora_group_spawn(&g, job, &j[i], NULL), 0);
    assert_int_equal(cora_group_wait(&g), 0);
    for (int i = 0; i < 3; i++) assert_int_equal(j[i].slept, 0);
    assert_int_equal(cora_group_failures(&g), 0);
    cora_group_destroy(&g);
    return NULL;
}

static void group_waits_for_all(void **state)
{
    run_ok(main_group_ok, NULL);
}

/* Finishes its work under a shield, so the group's cancellation cannot stop it,
 * then fails anyway. */
static void *shielded_then_fail(void *arg)
{
    cora_scope sh;
    cora_shield_enter(&sh);
    cora_sleep(0.005);
    cora_scope_exit(&sh);
    return cora_fail(-ENOSPC);
}

static void *main_group_failure(void *arg)
{
    cora_group g;
    cora_group_init(&g);
    struct job j[3] = {{.ms = 10000}, {.ms = 1, .err = -EIO}, {.ms = 10000}};
    for (int i = 0; i < 3; i++) cora_group_spawn(&g, job, &j[i], NULL);
    cora_group_spawn(&g, shielded_then_fail, NULL, NULL);
    int r = cora_group_wait(&g);
    /* The first failure cancels the rest; the shielded child fails after that and
     * still counts: every failure is reported, in order. */
    assert_int_equal(r, -EIO);
    assert_int_equal(cora_group_failures(&g), 2);
    assert_int_equal(cora_group_failure(&g, 0), -EIO);
    assert_int_equal(cora_group_failure(&g, 1), -ENOSPC);
    assert_int_equal(cora_group_failure(&g, 2), 0);
    assert_int_equal(j[0].slept, -ECANCELED);
    assert_int_equal(j[2].slept, -ECANCELED);
    /* A group that failed starts newcomers cancelled: they never run. */
    struct job late = {.ms = 1};
    assert_int_equal(cora_group_spawn(&g, job, &late, NULL), 0);
    assert_int_equal(cora_group_wait(&g), -EIO);
    assert_int_equal(late.ran, 0);
    cora_group_destroy(&g);
    return NULL;
}

/* A supervising group: failures are counted, siblings run on, codes stay bounded. */
static void *main_group_supervise(void *arg)
{
    cora_group g;
    assert_int_equal(cora_group_init_ex(&g, 0x80), -EINVAL);
    assert_int_equal(cora_group_init_ex(&g, CORA_GROUP_SUPERVISE), 0);
    struct job ok[2] = {{.ms = 20}, {.ms = 20}};
    static struct job bad[100];
    for (int i = 0; i < 100; i++) {
        bad[i] = (struct job){.ms = 1, .err = -EIO};
        cora_group_spawn(&g, job, &bad[i], NULL);
    }
    for (int i = 0; i < 2; i++) cora_group_spawn(&g, job, &ok[i], NULL);
    assert_int_equal(cora_group_wait(&g), -EIO);
    assert_int_equal(ok[0].slept, 0); /* not cancelled by the failures */
    assert_int_equal(ok[1].slept, 0);
    assert_int_equal(cora_group_failures(&g), 100);
    assert_int_equal(cora_group_failure(&g, 63), -EIO);
    assert_int_equal(cora_group_failure(&g, 64), -ENOMEM); /* past the kept codes */
    /* Still open for newcomers after failures. */
    struct job late = {.ms = 1};
    assert_int_equal(cora_group_spawn(&g, job, &late, NULL), 0);
    cora_group_wait(&g);
    assert_int_equal(late.ran, 1);
    cora_group_destroy(&g);
    return NULL;
}

static void group_supervise(void **state)
{
    run_ok(main_group_supervise, NULL);
}

static void group_first_failure_cancels_rest(void **state)
{
    run_ok(main_group_failure, NULL);
}

struct group_owner {
    cora_group g;
    struct job j[2];
    int result;
};

static void *wait_group(void *arg)
{
    struct group_owner *o = arg;
    cora_group_init(&o->g);
    for (int i = 0; i < 2; i++) cora_group_spawn(&o->g, job, &o->j[i], NULL);
    o->result = cora_group_wait(&o->g);
    cora_group_destroy(&o->g);
    return NULL;
}

static void *main_group_cancelled(void *arg)
{
    struct group_owner o = {.j = {{.ms = 10000}, {.ms = 10000}}, .result = 1};
    cora_task *t = cora_spawn(wait_group, &o);
    assert_int_equal(cora_sleep(0.002), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(o.result, -ECANCELED);
    assert_int_equal(o.j[0].slept, -ECANCELED);
    assert_int_equal(o.j[1].slept, -ECANCELED);
    /* Cancelling the group as a whole from outside: children cancelled, no failure. */
    cora_group g;
    cora_group_init(&g);
    struct job k = {.ms = 10000};
    cora_group_spawn(&g, job, &k, NULL);
    assert_int_equal(cora_yield(), 0);
    cora_group_cancel(&g);
    assert_int_equal(cora_group_wait(&g), 0);
    assert_int_equal(cora_group_failures(&g), 0);
    assert_int_equal(k.slept, -ECANCELED);
    cora_group_destroy(&g);
    return NULL;
}

static void group_cancelled_with_waiter(void **state)
{
    run_ok(main_group_cancelled, NULL);
}

struct fanout {
    cora_group *g;
    int depth;
    int *count;
};

static void *fan(void *arg)
{
    struct fanout *f = arg;
    (*f->count)++;
    if (f->depth > 0) {
        static struct fanout kids[64];
        static int next;
        for (int i = 0; i < 2; i++) {
            struct fanout *k = &kids[next++];
            *k = (struct fanout){f->g, f->depth - 1, f->count};
            assert_int_equal(cora_group_spawn(f->g, fan, k, NULL), 0);
        }
    }
    return NULL;
}

static void *main_group_nested_spawn(void *arg)
{
    cora_group g;
    cora_group_init(&g);
    int count = 0;
    struct fanout root = {&g, 4, &count};
    cora_group_spawn(&g, fan, &root, NULL);
    assert_int_equal(cora_group_wait(&g), 0);
    assert_int_equal(count, 31); /* 1 + 2 + 4 + 8 + 16: children spawned by children */
    cora_group_destroy(&g);
    return NULL;
}

static void group_children_spawn_children(void **state)
{
    run_ok(main_group_nested_spawn, NULL);
}

static void *main_group_timeout(void *arg)
{
    cora_group g;
    cora_group_init(&g);
    struct job j = {.ms = 10000};
    cora_group_spawn(&g, job, &j, NULL);
    while (!j.ran) cora_yield(); /* asleep before the deadline, however loaded the machine */
    cora_scope s;
    cora_fail_after(&s, 0.002);
    assert_int_equal(cora_group_wait(&g), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_int_equal(j.slept, -ECANCELED);
    cora_group_destroy(&g);
    return NULL;
}

static void group_wait_with_timeout(void **state)
{
    run_ok(main_group_timeout, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(gather_keeps_input_order),
    CORA_TEST(gather_collects_every_outcome),
    CORA_TEST(gather_fail_fast_cancels_siblings),
    CORA_TEST(gather_cancelled_cancels_children),
    CORA_TEST(gather_refuses_bad_arguments),
    CORA_TEST(wait_modes),
    CORA_TEST(as_completed_order),
    CORA_TEST(as_completed_timeout),
    CORA_TEST(wait_for_times_out),
    CORA_TEST(wait_for_keeps_late_result),
    CORA_TEST(nested_timeouts_inner_wins),
    CORA_TEST(nested_timeouts_outer_wins),
    CORA_TEST(move_on_after),
    CORA_TEST(scope_exit_out_of_order),
    CORA_TEST(scope_cancel_from_outside),
    CORA_TEST(timeouts_on_every_wait),
    CORA_TEST(shield_delays_cancellation),
    CORA_TEST(shield_holds_back_outer_timeout),
    CORA_TEST(group_waits_for_all),
    CORA_TEST(group_first_failure_cancels_rest),
    CORA_TEST(group_supervise),
    CORA_TEST(group_cancelled_with_waiter),
    CORA_TEST(group_children_spawn_children),
    CORA_TEST(group_wait_with_timeout),
};

CORA_TEST_MAIN("combine", tests)

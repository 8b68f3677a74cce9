/* examples/mistakes.c: the seed's common mistakes of async code, made on purpose, and
 * their fixes; docs/mistakes.md shows what debug mode prints for each.
 *
 *     CORA_DEBUG=1 mistakes forgot|sleep|nested|deadlock [--fixed]
 *
 *   forgot    a task spawned and never awaited (Python: calling a coroutine
 *             function without `await`): its result is lost.
 *   sleep     sleep() inside a task (Python: time.sleep() in a coroutine): the whole
 *             loop stops.
 *   nested    cora_run() inside a task (Python: asyncio.run() in async code).
 *   deadlock  two tasks taking two locks in opposite orders.
 *
 * With --fixed each runs the right way and debug mode has nothing to say. Built with
 * -rdynamic (ENABLE_EXPORTS) so that the reports can name these functions.
 */
#include <cora.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int fixed;

/* Not static: dladdr can then name them in debug mode's reports. */
void *fetch_answer(void *arg);
void *blocking_greeter(void *arg);
void *nested_caller(void *arg);
void *lock_a_then_b(void *arg);
void *lock_b_then_a(void *arg);
int forgot(void);
int blocking(void);
int nested(void);
int deadlock(void);

/* ---- Forgetting to await -------------------------------------------------------- */

void *fetch_answer(void *arg)
{
    (void)arg;
    cora_sleep(0.01); /* a slow operation */
    static int answer = 42;
    return &answer;
}

int forgot(void)
{
    cora_task *t;
    int err = cora_spawn_ex(&t, fetch_answer, NULL, &(cora_spawn_opts){.name = "fetch"});
    if (err < 0) return err;
    if (!fixed) {
        /* The mistake: the task runs, but nobody collects its result. */
        printf("spawned fetch_answer, never awaited it\n");
        return 0;
    }
    void *result = NULL;
    err = cora_await(t, &result); /* the fix: await it */
    if (err < 0) return err;
    printf("the answer is %d\n", *(int *)result);
    return 0;
}

/* ---- Blocking the loop ---------------------------------------------------------- */

static void *ticker(void *arg)
{
    int *ticks = arg;
    for (;;) {
        if (cora_sleep(0.05) < 0) return NULL;
        (*ticks)++;
    }
}

void *blocking_greeter(void *arg)
{
    (void)arg;
    if (fixed) {
        cora_sleep(0.5); /* the fix: only this task waits */
    } else {
        /* The mistake: every task of the loop waits. (Resumed after EINTR: debug
         * mode's report interrupts it with a signal.) */
        struct timespec left = {0, 500 * 1000 * 1000};
        while (nanosleep(&left, &left) < 0 && errno == EINTR) {
        }
    }
    printf("Hello after 0.5 s\n");
    return NULL;
}

int blocking(void)
{
    int ticks = 0;
    cora_task *tick = cora_spawn(ticker, &ticks), *greet;
    if (!tick) return -ENOMEM;
    if (cora_spawn_ex(&greet, blocking_greeter, NULL, &(cora_spawn_opts){.name = "greeter"}) < 0) {
        cora_cancel(tick);
        cora_await(tick, NULL);
        return -ENOMEM;
    }
    int err = cora_await(greet, NULL);
    cora_cancel(tick);
    cora_await(tick, NULL);
    /* Blocked, the ticker could not tick while the greeter slept. */
    printf("the ticker ticked %d times meanwhile (about 10 when nothing blocks)\n", ticks);
    return err;
}

/* ---- A loop inside a loop ------------------------------------------------------- */

static void *other_work(void *arg)
{
    (void)arg;
    cora_sleep(0.01);
    static int done = 7;
    return &done;
}

void *nested_caller(void *arg)
{
    (void)arg;
    void *result = NULL;
    int err;
    if (!fixed) {
        err = cora_run(other_work, NULL, &result); /* the mistake: -EBUSY */
        printf("cora_run inside a task: %s\n", cora_err_name(err));
        return NULL;
    }
    /* The fix: await it directly. Or, when it must have a loop of its own,
     * cora_run_in_thread(other_work, NULL, &result). */
    cora_task *t = cora_spawn(other_work, NULL);
    if (!t) return cora_fail(-ENOMEM);
    err = cora_await(t, &result);
    if (err < 0) return cora_fail(err);
    printf("other_work gave %d\n", *(int *)result);
    return NULL;
}

int nested(void)
{
    cora_task *t;
    int err = cora_spawn_ex(&t, nested_caller, NULL, &(cora_spawn_opts){.name = "nester"});
    return err < 0 ? err : cora_await(t, NULL);
}

/* ---- Locks taken in opposite orders --------------------------------------------- */

static cora_lock lock_a, lock_b;

static void *take_two(cora_lock *first, cora_lock *second)
{
    cora_scope deadline;
    cora_fail_after(&deadline, 0.5); /* a deadline turns a hang into an error */
    int err = cora_lock_acquire(first);
    if (err == 0) {
        cora_sleep(0.01); /* lets the other task take its first lock */
        err = cora_lock_acquire(second);
        if (err == 0) cora_lock_release(second);
        cora_lock_release(first);
    }
    cora_scope_exit(&deadline);
    return err < 0 ? cora_fail(err) : NULL;
}

void *lock_a_then_b(void *arg)
{
    (void)arg;
    return take_two(&lock_a, &lock_b);
}

void *lock_b_then_a(void *arg)
{
    (void)arg;
    /* The fix: the same order everywhere. */
    return fixed ? take_two(&lock_a, &lock_b) : take_two(&lock_b, &lock_a);
}

int deadlock(void)
{
    cora_lock_init(&lock_a);
    cora_lock_init(&lock_b);
    cora_task *t[2];
    int err = cora_spawn_ex(&t[0], lock_a_then_b, NULL, &(cora_spawn_opts){.name = "a-then-b"});
    if (err < 0) return err;
    err = cora_spawn_ex(&t[1], lock_b_then_a, NULL, &(cora_spawn_opts){.name = "b-then-a"});
    if (err < 0) {
        cora_cancel(t[0]);
        cora_await(t[0], NULL);
        return err;
    }
    cora_outcome out[2];
    cora_gather(2, t, out, 0);
    printf("a-then-b: %s, b-then-a: %s\n", out[0].status ? cora_err_name(out[0].status) : "done",
           out[1].status ? cora_err_name(out[1].status) : "done");
    return 0;
}

/* ---- main ----------------------------------------------------------------------- */

static void *amain(void *arg)
{
    const char *which = arg;
    int err;
    if (strcmp(which, "forgot") == 0)
        err = forgot();
    else if (strcmp(which, "sleep") == 0)
        err = blocking();
    else if (strcmp(which, "nested") == 0)
        err = nested();
    else
        err = deadlock();
    fflush(stdout);
    return err < 0 ? cora_fail(err) : NULL;
}

int main(int argc, char **argv)
{
    static const char *const names[] = {"forgot", "sleep", "nested", "deadlock"};
    const char *which = argc > 1 ? argv[1] : "";
    int known = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) known |= !strcmp(which, names[i]);
    fixed = argc > 2 && strcmp(argv[2], "--fixed") == 0;
    if (!known || (argc > 2 && !fixed) || argc > 3) {
        fprintf(stderr, "usage: CORA_DEBUG=1 %s forgot|sleep|nested|deadlock [--fixed]\n", argv[0]);
        return 2;
    }
    int err = cora_run(amain, (void *)which, NULL);
    if (err < 0) {
        fprintf(stderr, "mistakes: %s\n", cora_strerror(err));
        return 1;
    }
    return 0;
}

/* tests/test_pool.c: the thread pool (cora_to_thread): results, the loop running on
 * meanwhile, parallelism, cancellation of queued and running jobs, timeouts.
 * Runs once per backend, and under ThreadSanitizer (scripts/test.sh). */
#include "harness.h"

#include <pthread.h>
#include <stdatomic.h>

static void *square_slowly(void *arg)
{
    usleep(20000); /* a blocking call: fine on a worker thread */
    intptr_t v = (intptr_t)arg;
    return (void *)(v * v);
}

static void *ticker(void *arg)
{
    atomic_int *ticks = arg;
    while (cora_sleep(0.001) == 0) atomic_fetch_add(ticks, 1);
    return NULL;
}

static void *main_basic(void *arg)
{
    atomic_int ticks = 0;
    cora_task *t = cora_spawn(ticker, &ticks);
    void *r = NULL;
    assert_int_equal(cora_to_thread(square_slowly, (void *)12, &r), 0);
    assert_int_equal((intptr_t)r, 144);
    /* The loop ran the ticker while the job blocked its own thread. */
    assert_true(atomic_load(&ticks) > 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(cora_to_thread(NULL, NULL, NULL), -EINVAL);
    return NULL;
}

static void result_and_loop_keeps_running(void **state)
{
    run_ok(main_basic, NULL);
    assert_int_equal(cora_to_thread(square_slowly, NULL, NULL), -EPERM);
    assert_int_equal(cora_to_thread_max(4), -EPERM);
}

static atomic_int running_now, running_max;

static void *overlap(void *arg)
{
    int n = atomic_fetch_add(&running_now, 1) + 1;
    int m = atomic_load(&running_max);
    while (n > m && !atomic_compare_exchange_weak(&running_max, &m, n)) {
    }
    usleep(30000);
    atomic_fetch_sub(&running_now, 1);
    return arg;
}

static void *offload(void *arg)
{
    void *r;
    int e = cora_to_thread(overlap, arg, &r);
    return e < 0 ? cora_fail(e) : r;
}

static void *main_parallel(void *arg)
{
    assert_int_equal(cora_to_thread_max(0), -EINVAL);
    assert_int_equal(cora_to_thread_max(4), 0);
    cora_task *t[4];
    for (intptr_t i = 0; i < 4; i++) t[i] = cora_spawn(offload, (void *)i);
    cora_outcome out[4];
    assert_int_equal(cora_gather(4, t, out, 0), 0);
    for (intptr_t i = 0; i < 4; i++) assert_int_equal((intptr_t)out[i].result, i);
    assert_true(atomic_load(&running_max) >= 2); /* jobs really ran side by side */
    return NULL;
}

static void jobs_run_in_parallel(void **state)
{
    run_ok(main_parallel, NULL);
}

/* ---- cancellation --------------------------------------------------------------- */

static atomic_int started_b, freed, polled_out;

static void *wait_for_cancel(void *arg)
{
    /* A long job that polls its cancel flag. */
    for (int i = 0; i < 5000 && !cora_thread_cancelled(); i++) usleep(1000);
    if (cora_thread_cancelled()) atomic_store(&polled_out, 1);
    int *result = malloc(sizeof *result); /* owned memory: must not leak */
    *result = 1;
    return result;
}

static void *mark_started(void *arg)
{
    atomic_store(&started_b, 1);
    return NULL;
}

static void free_counted(void *arg, void *result)
{
    (void)arg;
    free(result);
    atomic_fetch_add(&freed, 1);
}

static atomic_int abandoned_unstarted;

static void note_unstarted(void *arg, void *result)
{
    if (!result) atomic_fetch_add(&abandoned_unstarted, 1);
}

static void *run_long(void *arg)
{
    void *r;
    int e = cora_to_thread_ex(wait_for_cancel, NULL, free_counted, &r);
    if (e == 0) free(r);
    return e < 0 ? cora_fail(e) : NULL;
}

static void *run_b(void *arg)
{
    int e = cora_to_thread_ex(mark_started, NULL, note_unstarted, NULL);
    return e < 0 ? cora_fail(e) : NULL;
}

static void *main_cancel(void *arg)
{
    assert_int_equal(cora_to_thread_max(1), 0); /* one thread: b must queue */
    cora_task *a = cora_spawn(run_long, NULL);
    assert_int_equal(cora_sleep(0.005), 0); /* a's job is running */
    cora_task *b = cora_spawn(run_b, NULL);
    assert_int_equal(cora_sleep(0.002), 0); /* b's job is queued behind it */
    cora_cancel(b);
    assert_int_equal(cora_await(b, NULL), -ECANCELED);
    /* The running job: the task stops waiting at once... */
    cora_cancel(a);
    assert_int_equal(cora_await(a, NULL), -ECANCELED);
    return NULL;
}

static void cancel_queued_and_running(void **state)
{
    run_ok(main_cancel, NULL);
    /* ...the job saw its flag, and its result was released (the loop's close waits
     * for the thread). The queued job never ran. */
    assert_int_equal(atomic_load(&polled_out), 1);
    assert_int_equal(atomic_load(&freed), 1);
    assert_int_equal(atomic_load(&started_b), 0);
    assert_int_equal(atomic_load(&abandoned_unstarted), 1); /* handed back at once */
}

static void *main_timeout(void *arg)
{
    cora_scope s;
    cora_fail_after(&s, 0.005);
    void *r = NULL;
    assert_int_equal(cora_to_thread_ex(wait_for_cancel, NULL, free_counted, &r), -ETIMEDOUT);
    assert_int_equal(cora_scope_exit(&s), -ETIMEDOUT);
    assert_null(r);
    return NULL;
}

static void timeout_abandons_job(void **state)
{
    atomic_store(&freed, 0);
    run_ok(main_timeout, NULL);
    assert_int_equal(atomic_load(&freed), 1);
}

static void *main_many(void *arg)
{
    enum { N = 200 };
    cora_task *t[N];
    for (intptr_t i = 0; i < N; i++) t[i] = cora_spawn(offload, (void *)i);
    cora_outcome out[N];
    assert_int_equal(cora_gather(N, t, out, 0), 0);
    for (intptr_t i = 0; i < N; i++) assert_int_equal((intptr_t)out[i].result, i);
    return NULL;
}

static void many_jobs_through_bounded_pool(void **state)
{
    setenv("CORA_THREADS", "3", 1);
    atomic_store(&running_max, 0);
    run_ok(main_many, NULL);
    unsetenv("CORA_THREADS");
    assert_true(atomic_load(&running_max) <= 3); /* the bound held */
}

/* Out of memory on the worker's side of the hand-back: a finished job still reaches
 * its task. The job itself makes the next allocation of its worker thread fail
 * (cora__fail_alloc_at is per thread), which is the first one the worker would make
 * after fn returns. */
static void *fail_next_alloc_here(void *arg)
{
    cora__fail_alloc_at = 1;
    return arg;
}

/* Clears what fail_next_alloc_here left if nothing on this thread allocated since,
 * and returns it. */
static void *take_fail_alloc(void *arg)
{
    (void)arg;
    long left = cora__fail_alloc_at;
    cora__fail_alloc_at = 0;
    return (void *)(intptr_t)left;
}

typedef struct {
    int status;
    void *result;
    atomic_int done;
} handback;

static void *collect_job(void *arg)
{
    handback *h = arg;
    h->status = cora_to_thread(fail_next_alloc_here, (void *)77, &h->result);
    atomic_store(&h->done, 1);
    return NULL;
}

static void *main_handback_nomem(void *arg)
{
    assert_int_equal(cora_to_thread_max(1), 0); /* one worker: both jobs run on it */
    handback h = {.status = 1};
    cora_task *t = cora_spawn(collect_job, &h);
    assert_non_null(t);
    /* A bound rather than a plain await: a lost wake-up would otherwise hang the case
     * until CTest's timeout. */
    for (int i = 0; i < 5000 && !atomic_load(&h.done); i++)
        assert_int_equal(cora_sleep(0.001), 0);
    assert_int_equal(atomic_load(&h.done), 1);
    assert_int_equal(cora_await(t, NULL), 0);
    assert_int_equal(h.status, 0);
    assert_ptr_equal(h.result, (void *)77);
    /* The worker's armed failure is still there: handing a job back allocates
     * nothing, so it cannot fail. */
    void *left = NULL;
    assert_int_equal(cora_to_thread(take_fail_alloc, NULL, &left), 0);
    assert_int_equal((intptr_t)left, 1);
    return NULL;
}

static void handback_survives_out_of_memory(void **state)
{
    run_ok(main_handback_nomem, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(result_and_loop_keeps_running),
    CORA_TEST(jobs_run_in_parallel),
    CORA_TEST(cancel_queued_and_running),
    CORA_TEST(timeout_abandons_job),
    CORA_TEST(many_jobs_through_bounded_pool),
    CORA_TEST(handback_survives_out_of_memory),
};

CORA_TEST_MAIN("pool", tests)

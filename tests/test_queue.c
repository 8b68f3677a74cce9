/* tests/test_queue.c: FIFO, LIFO and priority queues, bounded and not; task_done
 * and join; shutdown; cancellation; plain threads on a thread-safe queue, also when
 * their hand-over to the loop runs out of memory.
 * Runs once per backend (see harness.h). */
#include "harness.h"

#include <pthread.h>

#define P(i) ((void *)(intptr_t)(i))
#define I(p) ((int)(intptr_t)(p))

static int cmp_int(const void *a, const void *b)
{
    return I(a) - I(b);
}

static cora_queue *new_queue(size_t maxsize, int kind)
{
    cora_queue *q;
    cora_queue_opts o = {.maxsize = maxsize, .kind = kind,
                         .cmp = kind == CORA_QUEUE_PRIORITY ? cmp_int : NULL};
    assert_int_equal(cora_queue_new(&q, &o), 0);
    return q;
}

static void *main_orders(void *arg)
{
    static const int in[] = {5, 1, 4, 2, 3};
    static const char *want[] = {"51423", "32415", "12345"};
    const int kinds[] = {CORA_QUEUE_FIFO, CORA_QUEUE_LIFO, CORA_QUEUE_PRIORITY};
    for (int k = 0; k < 3; k++) {
        cora_queue *q = new_queue(0, kinds[k]);
        for (int i = 0; i < 5; i++) assert_int_equal(cora_queue_tryput(q, P(in[i])), 0);
        assert_int_equal(cora_queue_size(q), 5);
        char got[6] = {0};
        void *v;
        for (int i = 0; i < 5; i++) {
            assert_int_equal(cora_queue_tryget(q, &v), 0);
            got[i] = (char)('0' + I(v));
        }
        assert_string_equal(got, want[k]);
        assert_int_equal(cora_queue_tryget(q, &v), -EAGAIN);
        for (int i = 0; i < 5; i++) assert_int_equal(cora_queue_task_done(q), 0);
        assert_int_equal(cora_queue_task_done(q), -EINVAL); /* more than were put */
        assert_int_equal(cora_queue_free(q), 0);
    }
    /* Many items through a growing priority heap. */
    cora_queue *q = new_queue(0, CORA_QUEUE_PRIORITY);
    srand(7);
    for (int i = 0; i < 5000; i++) assert_int_equal(cora_queue_put(q, P(rand() % 100000)), 0);
    int last = -1;
    void *v;
    while (cora_queue_tryget(q, &v) == 0) {
        assert_true(I(v) >= last);
        last = I(v);
    }
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void queue_orders(void **state)
{
    run_ok(main_orders, NULL);
}

static void *main_bad_opts(void *arg)
{
    cora_queue *q;
    assert_int_equal(cora_queue_new(&q, &(cora_queue_opts){.kind = 7}), -EINVAL);
    assert_int_equal(cora_queue_new(&q, &(cora_queue_opts){.kind = CORA_QUEUE_PRIORITY}), -EINVAL);
    assert_int_equal(cora_queue_new(&q, &(cora_queue_opts){.cmp = cmp_int}), -EINVAL);
    assert_int_equal(cora_queue_new(&q, &(cora_queue_opts){.flags = 0x80}), -EINVAL);
    assert_int_equal(cora_queue_new(&q, NULL), 0);
    void *v;
    assert_int_equal(cora_queue_put(q, P(1)), 0);
    assert_int_equal(cora_queue_free(q), -EBUSY); /* an item is still queued */
    assert_int_equal(cora_queue_get(q, &v), 0);
    assert_int_equal(cora_queue_put_threadsafe(q, P(1)), -EINVAL); /* not thread-safe */
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void queue_bad_options(void **state)
{
    cora_queue *q;
    assert_int_equal(cora_queue_new(&q, NULL), -EPERM); /* outside a loop */
    run_ok(main_bad_opts, NULL);
}

/* ---- bounded: back-pressure ----------------------------------------------------- */

struct producer {
    cora_queue *q;
    int from, n;
    int result;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->n; i++) {
        int r = cora_queue_put(p->q, P(p->from + i));
        if (r < 0) {
            p->result = r;
            return NULL;
        }
    }
    return NULL;
}

static void *main_bounded(void *arg)
{
    cora_queue *q = new_queue(3, CORA_QUEUE_FIFO);
    struct producer a = {q, 0, 100, 0}, b = {q, 1000, 100, 0};
    cora_task *ta = cora_spawn(produce, &a), *tb = cora_spawn(produce, &b);
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_queue_size(q), 3); /* full; both producers wait */
    assert_int_equal(cora_queue_tryput(q, P(-1)), -EAGAIN);
    int next_a = 0, next_b = 1000;
    for (int i = 0; i < 200; i++) {
        void *v;
        assert_int_equal(cora_queue_get(q, &v), 0);
        assert_true(cora_queue_size(q) <= 3);
        /* Each producer's items arrive in its own order. */
        if (I(v) >= 1000)
            assert_int_equal(I(v), next_b++);
        else
            assert_int_equal(I(v), next_a++);
        cora_queue_task_done(q);
    }
    assert_int_equal(cora_await(ta, NULL), 0);
    assert_int_equal(cora_await(tb, NULL), 0);
    assert_int_equal(cora_queue_join(q), 0);
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void bounded_queue_backpressure(void **state)
{
    run_ok(main_bounded, NULL);
}

struct worker {
    cora_queue *q;
    int processed;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    void *v;
    while (cora_queue_get(w->q, &v) == 0) {
        cora_sleep(0.0001 * (I(v) % 3));
        w->processed++;
        cora_queue_task_done(w->q);
    }
    return NULL;
}

static void *main_join(void *arg)
{
    cora_queue *q = new_queue(0, CORA_QUEUE_FIFO);
    struct worker w[3] = {{q, 0}, {q, 0}, {q, 0}};
    cora_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = cora_spawn(work, &w[i]);
    for (int i = 0; i < 60; i++) assert_int_equal(cora_queue_put(q, P(i)), 0);
    assert_int_equal(cora_queue_join(q), 0); /* every item processed */
    assert_int_equal(w[0].processed + w[1].processed + w[2].processed, 60);
    assert_int_equal(cora_queue_shutdown(q), 0); /* the workers' gets fail: they end */
    assert_int_equal(cora_gather(3, t, NULL, 0), 0);
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void task_done_and_join(void **state)
{
    run_ok(main_join, NULL);
}

/* ---- shutdown ------------------------------------------------------------------- */

static void *get_one(void *arg)
{
    void *v;
    int r = cora_queue_get(arg, &v);
    return r < 0 ? cora_fail(r) : v;
}

static void *put_one(void *arg)
{
    int r = cora_queue_put(arg, P(42));
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_shutdown(void *arg)
{
    /* Getters waiting on an empty queue: all woken with -ESHUTDOWN. */
    cora_queue *q = new_queue(2, CORA_QUEUE_FIFO);
    cora_task *g[3];
    for (int i = 0; i < 3; i++) g[i] = cora_spawn(get_one, q);
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_queue_shutdown(q), 0);
    cora_outcome out[3];
    assert_int_equal(cora_gather(3, g, out, 0), -ESHUTDOWN);
    for (int i = 0; i < 3; i++) assert_int_equal(out[i].status, -ESHUTDOWN);
    assert_int_equal(cora_queue_put(q, P(1)), -ESHUTDOWN);
    assert_true(cora_queue_is_shutdown(q));
    assert_int_equal(cora_queue_free(q), 0);

    /* Putters waiting on a full queue: woken with -ESHUTDOWN, their items not queued;
     * what was queued is still there for getters, then gets fail. */
    q = new_queue(2, CORA_QUEUE_FIFO);
    assert_int_equal(cora_queue_put(q, P(1)), 0);
    assert_int_equal(cora_queue_put(q, P(2)), 0);
    cora_task *p[2] = {cora_spawn(put_one, q), cora_spawn(put_one, q)};
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_queue_shutdown(q), 0);
    assert_int_equal(cora_gather(2, p, out, 0), -ESHUTDOWN);
    void *v;
    assert_int_equal(cora_queue_get(q, &v), 0);
    assert_int_equal(I(v), 1);
    assert_int_equal(cora_queue_get(q, &v), 0);
    assert_int_equal(I(v), 2);
    assert_int_equal(cora_queue_get(q, &v), -ESHUTDOWN);
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void shutdown_wakes_every_waiter(void **state)
{
    run_ok(main_shutdown, NULL);
}

static void count_drop(void *item, void *ctx)
{
    *(int *)ctx += I(item);
}

static void *join_it(void *arg)
{
    int r = cora_queue_join(arg);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_shutdown_now(void *arg)
{
    cora_queue *q = new_queue(0, CORA_QUEUE_FIFO);
    for (int i = 1; i <= 4; i++) cora_queue_put(q, P(i));
    cora_task *j = cora_spawn(join_it, q);
    assert_int_equal(cora_yield(), 0);
    int sum = 0;
    assert_int_equal(cora_queue_shutdown_now(q, count_drop, &sum), 4);
    assert_int_equal(sum, 10); /* every dropped item was handed to the program */
    assert_int_equal(cora_await(j, NULL), 0); /* they count as done */
    void *v;
    assert_int_equal(cora_queue_get(q, &v), -ESHUTDOWN);
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void shutdown_now_hands_back_items(void **state)
{
    run_ok(main_shutdown_now, NULL);
}

/* ---- cancellation and timeouts -------------------------------------------------- */

static void *main_cancel(void *arg)
{
    cora_queue *q = new_queue(1, CORA_QUEUE_FIFO);
    cora_task *a = cora_spawn(get_one, q), *b = cora_spawn(get_one, q);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(a);
    assert_int_equal(cora_await(a, NULL), -ECANCELED);
    assert_int_equal(cora_queue_put(q, P(7)), 0); /* goes to b, not to the cancelled a */
    void *v;
    assert_int_equal(cora_await(b, &v), 0);
    assert_int_equal(I(v), 7);
    /* A cancelled putter's item is not queued. */
    assert_int_equal(cora_queue_put(q, P(1)), 0);
    cora_task *p = cora_spawn(put_one, q);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(p);
    assert_int_equal(cora_await(p, NULL), -ECANCELED);
    assert_int_equal(cora_queue_size(q), 1);
    assert_int_equal(cora_queue_get(q, &v), 0);
    assert_int_equal(I(v), 1);
    /* Timeouts. */
    assert_int_equal(cora_queue_get_timeout(q, &v, 0.002), -ETIMEDOUT);
    assert_int_equal(cora_queue_put(q, P(3)), 0);
    assert_int_equal(cora_queue_put_timeout(q, P(4), 0.002), -ETIMEDOUT);
    assert_int_equal(cora_queue_get_timeout(q, &v, 1), 0);
    assert_int_equal(I(v), 3);
    assert_int_equal(cora_queue_free(q), 0);
    return NULL;
}

static void cancelled_waiters_take_nothing(void **state)
{
    run_ok(main_cancel, NULL);
}

/* ---- plain threads -------------------------------------------------------------- */

enum { XN = 20000 };

static void *thread_producer(void *arg)
{
    cora_queue *q = arg;
    for (int i = 0; i < XN; i++)
        if (cora_queue_put_threadsafe(q, P(i)) != 0) return P(1);
    return NULL;
}

static void *thread_consumer(void *arg)
{
    cora_queue *q = arg;
    long sum = 0;
    void *v;
    for (int i = 0; i < XN; i++) {
        if (cora_queue_get_threadsafe(q, &v) != 0) return P(-1);
        if (I(v) != i) return P(-2); /* the task's order is kept */
        sum += I(v);
        cora_queue_task_done(q);
    }
    return (void *)sum;
}

static void *main_threads(void *arg)
{
    cora_queue *q;
    cora_queue_opts o = {.maxsize = 16, .flags = CORA_QUEUE_THREADSAFE};
    assert_int_equal(cora_queue_new(&q, &o), 0);
    assert_int_equal(cora_queue_put_threadsafe(q, P(1)), -EDEADLK); /* not from the loop */
    /* A thread feeds tasks: it blocks when the queue is full, the task suspends when
     * it is empty. */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_producer, q), 0);
    for (int i = 0; i < XN; i++) {
        void *v;
        assert_int_equal(cora_queue_get(q, &v), 0);
        assert_int_equal(I(v), i);
        cora_queue_task_done(q);
    }
    void *r;
    pthread_join(th, &r);
    assert_null(r);
    /* And the other way: tasks feed a thread, which marks items done. */
    assert_int_equal(pthread_create(&th, NULL, thread_consumer, q), 0);
    for (int i = 0; i < XN; i++) assert_int_equal(cora_queue_put(q, P(i)), 0);
    assert_int_equal(cora_queue_join(q), 0);
    pthread_join(th, &r);
    assert_int_equal((long)r, (long)XN * (XN - 1) / 2);
    /* A thread blocked on an empty queue is released by shutdown. */
    assert_int_equal(pthread_create(&th, NULL, thread_consumer, q), 0);
    assert_int_equal(cora_sleep(0.005), 0);
    cora_queue_shutdown(q);
    pthread_join(th, &r);
    assert_int_equal((intptr_t)r, -1);
    while (cora_queue_free(q) == -EBUSY) cora_yield(); /* a hand-over may be in flight */
    return NULL;
}

static void threads_feed_tasks(void **state)
{
    run_ok(main_threads, NULL);
}

/* ---- out of memory on a thread's side ------------------------------------------
 *
 * A thread that changes a thread-safe queue tells the loop with a call it must
 * allocate. If that allocation fails, the thread's call must fail with the queue
 * untouched: changing the queue and then not telling the loop leaves the waiting task
 * parked with nothing to wake it. In each case a task waits first, then a thread makes
 * its own next allocation fail (cora__fail_alloc_at is per thread) and makes the
 * change, retrying once if told -ENOMEM. The task must be woken, with nothing lost or
 * duplicated. The buffer already has room, so the change itself allocates nothing. */

typedef struct {
    cora_queue *q;
    int woken;         /* the waiting task's call returned */
    int status;        /* with this */
    void *item;        /* and this item (get) */
    int first, retry;  /* the thread's call with its next allocation failing; the retry */
    long left;         /* cora__fail_alloc_at after the first call: 0 once it fired */
    void *thread_item; /* what the thread's get took */
} oom_case;

static void *oom_getter(void *arg)
{
    oom_case *c = arg;
    c->status = cora_queue_get(c->q, &c->item);
    c->woken = 1;
    return NULL;
}

static void *oom_putter(void *arg)
{
    oom_case *c = arg;
    c->status = cora_queue_put(c->q, P(8));
    c->woken = 1;
    return NULL;
}

static void *oom_joiner(void *arg)
{
    oom_case *c = arg;
    c->status = cora_queue_join(c->q);
    c->woken = 1;
    return NULL;
}

static int oom_put(oom_case *c)
{
    return cora_queue_put_threadsafe(c->q, P(7));
}

static int oom_get(oom_case *c)
{
    return cora_queue_get_threadsafe(c->q, &c->thread_item);
}

static int oom_task_done(oom_case *c)
{
    return cora_queue_task_done(c->q);
}

typedef struct {
    oom_case *c;
    int (*call)(oom_case *c);
} oom_thread_arg;

static void *oom_thread(void *arg)
{
    oom_thread_arg *a = arg;
    oom_case *c = a->c;
    cora__fail_alloc_at = 1;
    c->first = a->call(c);
    c->left = cora__fail_alloc_at;
    cora__fail_alloc_at = 0;
    c->retry = c->first == -ENOMEM ? a->call(c) : 1;
    return NULL;
}

/* Parks waiter(c) on c->q, has a thread run call(c) as above (it never blocks, so the
 * loop thread may join it), and waits for the task with a bound: a lost wake-up fails
 * the case in seconds instead of hanging it until CTest's timeout. */
static void run_oom_case(oom_case *c, void *(*waiter)(void *), int (*call)(oom_case *c))
{
    cora_task *t = cora_spawn(waiter, c);
    assert_non_null(t);
    assert_int_equal(cora_yield(), 0); /* the task runs and parks */
    assert_int_equal(c->woken, 0);
    oom_thread_arg a = {c, call};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, oom_thread, &a), 0);
    pthread_join(th, NULL);
    assert_int_equal(c->left, 0); /* the armed failure did fire in the thread's call */
    if (c->first == -ENOMEM)
        assert_int_equal(c->retry, 0);
    else
        assert_int_equal(c->first, 0);
    for (int i = 0; i < 5000 && !c->woken; i++)
        assert_int_equal(cora_sleep(0.001), 0);
    assert_int_equal(c->woken, 1);
    assert_int_equal(cora_await(t, NULL), 0);
    assert_int_equal(c->status, 0);
}

static cora_queue *new_threadsafe_queue(size_t maxsize)
{
    cora_queue *q;
    cora_queue_opts o = {.maxsize = maxsize, .flags = CORA_QUEUE_THREADSAFE};
    assert_int_equal(cora_queue_new(&q, &o), 0);
    return q;
}

static void free_threadsafe_queue(cora_queue *q)
{
    while (cora_queue_free(q) == -EBUSY)
        cora_yield(); /* the last xfer may be in flight */
}

static void *main_oom_put(void *arg)
{
    oom_case c = {.q = new_threadsafe_queue(0)};
    void *v;
    /* Give the buffer room first, so that the thread's put allocates only the call. */
    assert_int_equal(cora_queue_put(c.q, P(1)), 0);
    assert_int_equal(cora_queue_get(c.q, &v), 0);
    assert_int_equal(cora_queue_task_done(c.q), 0);
    run_oom_case(&c, oom_getter, oom_put);
    assert_ptr_equal(c.item, P(7));
    assert_int_equal(cora_queue_size(c.q), 0); /* put once, not twice */
    assert_int_equal(cora_queue_task_done(c.q), 0);
    assert_int_equal(cora_queue_task_done(c.q), -EINVAL);
    free_threadsafe_queue(c.q);
    return NULL;
}

static void thread_put_survives_out_of_memory(void **state)
{
    run_ok(main_oom_put, NULL);
}

static void *main_oom_get(void *arg)
{
    oom_case c = {.q = new_threadsafe_queue(1)};
    void *v;
    assert_int_equal(cora_queue_put(c.q, P(1)), 0); /* full: the task's put will wait */
    run_oom_case(&c, oom_putter, oom_get);
    assert_ptr_equal(c.thread_item, P(1));
    assert_int_equal(cora_queue_size(c.q), 1); /* taken once, and the putter came in */
    assert_int_equal(cora_queue_tryget(c.q, &v), 0);
    assert_ptr_equal(v, P(8));
    assert_int_equal(cora_queue_task_done(c.q), 0);
    assert_int_equal(cora_queue_task_done(c.q), 0);
    free_threadsafe_queue(c.q);
    return NULL;
}

static void thread_get_survives_out_of_memory(void **state)
{
    run_ok(main_oom_get, NULL);
}

static void *main_oom_task_done(void *arg)
{
    oom_case c = {.q = new_threadsafe_queue(0)};
    void *v;
    assert_int_equal(cora_queue_put(c.q, P(1)), 0);
    assert_int_equal(cora_queue_get(c.q, &v), 0); /* one item not yet done */
    run_oom_case(&c, oom_joiner, oom_task_done);
    assert_int_equal(cora_queue_task_done(c.q), -EINVAL); /* marked done once */
    free_threadsafe_queue(c.q);
    return NULL;
}

static void thread_task_done_survives_out_of_memory(void **state)
{
    run_ok(main_oom_task_done, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(queue_orders),
    CORA_TEST(queue_bad_options),
    CORA_TEST(bounded_queue_backpressure),
    CORA_TEST(task_done_and_join),
    CORA_TEST(shutdown_wakes_every_waiter),
    CORA_TEST(shutdown_now_hands_back_items),
    CORA_TEST(cancelled_waiters_take_nothing),
    CORA_TEST(threads_feed_tasks),
    CORA_TEST(thread_put_survives_out_of_memory),
    CORA_TEST(thread_get_survives_out_of_memory),
    CORA_TEST(thread_task_done_survives_out_of_memory),
};

CORA_TEST_MAIN("queue", tests)

/* tests/test_sync.c: Event, Lock, Semaphore, BoundedSemaphore, Condition, Barrier.
 * Runs once per backend (see harness.h). */
#include "harness.h"

/* ---- Lock ----------------------------------------------------------------------- */

struct counter {
    cora_lock lock;
    int inside, max_inside, total;
    char order[64];
    int norder;
};

static void *critical(void *arg)
{
    struct counter *c = arg;
    for (int i = 0; i < 20; i++) {
        assert_int_equal(cora_lock_acquire(&c->lock), 0);
        c->inside++;
        if (c->inside > c->max_inside) c->max_inside = c->inside;
        assert_int_equal(cora_yield(), 0); /* others run meanwhile, none may enter */
        c->total++;
        c->inside--;
        assert_int_equal(cora_lock_release(&c->lock), 0);
    }
    return NULL;
}

static void *main_lock_exclusion(void *arg)
{
    struct counter c = {0};
    cora_lock_init(&c.lock);
    cora_task *t[5];
    for (int i = 0; i < 5; i++) t[i] = cora_spawn(critical, &c);
    assert_int_equal(cora_gather(5, t, NULL, 0), 0);
    assert_int_equal(c.max_inside, 1);
    assert_int_equal(c.total, 100);
    assert_false(cora_lock_locked(&c.lock));
    return NULL;
}

static void lock_mutual_exclusion(void **state)
{
    run_ok(main_lock_exclusion, NULL);
}

struct orderly {
    struct counter *c;
    char mark;
};

static void *take_and_mark(void *arg)
{
    struct orderly *o = arg;
    int r = cora_lock_acquire(&o->c->lock);
    if (r < 0) return cora_fail(r);
    o->c->order[o->c->norder++] = o->mark;
    cora_yield();
    cora_lock_release(&o->c->lock);
    return NULL;
}

static void *main_lock_fifo(void *arg)
{
    struct counter c = {0};
    cora_lock_init(&c.lock);
    assert_int_equal(cora_lock_acquire(&c.lock), 0);
    struct orderly o[5];
    cora_task *t[5];
    for (int i = 0; i < 5; i++) {
        o[i] = (struct orderly){&c, (char)('a' + i)};
        t[i] = cora_spawn(take_and_mark, &o[i]);
    }
    assert_int_equal(cora_yield(), 0); /* all five queue up, in spawn order */
    /* The releaser re-acquiring at once must queue behind them (no barging). */
    assert_int_equal(cora_lock_release(&c.lock), 0);
    assert_int_equal(cora_lock_acquire(&c.lock), 0);
    c.order[c.norder++] = 'M';
    assert_int_equal(cora_lock_release(&c.lock), 0);
    assert_int_equal(cora_gather(5, t, NULL, 0), 0);
    assert_string_equal(c.order, "abcdeM");
    return NULL;
}

static void lock_hands_over_in_fifo_order(void **state)
{
    run_ok(main_lock_fifo, NULL);
}

static void *acquire_and_report(void *arg)
{
    struct counter *c = arg;
    int r = cora_lock_acquire(&c->lock);
    c->total = r;
    if (r == 0) {
        c->inside = 1;
        int s = cora_yield(); /* a cancellation that came after the hand-over arrives */
        c->max_inside = s;
        cora_lock_release(&c->lock);
    }
    return NULL;
}

static void *main_lock_cancel(void *arg)
{
    struct counter c = {0};
    cora_lock_init(&c.lock);
    assert_int_equal(cora_lock_acquire(&c.lock), 0);
    /* Cancelled while waiting: never gets the lock. */
    cora_task *b = cora_spawn(acquire_and_report, &c);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(b);
    assert_int_equal(cora_await(b, NULL), -ECANCELED);
    assert_int_equal(c.total, -ECANCELED);
    assert_int_equal(c.inside, 0);
    assert_int_equal(cora_lock_release(&c.lock), 0);
    assert_false(cora_lock_locked(&c.lock)); /* nobody was left holding it */
    /* Cancelled just after being handed the lock: it has it (no lost hand-over), is
     * told so, releases it, and sees the cancellation at its next suspension. */
    assert_int_equal(cora_lock_acquire(&c.lock), 0);
    cora_task *d = cora_spawn(acquire_and_report, &c);
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_lock_release(&c.lock), 0); /* hands it to d... */
    cora_cancel(d);                                    /* ...which is cancelled now */
    assert_int_equal(cora_await(d, NULL), -ECANCELED);
    assert_int_equal(c.total, 0);
    assert_int_equal(c.inside, 1);
    assert_int_equal(c.max_inside, -ECANCELED);
    assert_false(cora_lock_locked(&c.lock));
    return NULL;
}

static void lock_cancelled_waiter(void **state)
{
    run_ok(main_lock_cancel, NULL);
}

static void *try_from_other(void *arg)
{
    cora_lock *l = arg;
    assert_int_equal(cora_lock_tryacquire(l), -EAGAIN);
    assert_int_equal(cora_lock_release(l), -EPERM); /* not the holder */
    assert_int_equal(cora_lock_acquire_timeout(l, 0.002), -ETIMEDOUT);
    return NULL;
}

static void *main_lock_forms(void *arg)
{
    cora_lock l;
    cora_lock_init(&l);
    assert_int_equal(cora_lock_release(&l), -EPERM);
    assert_int_equal(cora_lock_tryacquire(&l), 0);
    assert_int_equal(cora_lock_acquire(&l), -EDEADLK);
    assert_int_equal(cora_lock_tryacquire(&l), -EDEADLK);
    assert_int_equal(cora_await(cora_spawn(try_from_other, &l), NULL), 0);
    assert_int_equal(cora_lock_release(&l), 0);
    assert_int_equal(cora_lock_acquire_timeout(&l, 1), 0);
    assert_int_equal(cora_lock_release(&l), 0);
    return NULL;
}

static void lock_try_and_timeout(void **state)
{
    run_ok(main_lock_forms, NULL);
}

/* ---- Semaphore ------------------------------------------------------------------ */

struct limited {
    cora_sem sem;
    int inside, max_inside;
    char order[32];
    int norder;
};

struct limited_arg {
    struct limited *l;
    char mark;
};

static void *use_permit(void *arg)
{
    struct limited_arg *a = arg;
    struct limited *l = a->l;
    assert_int_equal(cora_sem_acquire(&l->sem), 0);
    l->order[l->norder++] = a->mark;
    if (++l->inside > l->max_inside) l->max_inside = l->inside;
    assert_int_equal(cora_sleep(0.001), 0);
    l->inside--;
    assert_int_equal(cora_sem_release(&l->sem), 0);
    return NULL;
}

static void *main_sem(void *arg)
{
    struct limited l = {0};
    cora_sem_init(&l.sem, 2);
    struct limited_arg a[6];
    cora_task *t[6];
    for (int i = 0; i < 6; i++) {
        a[i] = (struct limited_arg){&l, (char)('a' + i)};
        t[i] = cora_spawn(use_permit, &a[i]);
    }
    assert_int_equal(cora_gather(6, t, NULL, 0), 0);
    assert_int_equal(l.max_inside, 2);
    assert_string_equal(l.order, "abcdef"); /* FIFO */
    assert_int_equal(cora_sem_value(&l.sem), 2);
    return NULL;
}

static void semaphore_limits_and_orders(void **state)
{
    run_ok(main_sem, NULL);
}

static void *main_sem_forms(void *arg)
{
    cora_sem s;
    cora_sem_init(&s, 1);
    assert_int_equal(cora_sem_tryacquire(&s), 0);
    assert_int_equal(cora_sem_tryacquire(&s), -EAGAIN);
    assert_int_equal(cora_sem_acquire_timeout(&s, 0.002), -ETIMEDOUT);
    assert_int_equal(cora_sem_release(&s), 0);
    assert_int_equal(cora_sem_release(&s), 0); /* unbounded: the value may grow */
    assert_int_equal(cora_sem_value(&s), 2);
    cora_sem b;
    assert_int_equal(cora_sem_init_bounded(&b, 0), -EINVAL);
    assert_int_equal(cora_sem_init_bounded(&b, 2), 0);
    assert_int_equal(cora_sem_release(&b), -EOVERFLOW); /* over-release */
    assert_int_equal(cora_sem_acquire(&b), 0);
    assert_int_equal(cora_sem_release(&b), 0);
    assert_int_equal(cora_sem_release(&b), -EOVERFLOW);
    assert_int_equal(cora_sem_value(&b), 2);
    return NULL;
}

static void semaphore_try_timeout_bounded(void **state)
{
    run_ok(main_sem_forms, NULL);
}

static void *sem_wait_once(void *arg)
{
    int r = cora_sem_acquire(arg);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_sem_cancel(void *arg)
{
    cora_sem s;
    cora_sem_init(&s, 0);
    cora_task *a = cora_spawn(sem_wait_once, &s), *b = cora_spawn(sem_wait_once, &s);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(a);
    assert_int_equal(cora_await(a, NULL), -ECANCELED);
    assert_int_equal(cora_sem_release(&s), 0); /* goes to b, not to the cancelled a */
    assert_int_equal(cora_await(b, NULL), 0);
    assert_int_equal(cora_sem_value(&s), 0);
    return NULL;
}

static void semaphore_cancelled_waiter(void **state)
{
    run_ok(main_sem_cancel, NULL);
}

/* ---- Condition ------------------------------------------------------------------ */

struct box {
    cora_lock lock;
    cora_cond cond;
    int items;
    int woken;
};

static int has_item(void *arg)
{
    return ((struct box *)arg)->items > 0;
}

static void *consumer(void *arg)
{
    struct box *b = arg;
    assert_int_equal(cora_lock_acquire(&b->lock), 0);
    int r = cora_cond_wait_until(&b->cond, has_item, b);
    if (r == 0) {
        b->items--;
        b->woken++;
    }
    assert_true(cora_lock_locked(&b->lock)); /* held on every path */
    cora_lock_release(&b->lock);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_cond(void *arg)
{
    struct box b = {0};
    cora_lock_init(&b.lock);
    cora_cond_init(&b.cond, &b.lock);
    cora_task *t[3];
    for (int i = 0; i < 3; i++) t[i] = cora_spawn(consumer, &b);
    assert_int_equal(cora_yield(), 0); /* all three wait */
    cora_lock_acquire(&b.lock);
    b.items = 1;
    cora_cond_notify(&b.cond, 1);
    cora_lock_release(&b.lock);
    assert_int_equal(cora_sleep(0.002), 0);
    assert_int_equal(b.woken, 1);
    cora_lock_acquire(&b.lock);
    b.items = 2;
    cora_cond_notify_all(&b.cond);
    cora_lock_release(&b.lock);
    assert_int_equal(cora_gather(3, t, NULL, 0), 0);
    assert_int_equal(b.woken, 3);
    return NULL;
}

static void condition_notify(void **state)
{
    run_ok(main_cond, NULL);
}

static void *cond_wait_once(void *arg)
{
    struct box *b = arg;
    cora_lock_acquire(&b->lock);
    int r = cora_cond_wait(&b->cond);
    assert_true(cora_lock_locked(&b->lock));
    if (r == 0) b->woken++;
    cora_lock_release(&b->lock);
    return r < 0 ? cora_fail(r) : NULL;
}

static void *main_cond_cancel(void *arg)
{
    struct box b = {0};
    cora_lock_init(&b.lock);
    cora_cond_init(&b.cond, &b.lock);
    assert_int_equal(cora_cond_wait(&b.cond), -EPERM); /* lock not held */
    cora_task *x = cora_spawn(cond_wait_once, &b), *y = cora_spawn(cond_wait_once, &b);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(x); /* x leaves before any notify */
    assert_int_equal(cora_await(x, NULL), -ECANCELED);
    cora_lock_acquire(&b.lock);
    cora_cond_notify(&b.cond, 1); /* ...so this one reaches y */
    cora_lock_release(&b.lock);
    assert_int_equal(cora_await(y, NULL), 0);
    assert_int_equal(b.woken, 1);
    cora_lock_acquire(&b.lock);
    assert_int_equal(cora_cond_wait_timeout(&b.cond, 0.002), -ETIMEDOUT);
    assert_true(cora_lock_locked(&b.lock));
    cora_lock_release(&b.lock);
    return NULL;
}

static void condition_cancel_and_timeout(void **state)
{
    run_ok(main_cond_cancel, NULL);
}

/* ---- Barrier and Event ---------------------------------------------------------- */

struct party {
    cora_barrier *b;
    int index[2];
};

static void *meet_twice(void *arg)
{
    struct party *p = arg;
    for (int i = 0; i < 2; i++) {
        p->index[i] = cora_barrier_wait(p->b);
        if (p->index[i] < 0) return cora_fail(p->index[i]);
    }
    return NULL;
}

static void *main_barrier(void *arg)
{
    cora_barrier b;
    assert_int_equal(cora_barrier_init(&b, 0), -EINVAL);
    assert_int_equal(cora_barrier_init(&b, 3), 0);
    struct party p[3];
    cora_task *t[3];
    for (int i = 0; i < 3; i++) {
        p[i].b = &b;
        t[i] = cora_spawn(meet_twice, &p[i]);
    }
    assert_int_equal(cora_gather(3, t, NULL, 0), 0);
    for (int round = 0; round < 2; round++) {
        int seen = 0;
        for (int i = 0; i < 3; i++) seen |= 1 << p[i].index[round];
        assert_int_equal(seen, 7); /* indices 0, 1, 2 each once */
    }
    /* A waiter that leaves does not count: the round still needs three. */
    struct party q[3];
    for (int i = 0; i < 3; i++) q[i].b = &b;
    cora_task *a = cora_spawn(meet_twice, &q[0]);
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_barrier_waiting(&b), 1);
    cora_cancel(a);
    assert_int_equal(cora_await(a, NULL), -ECANCELED);
    assert_int_equal(cora_barrier_waiting(&b), 0);
    return NULL;
}

static void barrier_rounds(void **state)
{
    run_ok(main_barrier, NULL);
}

static void *main_event_timeout(void *arg)
{
    cora_event ev;
    cora_event_init(&ev);
    assert_int_equal(cora_event_wait_timeout(&ev, 0.002), -ETIMEDOUT);
    cora_event_set(&ev);
    assert_int_equal(cora_event_wait_timeout(&ev, 0.002), 0);
    return NULL;
}

static void event_timeout(void **state)
{
    run_ok(main_event_timeout, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(lock_mutual_exclusion),
    CORA_TEST(lock_hands_over_in_fifo_order),
    CORA_TEST(lock_cancelled_waiter),
    CORA_TEST(lock_try_and_timeout),
    CORA_TEST(semaphore_limits_and_orders),
    CORA_TEST(semaphore_try_timeout_bounded),
    CORA_TEST(semaphore_cancelled_waiter),
    CORA_TEST(condition_notify),
    CORA_TEST(condition_cancel_and_timeout),
    CORA_TEST(barrier_rounds),
    CORA_TEST(event_timeout),
};

CORA_TEST_MAIN("sync", tests)

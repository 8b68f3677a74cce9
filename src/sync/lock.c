/* src/sync/lock.c: Lock (asyncio.Lock): FIFO, handed over on release.
 *
 * Release gives the lock straight to the first waiter instead of letting whoever
 * runs next grab it, so no waiter can starve (the cost: a task that releases and
 * re-acquires at once queues behind the others, which is the fairness asked for). */
#include "internal.h"

#include <errno.h>

typedef struct lock_impl {
    cora__list waiters;
    cora_task *owner;
} lock_impl;
CORA__STANDIN(lock_impl, cora_lock);

static lock_impl *impl(cora_lock *l)
{
    return (lock_impl *)(void *)l;
}

void cora_lock_init(cora_lock *l)
{
    lock_impl *L = impl(l);
    cora__list_init(&L->waiters);
    L->owner = NULL;
}

int cora_lock_tryacquire(cora_lock *l)
{
    lock_impl *L = impl(l);
    cora_task *self = cora__current();
    if (!self) return -EPERM;
    if (L->owner) return L->owner == self ? -EDEADLK : -EAGAIN;
    L->owner = self;
    return 0;
}

/* For the dump and the deadlock check: the owner is what a waiter waits for. */
static cora_task *lock_holder(const cora_task *t, const void *on)
{
    (void)t;
    return ((const lock_impl *)on)->owner;
}

static const cora__wait_desc wait_lock = {.what = "lock", .holder = lock_holder};

int cora_lock_acquire(cora_lock *l)
{
    lock_impl *L = impl(l);
    cora_task *self = cora__current();
    if (!self) return -EPERM;
    if (L->owner == self) return -EDEADLK;
    int c = cora__checkpoint();
    if (c) return c;
    if (!L->owner) {
        L->owner = self;
        return 0;
    }
    cora__wq_node n;
    return cora__wq_wait(&L->waiters, &n, &wait_lock, L); /* 0: the releaser made us the owner */
}

static int acquire_cb(void *l)
{
    return cora_lock_acquire(l);
}

int cora_lock_acquire_timeout(cora_lock *l, double seconds)
{
    return cora__with_timeout(seconds, acquire_cb, l);
}

int cora_lock_release(cora_lock *l)
{
    lock_impl *L = impl(l);
    if (!L->owner || L->owner != cora__current()) return -EPERM;
    if (cora__list_empty(&L->waiters)) { /* the common case: nobody to hand it to */
        L->owner = NULL;
        return 0;
    }
    L->owner = cora__wq_grant_one(&L->waiters, NULL)->task;
    return 0;
}

int cora_lock_locked(const cora_lock *l)
{
    return ((const lock_impl *)(const void *)l)->owner != NULL;
}

cora_task *cora__lock_owner(const cora_lock *l)
{
    return ((const lock_impl *)(const void *)l)->owner;
}

/* src/sync/cond.c: Condition (asyncio.Condition) over a cora_lock.
 *
 * wait releases the lock, parks, and takes the lock back before returning, on every
 * path: re-acquiring is shielded, so even a cancelled or timed-out wait returns with
 * the lock held (asyncio does the same), and the caller's unlock is always right. */
#include "internal.h"

#include <errno.h>

typedef struct cond_impl {
    cora__list waiters;
    cora_lock *lock;
} cond_impl;
CORA__STANDIN(cond_impl, cora_cond);

static const cora__wait_desc wait_cond = {.what = "condition"};

static cond_impl *impl(cora_cond *c)
{
    return (cond_impl *)(void *)c;
}

void cora_cond_init(cora_cond *c, cora_lock *lock)
{
    cond_impl *C = impl(c);
    cora__list_init(&C->waiters);
    C->lock = lock;
}

int cora_cond_wait(cora_cond *c)
{
    cond_impl *C = impl(c);
    cora_task *self = cora__current();
    if (!self || cora__lock_owner(C->lock) != self) return -EPERM;
    int c0 = cora__checkpoint();
    if (c0) return c0;
    cora_lock_release(C->lock);
    cora__wq_node n;
    int r = cora__wq_wait(&C->waiters, &n, &wait_cond, C);
    cora_scope shield;
    cora_shield_enter(&shield);
    cora_lock_acquire(C->lock);
    cora_scope_exit(&shield);
    return r;
}

static int wait_cb(void *c)
{
    return cora_cond_wait(c);
}

int cora_cond_wait_timeout(cora_cond *c, double seconds)
{
    return cora__with_timeout(seconds, wait_cb, c);
}

int cora_cond_wait_until(cora_cond *c, int (*pred)(void *arg), void *arg)
{
    if (!pred) return -EINVAL;
    while (!pred(arg)) {
        int r = cora_cond_wait(c);
        if (r < 0) return r;
    }
    return 0;
}

void cora_cond_notify(cora_cond *c, unsigned n)
{
    cond_impl *C = impl(c);
    while (n-- > 0 && cora__wq_grant_one(&C->waiters, NULL)) {
    }
}

void cora_cond_notify_all(cora_cond *c)
{
    cora__wq_wake_all(&impl(c)->waiters, 0);
}

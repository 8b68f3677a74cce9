/* src/sync/internal.h: what the sync layer shares between its files. */
#ifndef CORA_SYNC_INTERNAL_H
#define CORA_SYNC_INTERNAL_H

#include "../core/internal.h"
#include "cora/sync.h"

#include <assert.h>

/* A wait queue: tasks parked in FIFO order, each through a node on its own stack.
 * Every primitive here is a wait queue plus a little state; handing something over
 * (a lock, a permit, an item) is done by the waker, before the waiter runs, so a
 * waiter cancelled after being woken still has it and reports success (nothing is
 * lost), and one cancelled before is simply taken off the queue (nothing is kept). */
typedef struct cora__wq_node {
    cora__list link;
    cora_task *task;
    void *data;  /* what was handed over, or what the waiter offers (queues) */
    int granted; /* the waker handed it over (or woke it with err) */
    int err;     /* 0, or why it was woken without its wish (-ESHUTDOWN) */
} cora__wq_node;

/* Parks the calling task on `wq` until a waker takes its node off (`why` and `on`
 * describe the wait for the task dump: see cora__wait_desc). Returns 0 when
 * woken by a waker (node->granted is set), or the cancellation cause (-ECANCELED,
 * -ETIMEDOUT) with the node already off the queue. Checks for a pending cancellation
 * first, without parking. */
int cora__wq_wait(cora__list *wq, cora__wq_node *n, const cora__wait_desc *why, const void *on);

/* Takes the first waiter off `wq`, marks it granted with `data`, and wakes it.
 * Returns its node, or NULL if nobody waits. */
cora__wq_node *cora__wq_grant_one(cora__list *wq, void *data);

/* Wakes every waiter, each marked granted with err = `result` (0 or a negative
 * errno). */
void cora__wq_wake_all(cora__list *wq, int result);

/* The task holding the lock, or NULL (conditions check the caller holds it). */
cora_task *cora__lock_owner(const cora_lock *l);

/* Runs fn(arg) inside a fail_after(seconds) scope: the `_timeout` forms. */
int cora__with_timeout(double seconds, int (*fn)(void *), void *arg);

#define CORA__STANDIN(impl_type, public_type)                                                \
    static_assert(sizeof(impl_type) <= sizeof(public_type), #public_type " stand-in too small"); \
    static_assert(_Alignof(impl_type) <= _Alignof(public_type), #public_type " misaligned")

#endif

/* src/sync/wq.c: wait queues, the one mechanism under every primitive of this layer. */
#include "internal.h"

#include <errno.h>

static void wq_cancel(cora_task *t)
{
    cora__wq_node *n = t->wait_obj;
    cora__list_remove(&n->link);
    cora__wake(t, -ECANCELED);
}

int cora__wq_wait(cora__list *wq, cora__wq_node *n, const cora__wait_desc *why, const void *on)
{
    int c = cora__checkpoint();
    if (c) return c;
    n->task = cora__current();
    n->granted = 0;
    n->err = 0;
    cora__list_push_back(wq, &n->link);
    int r = cora__park(why, on, wq_cancel, n);
    /* Granted and then cancelled or timed out before it ran: the wake-up came first,
     * so it counts; the cancellation waits for the next suspension point. */
    return n->granted ? 0 : r;
}

cora__wq_node *cora__wq_grant_one(cora__list *wq, void *data)
{
    cora__list *l = cora__list_pop_front(wq);
    if (!l) return NULL;
    cora__wq_node *n = CORA__CONTAINER_OF(l, cora__wq_node, link);
    n->data = data;
    n->granted = 1;
    n->err = 0;
    cora__wake(n->task, 0);
    return n;
}

void cora__wq_wake_all(cora__list *wq, int result)
{
    cora__list *l;
    while ((l = cora__list_pop_front(wq))) {
        cora__wq_node *n = CORA__CONTAINER_OF(l, cora__wq_node, link);
        n->granted = 1;
        n->err = result;
        cora__wake(n->task, 0);
    }
}

int cora__with_timeout(double seconds, int (*fn)(void *), void *arg)
{
    cora_scope s;
    int r = cora_fail_after(&s, seconds);
    if (r < 0) return r;
    r = fn(arg);
    int e = cora_scope_exit(&s);
    /* The call's own -ETIMEDOUT is our scope's; a success that raced the deadline
     * stays a success. */
    return r < 0 && e < 0 ? e : r;
}

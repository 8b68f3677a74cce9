/* src/sync/barrier.c: Barrier (asyncio.Barrier): `parties` tasks wait for each
 * other; the last to arrive releases them all and the barrier is ready for the next
 * round. A waiter cancelled before the round completes leaves it (the round then
 * needs another arrival), so a cancellation never releases the others early. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>

typedef struct barrier_impl {
    cora__list waiters;
    unsigned parties;
    unsigned arrived;
} barrier_impl;
CORA__STANDIN(barrier_impl, cora_barrier);

static void barrier_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const barrier_impl *B = on;
    snprintf(buf, cap, "%u of %u parties arrived", B->arrived, B->parties);
}

static const cora__wait_desc wait_barrier = {.what = "barrier", .detail = barrier_detail};

static barrier_impl *impl(cora_barrier *b)
{
    return (barrier_impl *)(void *)b;
}

int cora_barrier_init(cora_barrier *b, unsigned parties)
{
    if (!b || parties == 0) return -EINVAL;
    barrier_impl *B = impl(b);
    cora__list_init(&B->waiters);
    B->parties = parties;
    B->arrived = 0;
    return 0;
}

int cora_barrier_wait(cora_barrier *b)
{
    barrier_impl *B = impl(b);
    if (!cora__current()) return -EPERM;
    int c = cora__checkpoint();
    if (c) return c;
    unsigned index = B->arrived++;
    if (B->arrived == B->parties) {
        B->arrived = 0;
        cora__wq_wake_all(&B->waiters, 0);
        return (int)index;
    }
    cora__wq_node n;
    int r = cora__wq_wait(&B->waiters, &n, &wait_barrier, B);
    if (r < 0) {
        B->arrived--; /* left before the round completed */
        return r;
    }
    return (int)index;
}

unsigned cora_barrier_waiting(const cora_barrier *b)
{
    return ((const barrier_impl *)(const void *)b)->arrived;
}

/* src/sync/sem.c: Semaphore and BoundedSemaphore (asyncio's), FIFO.
 *
 * A release with waiters hands its permit to the first of them directly (the value
 * stays), for the same fairness as the lock. */
#include "internal.h"

#include <errno.h>

typedef struct sem_impl {
    cora__list waiters;
    unsigned value;
    unsigned bound; /* 0: unbounded */
} sem_impl;
CORA__STANDIN(sem_impl, cora_sem);

static const cora__wait_desc wait_sem = {.what = "semaphore"};

static sem_impl *impl(cora_sem *s)
{
    return (sem_impl *)(void *)s;
}

void cora_sem_init(cora_sem *s, unsigned value)
{
    sem_impl *S = impl(s);
    cora__list_init(&S->waiters);
    S->value = value;
    S->bound = 0;
}

int cora_sem_init_bounded(cora_sem *s, unsigned value)
{
    if (value == 0) return -EINVAL;
    cora_sem_init(s, value);
    impl(s)->bound = value;
    return 0;
}

int cora_sem_tryacquire(cora_sem *s)
{
    sem_impl *S = impl(s);
    /* Waiters first: a newcomer must not overtake them. */
    if (S->value == 0 || !cora__list_empty(&S->waiters)) return -EAGAIN;
    S->value--;
    return 0;
}

int cora_sem_acquire(cora_sem *s)
{
    sem_impl *S = impl(s);
    if (!cora__current()) return -EPERM;
    int c = cora__checkpoint();
    if (c) return c;
    if (cora_sem_tryacquire(s) == 0) return 0;
    cora__wq_node n;
    /* 0: a releaser handed us its permit */
    return cora__wq_wait(&S->waiters, &n, &wait_sem, S);
}

static int acquire_cb(void *s)
{
    return cora_sem_acquire(s);
}

int cora_sem_acquire_timeout(cora_sem *s, double seconds)
{
    return cora__with_timeout(seconds, acquire_cb, s);
}

int cora_sem_release(cora_sem *s)
{
    sem_impl *S = impl(s);
    if (cora__wq_grant_one(&S->waiters, NULL)) return 0;
    if (S->bound && S->value >= S->bound) return -EOVERFLOW; /* released more than taken */
    if (S->value == UINT32_MAX) return -EOVERFLOW;
    S->value++;
    return 0;
}

unsigned cora_sem_value(const cora_sem *s)
{
    return ((const sem_impl *)(const void *)s)->value;
}

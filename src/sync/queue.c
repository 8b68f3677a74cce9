/* src/sync/queue.c: queues (asyncio.Queue, LifoQueue, PriorityQueue), with
 * task_done/join, Python 3.13's shutdown, and an optional thread-safe end.
 *
 * Items are pointers. Storage is a ring (FIFO, LIFO) or a binary heap (priority),
 * grown by doubling up to maxsize (0: unbounded). A put that finds a getter waiting
 * hands the item straight to it, and a get that frees a slot moves the first waiting
 * putter's item in, so waiters are served in FIFO order and a wake-up is never
 * wasted on a task that lost a race.
 *
 * Thread-safe queues (CORA_QUEUE_THREADSAFE) let a plain thread put or get, blocking
 * on its side (a mutex and two condition variables) while tasks suspend on theirs.
 * The waiter lists of tasks belong to the loop thread alone; the buffer and counters
 * are under the mutex. A thread never wakes a task directly: it schedules one
 * `xfer` callback on the loop (cora__call_soon_node, coalesced by a flag), which
 * moves items between the buffer and the waiting tasks. The thread allocates that
 * call's node before it changes the queue, so running out of memory is an error its
 * call returns with the queue untouched; once the queue has changed, telling the
 * loop cannot fail (a lost xfer would leave a task parked with nothing to wake it).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct cora_queue {
    int kind;
    size_t maxsize;
    int (*cmp)(const void *a, const void *b);
    void **items;
    size_t cap, head, len;
    size_t unfinished; /* put and not yet task_done */
    bool shutdown;
    cora_loop *loop;
    cora__list getters, putters, joiners; /* tasks; loop thread only */
    bool threadsafe;
    bool xfer_pending; /* an xfer callback is scheduled */
    pthread_mutex_t mu;
    pthread_cond_t not_empty, not_full; /* for threads blocked on their side */
};

/* ---- what the task dump says of a wait on a queue ------------------------------- */

static void queue_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const cora_queue *q = on; /* read without the lock: a dump is a snapshot */
    if (q->maxsize)
        snprintf(buf, cap, "%zu of %zu items%s", q->len, q->maxsize, q->shutdown ? ", shut down" : "");
    else
        snprintf(buf, cap, "%zu items%s", q->len, q->shutdown ? ", shut down" : "");
}

/* A threadsafe queue can be fed or drained by other threads: the wait is external. */
static const cora__wait_desc wait_put = {.what = "queue put", .detail = queue_detail};
static const cora__wait_desc wait_get = {.what = "queue get", .detail = queue_detail};
static const cora__wait_desc wait_join = {.what = "queue join", .detail = queue_detail};
static const cora__wait_desc wait_put_ts = {
    .what = "queue put", .detail = queue_detail, .external = true};
static const cora__wait_desc wait_get_ts = {
    .what = "queue get", .detail = queue_detail, .external = true};
static const cora__wait_desc wait_join_ts = {
    .what = "queue join", .detail = queue_detail, .external = true};

/* ---- storage -------------------------------------------------------------------- */

static bool full(const cora_queue *q)
{
    return q->maxsize && q->len >= q->maxsize;
}

static int grow(cora_queue *q)
{
    size_t cap = q->cap ? q->cap * 2 : 16;
    if (q->maxsize && cap > q->maxsize) cap = q->maxsize;
    void **items = cora__malloc(cap * sizeof *items);
    if (!items) return -ENOMEM;
    /* Unroll the ring so head is 0 (the heap has head 0 always). */
    for (size_t i = 0; i < q->len; i++) items[i] = q->items[(q->head + i) % q->cap];
    free(q->items);
    q->items = items;
    q->cap = cap;
    q->head = 0;
    return 0;
}

static void heap_up(cora_queue *q, size_t i)
{
    void *x = q->items[i];
    while (i > 0 && q->cmp(x, q->items[(i - 1) / 2]) < 0) {
        q->items[i] = q->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    q->items[i] = x;
}

static void heap_down(cora_queue *q, size_t i)
{
    void *x = q->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->len) break;
        if (c + 1 < q->len && q->cmp(q->items[c + 1], q->items[c]) < 0) c++;
        if (q->cmp(q->items[c], x) >= 0) break;
        q->items[i] = q->items[c];
        i = c;
    }
    q->items[i] = x;
}

static int store_push(cora_queue *q, void *item)
{
    if (q->len == q->cap) {
        int r = grow(q);
        if (r < 0) return r;
    }
    if (q->kind == CORA_QUEUE_PRIORITY) {
        q->items[q->len++] = item;
        heap_up(q, q->len - 1);
    } else {
        q->items[(q->head + q->len++) % q->cap] = item;
    }
    return 0;
}

static void *store_pop(cora_queue *q)
{
    void *item;
    switch (q->kind) {
    case CORA_QUEUE_PRIORITY:
        item = q->items[0];
        q->items[0] = q->items[--q->len];
        if (q->len) heap_down(q, 0);
        break;
    case CORA_QUEUE_LIFO:
        item = q->items[(q->head + --q->len) % q->cap];
        break;
    default:
        item = q->items[q->head];
        q->head = (q->head + 1) % q->cap;
        q->len--;
        break;
    }
    return item;
}

/* ---- locking (only thread-safe queues lock) -------------------------------------- */

static void lock(cora_queue *q)
{
    if (q->threadsafe) pthread_mutex_lock(&q->mu);
}

static void unlock(cora_queue *q)
{
    if (q->threadsafe) pthread_mutex_unlock(&q->mu);
}

static void signal_threads(cora_queue *q, pthread_cond_t *c)
{
    if (q->threadsafe) pthread_cond_signal(c);
}

/* ---- creating and freeing ------------------------------------------------------- */

int cora_queue_new(cora_queue **out, const cora_queue_opts *opts)
{
    if (!out) return -EINVAL;
    *out = NULL;
    cora_queue_opts o = opts ? *opts : (cora_queue_opts){0};
    if (o.kind != CORA_QUEUE_FIFO && o.kind != CORA_QUEUE_LIFO && o.kind != CORA_QUEUE_PRIORITY)
        return -EINVAL;
    if ((o.kind == CORA_QUEUE_PRIORITY) != (o.cmp != NULL)) return -EINVAL;
    if (o.flags & ~CORA_QUEUE_THREADSAFE) return -EINVAL;
    cora_loop *loop = cora__loop();
    if (!loop) return -EPERM;
    cora_queue *q = cora__calloc(1, sizeof *q);
    if (!q) return -ENOMEM;
    q->kind = o.kind;
    q->maxsize = o.maxsize;
    q->cmp = o.cmp;
    q->loop = loop;
    cora__list_init(&q->getters);
    cora__list_init(&q->putters);
    cora__list_init(&q->joiners);
    q->threadsafe = (o.flags & CORA_QUEUE_THREADSAFE) != 0;
    if (q->threadsafe) {
        loop->escaped = true; /* other threads may now wake it (debug mode's check) */
        pthread_mutex_init(&q->mu, NULL);
        pthread_cond_init(&q->not_empty, NULL);
        pthread_cond_init(&q->not_full, NULL);
    }
    *out = q;
    return 0;
}

int cora_queue_free(cora_queue *q)
{
    if (!q) return 0;
    lock(q);
    bool busy = q->len || q->xfer_pending || !cora__list_empty(&q->getters) ||
                !cora__list_empty(&q->putters) || !cora__list_empty(&q->joiners);
    unlock(q);
    if (busy) return -EBUSY;
    if (q->threadsafe) {
        pthread_mutex_destroy(&q->mu);
        pthread_cond_destroy(&q->not_empty);
        pthread_cond_destroy(&q->not_full);
    }
    free(q->items);
    free(q);
    return 0;
}

/* ---- moving items between the buffer and waiting tasks (loop thread) ------------ */

/* With the lock held: hand buffered items to waiting getters, let waiting putters
 * in while there is room, and settle what shutdown and task_done decided. */
static void settle(cora_queue *q)
{
    while (q->len && !cora__list_empty(&q->getters)) {
        cora__wq_grant_one(&q->getters, store_pop(q));
        signal_threads(q, &q->not_full);
    }
    while (!full(q) && !cora__list_empty(&q->putters)) {
        cora__wq_node *p = CORA__CONTAINER_OF(q->putters.next, cora__wq_node, link);
        if (store_push(q, p->data) < 0) break; /* no memory: it waits for the next get */
        q->unfinished++;
        cora__wq_grant_one(&q->putters, NULL);
        signal_threads(q, &q->not_empty);
        /* Threads can leave both kinds of task waiting at once (a thread filled the
         * buffer before this xfer ran): what a putter brings in may be for a getter. */
        while (q->len && !cora__list_empty(&q->getters))
            cora__wq_grant_one(&q->getters, store_pop(q));
    }
    if (q->shutdown) {
        cora__wq_wake_all(&q->putters, -ESHUTDOWN);
        if (!q->len) cora__wq_wake_all(&q->getters, -ESHUTDOWN);
    }
    if (q->unfinished == 0) cora__wq_wake_all(&q->joiners, 0);
}

static void xfer(void *arg)
{
    cora_queue *q = arg;
    lock(q);
    q->xfer_pending = false;
    settle(q);
    unlock(q);
}

/* With the lock held, from a thread, before it changes the queue: the node of the
 * xfer call that will tell the loop about the change, in *node, or NULL there when an
 * xfer is already on its way (it will see the change too). Returns 0, or -ENOMEM: the
 * caller then returns that error and leaves the queue as it was. The lock must stay
 * held until xfer_post, so that xfer_pending cannot change in between. */
static int xfer_reserve(cora_queue *q, cora__call **node)
{
    *node = NULL;
    if (q->xfer_pending) return 0;
    cora__call *c = cora__malloc(sizeof *c);
    if (!c) return -ENOMEM;
    *c = (cora__call){.fn = xfer, .arg = q};
    *node = c;
    return 0;
}

/* With the lock held, once the queue has changed: have the loop settle it soon. Takes
 * *node (NULL: an xfer is already on its way) and cannot fail; the loop frees the node
 * once it has run it. */
static void xfer_post(cora_queue *q, cora__call **node)
{
    if (!*node) return;
    cora__call_soon_node(q->loop, *node);
    *node = NULL;
    q->xfer_pending = true;
}

/* ---- the loop side -------------------------------------------------------------- */

static int loop_side(cora_queue *q)
{
    if (!q) return -EINVAL;
    if (cora__loop() != q->loop || !cora__current()) return -EPERM;
    return 0;
}

static int put(cora_queue *q, void *item, bool wait)
{
    int r = loop_side(q);
    if (r < 0) return r;
    if (wait && (r = cora__checkpoint())) return r;
    lock(q);
    if (q->shutdown) {
        unlock(q);
        return -ESHUTDOWN;
    }
    /* Getters wait only while the buffer is empty, so one waiting means room. */
    if (!cora__list_empty(&q->getters) || !full(q)) {
        if (!cora__list_empty(&q->getters)) {
            cora__wq_grant_one(&q->getters, item); /* straight to the first getter */
        } else if ((r = store_push(q, item)) < 0) {
            unlock(q);
            return r;
        }
        q->unfinished++;
        signal_threads(q, &q->not_empty);
        unlock(q);
        return 0;
    }
    unlock(q);
    if (!wait) return -EAGAIN;
    cora__wq_node n = {.data = item};
    r = cora__wq_wait(&q->putters, &n, q->threadsafe ? &wait_put_ts : &wait_put, q);
    if (r < 0) return r; /* gave up: the item was not queued, it is still the caller's */
    return n.err;        /* 0: a getter made room and queued it; or -ESHUTDOWN */
}

int cora_queue_put(cora_queue *q, void *item)
{
    return put(q, item, true);
}

int cora_queue_tryput(cora_queue *q, void *item)
{
    return put(q, item, false);
}

static int get(cora_queue *q, void **item, bool wait)
{
    int r = loop_side(q);
    if (r < 0) return r;
    if (!item) return -EINVAL;
    if (wait && (r = cora__checkpoint())) return r;
    lock(q);
    if (q->len) {
        *item = store_pop(q);
        signal_threads(q, &q->not_full);
        settle(q); /* a waiting putter takes the freed slot */
        unlock(q);
        return 0;
    }
    bool shut = q->shutdown;
    unlock(q);
    if (shut) return -ESHUTDOWN;
    if (!wait) return -EAGAIN;
    cora__wq_node n = {0};
    r = cora__wq_wait(&q->getters, &n, q->threadsafe ? &wait_get_ts : &wait_get, q);
    if (r < 0) return r;
    if (n.err) return n.err;
    *item = n.data;
    return 0;
}

int cora_queue_get(cora_queue *q, void **item)
{
    return get(q, item, true);
}

int cora_queue_tryget(cora_queue *q, void **item)
{
    return get(q, item, false);
}

struct timed_op {
    cora_queue *q;
    void *item;
    void **out;
};

static int put_cb(void *arg)
{
    struct timed_op *t = arg;
    return cora_queue_put(t->q, t->item);
}

static int get_cb(void *arg)
{
    struct timed_op *t = arg;
    return cora_queue_get(t->q, t->out);
}

int cora_queue_put_timeout(cora_queue *q, void *item, double seconds)
{
    struct timed_op t = {q, item, NULL};
    return cora__with_timeout(seconds, put_cb, &t);
}

int cora_queue_get_timeout(cora_queue *q, void **item, double seconds)
{
    struct timed_op t = {q, NULL, item};
    return cora__with_timeout(seconds, get_cb, &t);
}

int cora_queue_task_done(cora_queue *q)
{
    if (!q) return -EINVAL;
    lock(q);
    if (q->unfinished == 0) {
        unlock(q);
        return -EINVAL; /* more task_done calls than items */
    }
    bool on_loop = cora__loop() == q->loop;
    cora__call *node = NULL;
    if (q->unfinished == 1 && !on_loop) { /* joiners to wake, through the loop */
        int r = xfer_reserve(q, &node);
        if (r < 0) {
            unlock(q);
            return r; /* the item is not marked done */
        }
    }
    if (--q->unfinished == 0) {
        if (on_loop)
            cora__wq_wake_all(&q->joiners, 0);
        else
            xfer_post(q, &node);
    }
    unlock(q);
    return 0;
}

int cora_queue_join(cora_queue *q)
{
    int r = loop_side(q);
    if (r < 0) return r;
    if ((r = cora__checkpoint())) return r;
    lock(q);
    size_t left = q->unfinished;
    unlock(q);
    if (left == 0) return 0;
    cora__wq_node n = {0};
    return cora__wq_wait(&q->joiners, &n, q->threadsafe ? &wait_join_ts : &wait_join, q);
}

int cora_queue_shutdown(cora_queue *q)
{
    if (!q) return -EINVAL;
    if (cora__loop() != q->loop) return -EPERM;
    lock(q);
    q->shutdown = true;
    if (q->threadsafe) {
        pthread_cond_broadcast(&q->not_empty);
        pthread_cond_broadcast(&q->not_full);
    }
    settle(q);
    unlock(q);
    return 0;
}

ssize_t cora_queue_shutdown_now(cora_queue *q, void (*drop)(void *item, void *ctx), void *ctx)
{
    if (!q) return -EINVAL;
    if (cora__loop() != q->loop) return -EPERM;
    lock(q);
    q->shutdown = true;
    size_t n = 0;
    while (q->len) {
        void *item = store_pop(q);
        if (drop) drop(item, ctx);
        n++;
    }
    /* As Python 3.13 does: every removed item counts as done, so join returns. */
    q->unfinished = q->unfinished > n ? q->unfinished - n : 0;
    if (q->threadsafe) {
        pthread_cond_broadcast(&q->not_empty);
        pthread_cond_broadcast(&q->not_full);
    }
    settle(q);
    unlock(q);
    return (ssize_t)n;
}

size_t cora_queue_size(cora_queue *q)
{
    if (!q) return 0;
    lock(q);
    size_t n = q->len;
    unlock(q);
    return n;
}

int cora_queue_is_shutdown(cora_queue *q)
{
    if (!q) return 0;
    lock(q);
    int s = q->shutdown;
    unlock(q);
    return s;
}

/* ---- the thread side ------------------------------------------------------------ */

int cora_queue_put_threadsafe(cora_queue *q, void *item)
{
    if (!q || !q->threadsafe) return -EINVAL;
    if (cora__loop() == q->loop) return -EDEADLK; /* would block the loop it needs */
    pthread_mutex_lock(&q->mu);
    while (!q->shutdown && full(q)) pthread_cond_wait(&q->not_full, &q->mu);
    int r = -ESHUTDOWN;
    cora__call *node = NULL;
    if (!q->shutdown && (r = xfer_reserve(q, &node)) == 0 && (r = store_push(q, item)) == 0) {
        q->unfinished++;
        pthread_cond_signal(&q->not_empty);
        xfer_post(q, &node); /* tasks may be waiting for it */
    }
    pthread_mutex_unlock(&q->mu);
    free(node); /* not posted: the item was not queued */
    return r;
}

int cora_queue_get_threadsafe(cora_queue *q, void **item)
{
    if (!q || !q->threadsafe || !item) return -EINVAL;
    if (cora__loop() == q->loop) return -EDEADLK;
    pthread_mutex_lock(&q->mu);
    while (!q->shutdown && q->len == 0) pthread_cond_wait(&q->not_empty, &q->mu);
    int r = -ESHUTDOWN;
    cora__call *node = NULL;
    if (q->len && (r = xfer_reserve(q, &node)) == 0) {
        *item = store_pop(q);
        pthread_cond_signal(&q->not_full);
        xfer_post(q, &node); /* waiting putters (tasks) may come in now */
    }
    pthread_mutex_unlock(&q->mu);
    return r;
}

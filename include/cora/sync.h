/* cora/sync.h: synchronisation between tasks of one loop.
 *
 * The types here are fixed-size stand-ins that users may put on the stack or inside
 * their own structs (no malloc); their insides are private. Call them only from the
 * loop that uses them; to reach a loop from another thread, use
 * cora_call_soon_threadsafe with a callback that calls these.
 */
#ifndef CORA_SYNC_H
#define CORA_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Conventions for this header:
 *   - waits return 0, or -ECANCELED / -ETIMEDOUT (the caller was cancelled, or a scope
 *     deadline passed: see cora_fail_after), or -EPERM outside a task;
 *   - `try` forms never suspend and return -EAGAIN instead of waiting;
 *   - `_timeout` forms take a relative timeout in seconds and return -ETIMEDOUT when
 *     it passes;
 *   - waiters are served first in, first out; a waiter that is cancelled while being
 *     woken keeps what it was handed and returns 0 (the cancellation comes at its next
 *     suspension point), and a waiter cancelled before leaves the queue without taking
 *     anything, so no wake-up is lost and nothing is kept by a task that gave up. */

/* ---- Event (asyncio.Event): a flag that tasks can wait to see set --------------- */

typedef struct cora_event {
    void *private_[3];
} cora_event;

/* Prepares an event, cleared. Allocates nothing. */
void cora_event_init(cora_event *ev);

/* Sets the flag and wakes every waiting task. Never suspends. */
void cora_event_set(cora_event *ev);

/* Clears the flag; waiters stay waiting. */
void cora_event_clear(cora_event *ev);

/* 1 if set, else 0. (The `try` form of waiting.) */
int cora_event_is_set(const cora_event *ev);

/* Suspends until the flag is set (returns at once if it is). */
int cora_event_wait(cora_event *ev);
int cora_event_wait_timeout(cora_event *ev, double seconds);

/* ---- Lock (asyncio.Lock): FIFO, not re-entrant --------------------------------- */

typedef struct cora_lock {
    void *private_[3];
} cora_lock;

/* Prepares an unlocked lock. Allocates nothing. */
void cora_lock_init(cora_lock *l);

/* Takes the lock, waiting in FIFO order. -EDEADLK if the caller holds it already. */
int cora_lock_acquire(cora_lock *l);
int cora_lock_tryacquire(cora_lock *l);
int cora_lock_acquire_timeout(cora_lock *l, double seconds);

/* Releases the lock, handing it to the first waiter. Only the task holding it may
 * release it: -EPERM otherwise. Never suspends. */
int cora_lock_release(cora_lock *l);

/* 1 if some task holds the lock. */
int cora_lock_locked(const cora_lock *l);

/* ---- Semaphore and BoundedSemaphore --------------------------------------------- */

typedef struct cora_sem {
    void *private_[3];
} cora_sem;

/* A semaphore with `value` permits (asyncio.Semaphore). */
void cora_sem_init(cora_sem *s, unsigned value);

/* A bounded semaphore (asyncio.BoundedSemaphore): releasing more permits than were
 * taken is an error (-EOVERFLOW) instead of silently raising the limit. -EINVAL if
 * value is 0. */
int cora_sem_init_bounded(cora_sem *s, unsigned value);

/* Takes a permit, waiting in FIFO order (a newcomer never overtakes a waiter). */
int cora_sem_acquire(cora_sem *s);
int cora_sem_tryacquire(cora_sem *s);
int cora_sem_acquire_timeout(cora_sem *s, double seconds);

/* Gives a permit back (to the first waiter, if any). Returns 0, or -EOVERFLOW for a
 * bounded semaphore released more often than acquired. Never suspends. */
int cora_sem_release(cora_sem *s);

/* Permits available now. */
unsigned cora_sem_value(const cora_sem *s);

/* ---- Condition (asyncio.Condition) ---------------------------------------------- */

typedef struct cora_cond {
    void *private_[3];
} cora_cond;

/* Prepares a condition over `lock` (which must outlive it). */
void cora_cond_init(cora_cond *c, cora_lock *lock);

/* The caller must hold the lock (-EPERM otherwise). Releases it, waits for a notify,
 * and takes the lock back before returning, on every path: even a wait that returns
 * -ECANCELED or -ETIMEDOUT returns holding the lock. */
int cora_cond_wait(cora_cond *c);
int cora_cond_wait_timeout(cora_cond *c, double seconds);

/* Waits until pred(arg) is true (asyncio's Condition.wait_for): checks it first, then
 * after every wake-up, with the lock held. Returns 0 or the error of a wait. */
int cora_cond_wait_until(cora_cond *c, int (*pred)(void *arg), void *arg);

/* Wakes up to n waiters, or all of them, in FIFO order. The caller should hold the
 * lock (as in asyncio); the woken tasks run once it is released. */
void cora_cond_notify(cora_cond *c, unsigned n);
void cora_cond_notify_all(cora_cond *c);

/* ---- Barrier (asyncio.Barrier) -------------------------------------------------- */

typedef struct cora_barrier {
    void *private_[3];
} cora_barrier;

/* A barrier for `parties` tasks. Returns 0, or -EINVAL if parties is 0. */
int cora_barrier_init(cora_barrier *b, unsigned parties);

/* Waits until `parties` tasks have arrived; the last one releases them all and the
 * barrier starts a new round. Returns the caller's arrival index in the round
 * (0 .. parties-1), or an error; a waiter cancelled before the round completes leaves
 * it, so the round waits for another arrival. */
int cora_barrier_wait(cora_barrier *b);

/* Tasks waiting in the current round. */
unsigned cora_barrier_waiting(const cora_barrier *b);

/* ---- Queues (asyncio.Queue, LifoQueue, PriorityQueue) ---------------------------
 *
 * Items are pointers; the queue never looks at what they point to. Ownership of an
 * item passes to the queue when put succeeds and to the getter when get succeeds; a
 * put that fails (-EAGAIN, -ECANCELED, -ETIMEDOUT, -ESHUTDOWN) leaves the item with
 * the caller. Shutdown follows Python 3.13: after cora_queue_shutdown, puts fail with
 * -ESHUTDOWN and gets drain what is queued, then fail with -ESHUTDOWN; waiting tasks
 * are woken with that error. Nothing queued is ever dropped silently.
 */
typedef struct cora_queue cora_queue;

#define CORA_QUEUE_FIFO 0
#define CORA_QUEUE_LIFO 1
#define CORA_QUEUE_PRIORITY 2 /* smallest first by cmp; equal items in no set order */

#define CORA_QUEUE_THREADSAFE 0x1u /* plain threads may use the _threadsafe calls */

typedef struct cora_queue_opts {
    size_t maxsize; /* 0: unbounded */
    int kind;       /* CORA_QUEUE_FIFO (default), _LIFO or _PRIORITY */
    int (*cmp)(const void *a, const void *b); /* PRIORITY only: < 0 if a comes first */
    unsigned flags; /* CORA_QUEUE_THREADSAFE */
} cora_queue_opts;

/* Makes a queue for the current loop (opts NULL: unbounded FIFO). Stores it in *out
 * and returns 0, or -EINVAL (bad kind, cmp given without PRIORITY or missing with
 * it, unknown flags), -EPERM outside a loop, -ENOMEM. The caller frees it. */
int cora_queue_new(cora_queue **out, const cora_queue_opts *opts);

/* Frees an empty queue nobody waits on. Returns 0, or -EBUSY (items still queued,
 * tasks waiting, or a cross-thread hand-over in flight): nothing is freed then. */
int cora_queue_free(cora_queue *q);

/* Puts an item, waiting while the queue is full. -ESHUTDOWN after shutdown. */
int cora_queue_put(cora_queue *q, void *item);
int cora_queue_tryput(cora_queue *q, void *item);
int cora_queue_put_timeout(cora_queue *q, void *item, double seconds);

/* Takes an item into *item, waiting while the queue is empty. -ESHUTDOWN once the
 * queue is shut down and empty. */
int cora_queue_get(cora_queue *q, void **item);
int cora_queue_tryget(cora_queue *q, void **item);
int cora_queue_get_timeout(cora_queue *q, void **item, double seconds);

/* Marks one item taken earlier as processed (asyncio's task_done). -EINVAL if called
 * more times than items were put. Never suspends; callable from any thread on a
 * thread-safe queue. From another thread it may return -ENOMEM when it has to wake
 * the loop's joiners and cannot: the item is then not marked done (call again). */
int cora_queue_task_done(cora_queue *q);

/* Waits until every item put has been marked done. */
int cora_queue_join(cora_queue *q);

/* Shuts the queue down (see above). Returns 0, -EPERM from another loop. */
int cora_queue_shutdown(cora_queue *q);

/* Shuts down at once (Python's shutdown(immediate=True)): every queued item is removed
 * and passed to drop(item, ctx) (when drop is not NULL) so the program can free or
 * report it, and counts as done; waiting getters and putters get -ESHUTDOWN. Returns
 * how many items were removed. drop must not call back into the queue. */
ssize_t cora_queue_shutdown_now(cora_queue *q, void (*drop)(void *item, void *ctx), void *ctx);

/* Items queued now; 1 if shut down. */
size_t cora_queue_size(cora_queue *q);
int cora_queue_is_shutdown(cora_queue *q);

/* From a plain thread (not the queue's loop thread: -EDEADLK there), on a queue made
 * with CORA_QUEUE_THREADSAFE (-EINVAL otherwise): put blocks the thread while the
 * queue is full, get blocks it while the queue is empty; tasks waiting on the loop
 * side are woken. Both return 0, -ESHUTDOWN, or -ENOMEM (no memory to tell the loop:
 * nothing was put or taken, the queue is as it was). This is how a thread pool or a C
 * library's callback thread talks to tasks. The queue must outlive every thread call. */
int cora_queue_put_threadsafe(cora_queue *q, void *item);
int cora_queue_get_threadsafe(cora_queue *q, void **item);

/* ---- Channels and select (Go's) -------------------------------------------------
 *
 * A channel carries elements of a fixed size, copied in on send and out on receive.
 * With capacity 0 it is unbuffered: a send completes only when a receiver takes the
 * value (a rendezvous). Closing tells receivers, once they have drained what was
 * buffered, that nothing more will come.
 */
typedef struct cora_chan cora_chan;

/* Makes a channel of elements of elem_size bytes holding up to `capacity` of them
 * (0: unbuffered) for the current loop. Returns 0, -EINVAL (elem_size 0, or the
 * buffer size overflows), -EPERM outside a loop, -ENOMEM. The caller frees it. */
int cora_chan_new(cora_chan **out, size_t elem_size, size_t capacity);

/* Frees a channel nobody waits on (-EBUSY otherwise). Buffered elements are discarded:
 * they are plain bytes the channel copied. */
int cora_chan_free(cora_chan *ch);

/* Sends a copy of *elem, waiting for a receiver or for room in the buffer. Returns 0,
 * -EPIPE if the channel is (or gets) closed (the value was not sent), or a wait
 * error. A send that fails or is cancelled did not deliver its value. */
int cora_chan_send(cora_chan *ch, const void *elem);
int cora_chan_trysend(cora_chan *ch, const void *elem);
int cora_chan_send_timeout(cora_chan *ch, const void *elem, double seconds);

/* Receives into *elem, waiting for a value. Returns 1 with a value, 0 when the
 * channel is closed and drained (like read's end of file; *elem untouched), or a wait
 * error (nothing was taken then). */
int cora_chan_recv(cora_chan *ch, void *elem);
int cora_chan_tryrecv(cora_chan *ch, void *elem);
int cora_chan_recv_timeout(cora_chan *ch, void *elem, double seconds);

/* Closes the channel: waiting receivers get 0, waiting senders -EPIPE, later sends
 * -EPIPE; buffered values are still received. -EPIPE if already closed. */
int cora_chan_close(cora_chan *ch);

/* Elements buffered now. */
size_t cora_chan_len(const cora_chan *ch);

#define CORA_SEND 1
#define CORA_RECV 2

/* One case of a select: `op` on `ch` with `elem` (the value to send, or where to
 * receive). A case whose ch is NULL never fires (Go's nil channel). `result` is set
 * for the case that fires: for CORA_RECV 1 (a value) or 0 (closed); for CORA_SEND 0
 * (sent) or -EPIPE (closed). */
typedef struct cora_case {
    int op;
    cora_chan *ch;
    void *elem;
    int result;
} cora_case;

/* Go's select: performs exactly one of the n cases, the first that can proceed, and
 * returns its index. When several can, one is chosen at random, so none starves.
 * timeout < 0 waits for as long as it takes; 0 is the default case: returns -EAGAIN
 * at once if none can proceed; > 0 waits at most that many seconds, then returns
 * -ETIMEDOUT. Cancelled: -ECANCELED, and no case happened. -EINVAL for a bad case
 * (unknown op, NULL elem) or more than 1024 cases. */
int cora_select(cora_case *cases, size_t n, double timeout);

#ifdef __cplusplus
}
#endif
#endif

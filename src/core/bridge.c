/* src/core/bridge.c: cora_run_in_thread, the supported way to run a loop from code
 * that already runs in one.
 *
 * One thread cannot run a loop inside another (cora_run refuses with -EBUSY): the
 * inner loop would hold the thread, and every task of the outer loop would stall
 * until it ended. The bridge runs the inner loop on a thread of its own and parks only
 * the calling task, as cora_to_thread does for a blocking call:
 *
 *     caller task (outer loop)              bridge thread
 *     allocate the bridge and both nodes
 *     pthread_create  ------------------->  cora_run(bridge_main):
 *     park (on_cancel: forward_cancel)        bridge_main publishes the inner loop
 *                                             under mu, runs fn, unpublishes it;
 *                                             the loop cancels and joins the rest
 *                     <-------------------  post done_node to the outer loop
 *     woken: join the thread, free, return
 *
 * Both cross-thread messages use nodes allocated before the thread starts, so neither
 * can fail on the way back: a failed hand-back would leave the caller parked forever.
 *
 * Cancelling the caller forwards the cancellation: the inner loop's main task (the
 * task running fn) is cancelled through the inner loop's inbox, and the caller goes on
 * waiting until the inner loop has ended, so the thread is always joined and nothing
 * the inner loop owns outlives the call. The inner loop's pointer is published only
 * while fn runs in its main task: a call posted meanwhile sets the loop's wake-up flag
 * before main can end, and a loop with that flag set runs another round (and the call)
 * before cora_run returns, so the pointer is never used after the loop is freed.
 *
 * The caller's loop may also close with the caller still parked, if its backend's
 * poll fails: nothing will ever run done_node or wake the caller. The closing loop
 * calls bridge_close (the wait's on_close) instead, which forwards a cancellation as
 * above, tells the thread not to post (outer = NULL, under mu), joins it and frees
 * the bridge; a done_node the thread had already posted is dropped with the rest of
 * the loop's inbox, unrun. So on every path the thread is joined exactly once: by the
 * caller after its wake-up, by run_and_join, or by the closing loop.
 */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct bridge {
    cora_fn fn;
    void *arg;
    pthread_t thread;
    cora_task *task; /* the caller, parked until done_node runs */
    /* Written by the thread before it posts done_node, read after the join. */
    int status;
    void *result;

    pthread_mutex_t mu;
    /* Under mu. */
    cora_loop *outer;      /* the caller's loop; NULL when the caller joins instead
                            * (run_and_join, or the caller's loop is closing) */
    cora__call *done_node; /* posted by the thread once cora_run has returned (which
                            * makes it NULL: the loop's inbox owns it then) */
    cora_loop *inner;      /* the inner loop while fn runs in it, else NULL */
    cora__call *stop_node; /* forwards a cancellation; NULL once posted */
    bool fn_ended;         /* bridge_main is past fn: too late to forward */
    bool cancelled;        /* the caller's cancellation was forwarded (or is waiting
                            * for bridge_main, if fn has not started) */
} bridge;

/* ---- The bridge thread --------------------------------------------------------- */

/* The inner loop's main task: publishes the loop, runs fn in this very task (so fn's
 * status is main's status, exactly as cora_run(fn) would give it), unpublishes. */
static void *bridge_main(void *p)
{
    bridge *b = p;
    /* cora_loop_current, not the internal accessor: it marks the loop as reachable
     * from another thread, so debug mode never judges it asleep while fn waits for
     * what only a forwarded cancellation would end. */
    cora_loop *self = cora_loop_current();
    pthread_mutex_lock(&b->mu);
    bool cancelled = b->cancelled;
    if (!cancelled) b->inner = self;
    pthread_mutex_unlock(&b->mu);
    void *r = NULL;
    if (cancelled) {
        /* Cancelled before fn started: fn never runs, as a task cancelled before it
         * first ran never runs. The yield delivers the cancellation, so main ends
         * with -ECANCELED. */
        cora_cancel(cora_current());
        cora_yield();
    } else {
        r = b->fn(b->arg);
    }
    pthread_mutex_lock(&b->mu);
    b->inner = NULL;
    b->fn_ended = true;
    pthread_mutex_unlock(&b->mu);
    return r;
}

static void *bridge_thread(void *p)
{
    bridge *b = p;
    b->status = cora_run(bridge_main, b, &b->result);
    /* Under mu, so that a closing caller's loop (bridge_close) either sees the node
     * posted or stops the post. The last touch of b: once the node is posted the
     * caller may wake and join, and the join waits for the unlock. */
    pthread_mutex_lock(&b->mu);
    if (b->outer) {
        cora__call_soon_node(b->outer, b->done_node);
        b->done_node = NULL;
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* SIGINT and SIGTERM are blocked on the bridge thread (it inherits the mask it is
 * created with), so that a Ctrl-C lands on one of the program's own threads and the
 * inner loop's polls are not cut short by it. cora's handler does not care which
 * thread runs it: it flags the loop that owns the signals, which is the outer loop if
 * it took them, else (called outside any loop) possibly the inner one. */
static int start_thread(bridge *b)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int r = pthread_create(&b->thread, NULL, bridge_thread, b);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return r == 0 ? 0 : -EAGAIN;
}

/* ---- The caller's side --------------------------------------------------------- */

/* On the outer loop, from done_node. */
static void bridge_done(void *p)
{
    bridge *b = p;
    cora__wake(b->task, 0);
}

/* On the inner loop, from stop_node. */
static void stop_inner(void *loop)
{
    cora_loop_stop(loop);
}

/* With mu held: cancel fn, unless it has ended already. Posts stop_node at most once
 * (forward_cancel, then bridge_close, may both come). */
static void forward_locked(bridge *b)
{
    if (b->fn_ended) return;
    b->cancelled = true;
    if (b->inner && b->stop_node) {
        b->stop_node->arg = b->inner;
        cora__call_soon_node(b->inner, b->stop_node);
        b->stop_node = NULL;
    }
    /* Else fn has not started: bridge_main sees the flag and never runs it. */
}

/* The caller was cancelled while parked: pass it on, and do not wake the caller: it
 * waits until the inner loop has ended (bridge_done wakes it). */
static void forward_cancel(cora_task *t)
{
    bridge *b = t->wait_obj;
    pthread_mutex_lock(&b->mu);
    forward_locked(b);
    pthread_mutex_unlock(&b->mu);
}

static void bridge_free(bridge *b)
{
    pthread_mutex_destroy(&b->mu);
    free(b->done_node); /* NULL once posted */
    free(b->stop_node); /* NULL once posted */
    free(b);
}

/* The caller's loop is closing on an error with the caller still parked (see the top
 * of the file): cancel fn, keep the thread from posting to the dying loop, join it
 * here (this waits for fn to notice the cancellation, as the caller would have), and
 * free the bridge. */
static void bridge_close(cora_task *t)
{
    bridge *b = t->wait_obj;
    pthread_mutex_lock(&b->mu);
    forward_locked(b);
    b->outer = NULL;
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL);
    bridge_free(b);
}

/* For the task dump: which function the other loop runs. */
static void bridge_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const bridge *b = on;
    cora__symbolize(buf, cap, (const void *)b->fn);
}

/* The bridge thread ends this wait: the caller's loop is not stuck meanwhile. */
static const cora__wait_desc wait_bridge = {.what = "cora_run_in_thread",
                                            .detail = bridge_detail,
                                            .external = true,
                                            .on_close = bridge_close};

/* No loop on this thread: nothing else waits for it, so it just joins. */
static int run_and_join(cora_fn fn, void *arg, void **result)
{
    bridge b = {.fn = fn, .arg = arg};
    pthread_mutex_init(&b.mu, NULL);
    int r = start_thread(&b);
    if (r == 0) {
        pthread_join(b.thread, NULL);
        r = b.status;
        if (r == 0 && result) *result = b.result;
    }
    pthread_mutex_destroy(&b.mu);
    return r;
}

int cora_run_in_thread(cora_fn fn, void *arg, void **result)
{
    if (!fn) return -EINVAL;
    cora_loop *loop = cora__loop();
    if (loop && loop->pid != getpid()) loop = NULL; /* a forked child's copy: not its loop */
    if (!loop) return run_and_join(fn, arg, result);
    cora_task *self = loop->current;
    if (!self) return -EPERM; /* a callback of the loop cannot wait */
    int r = cora__checkpoint();
    if (r) return r;

    bridge *b = cora__calloc(1, sizeof *b);
    cora__call *done = cora__malloc(sizeof *done);
    cora__call *stop = cora__malloc(sizeof *stop);
    if (!b || !done || !stop) {
        free(b);
        free(done);
        free(stop);
        return -ENOMEM;
    }
    b->fn = fn;
    b->arg = arg;
    b->outer = loop;
    b->task = self;
    *done = (cora__call){.fn = bridge_done, .arg = b};
    *stop = (cora__call){.fn = stop_inner}; /* .arg: the inner loop, once published */
    b->done_node = done;
    b->stop_node = stop;
    pthread_mutex_init(&b->mu, NULL);
    r = start_thread(b);
    if (r < 0) {
        bridge_free(b);
        return r;
    }
    cora__park(&wait_bridge, b, forward_cancel, b);
    /* Woken by bridge_done: the thread's last act was to post it, so this join waits
     * at most for the thread's exit, not for any work. */
    pthread_join(b->thread, NULL);

    int status = b->status;
    if (b->cancelled && status != 0) {
        /* Cancelled and the inner run did not succeed: report the caller's cause
         * (-ECANCELED, or -ETIMEDOUT for a deadline), delivering it. A success is
         * returned even so, as cora_wait_for does, so a result that owns memory is
         * never lost; the cancellation then waits for the next suspension point. */
        int c = cora__checkpoint();
        status = c ? c : -ECANCELED;
    }
    if (status == 0 && result) *result = b->result;
    bridge_free(b);
    return status;
}

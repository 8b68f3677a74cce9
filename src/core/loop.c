/* src/core/loop.c: cora_run and the scheduler.
 *
 * One round of the loop, in this order (docs/loop.md; the fairness tests check it):
 *   1. read the monotonic clock;
 *   2. fire every timer whose deadline has passed (their tasks become ready);
 *   3. run the calls other threads handed in (cora_call_soon_threadsafe);
 *   4. run each task that was ready when the round began, once, in FIFO order;
 *      a task that yields or becomes ready again waits for the next round;
 *   5. poll the I/O backend: without blocking if tasks are ready, else until the
 *      next timer's deadline (or indefinitely when there is none). With tasks
 *      ready and no operation in flight there is nothing to poll for, and the
 *      system call is skipped.
 * So a task that is always ready cannot starve timers or I/O: both are looked at
 * once per round whatever it does. A task whose operations keep completing at once
 * (epoll can finish a read without suspending) is made to yield after CORA__BUDGET
 * of them, as Tokio's coop budget does.
 *
 * The loop belongs to its thread: the only state another thread touches is the
 * inbox, behind a mutex, and the backend's wake-up.
 */
#include "cora/debug.h"
#include "internal.h"
#include "../io/backend.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

__thread cora_loop *cora__tls_loop __attribute__((tls_model("initial-exec")));
__thread cora__census cora__census_now;

cora_loop *cora_loop_current(void)
{
    cora_loop *loop = cora__tls_loop;
    /* The pointer may now reach another thread, which could wake the loop: debug
     * mode's "all tasks are asleep" can no longer be sure. */
    if (loop) loop->escaped = true;
    return loop;
}

int64_t cora_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const char *cora_loop_backend(const cora_loop *loop)
{
    return loop && loop->backend ? loop->backend->name : "";
}

int cora_loop_stop(cora_loop *loop)
{
    if (loop && loop->main) cora_cancel(loop->main);
    return 0;
}

/* ---- The cross-thread inbox ---------------------------------------------------- */

int cora_call_soon_threadsafe(cora_loop *loop, void (*fn)(void *arg), void *arg)
{
    if (!loop || !fn) return -EINVAL;
    cora__call *c = cora__malloc(sizeof *c);
    if (!c) return -ENOMEM;
    c->fn = fn;
    c->arg = arg;
    cora__call_soon_node(loop, c);
    return 0;
}

void cora__call_soon_node(cora_loop *loop, cora__call *c)
{
    c->next = NULL;
    pthread_mutex_lock(&loop->inbox_lock);
    if (loop->inbox_tail)
        loop->inbox_tail->next = c;
    else
        loop->inbox_head = c;
    loop->inbox_tail = c;
    pthread_mutex_unlock(&loop->inbox_lock);
    /* One wake-up is enough for any number of calls until the loop drains them. */
    if (atomic_exchange(&loop->wake_pending, 1) == 0) loop->backend->wake(loop);
}

static bool inbox_pending(cora_loop *loop)
{
    return atomic_load(&loop->wake_pending) != 0 || atomic_load(&loop->interrupted) != 0;
}

static void run_inbox(cora_loop *loop)
{
    /* News from a signal handler (a plain load first: the exchange is a locked op).
     * Ctrl-C: cancel main, as asyncio.run turns KeyboardInterrupt into cancellation. */
    if (atomic_load_explicit(&loop->interrupted, memory_order_relaxed)) {
        int news = atomic_exchange(&loop->interrupted, 0);
        if ((news & CORA__INTR_CANCEL) && loop->main) cora_cancel(loop->main);
        if (news & CORA__INTR_DUMP) cora_dump_tasks(stderr);
    }
    if (!atomic_load(&loop->wake_pending)) return;
    /* Cleared before the queue is taken: a call added after this point sets it
     * again and wakes the next poll, so none is left behind. */
    atomic_store(&loop->wake_pending, 0);
    pthread_mutex_lock(&loop->inbox_lock);
    cora__call *c = loop->inbox_head;
    loop->inbox_head = loop->inbox_tail = NULL;
    pthread_mutex_unlock(&loop->inbox_lock);
    while (c) {
        cora__call *next = c->next;
        c->fn(c->arg);
        free(c);
        c = next;
    }
}

/* ---- One round ----------------------------------------------------------------- */

static void fire_timers(cora_loop *loop)
{
    cora__timer *tm;
    while ((tm = cora__heap_top(&loop->timers)) && tm->deadline <= loop->now) {
        cora__heap_remove(&loop->timers, tm);
        tm->fire(tm);
    }
}

static void run_ready(cora_loop *loop)
{
    /* Only the tasks ready at the start of the round: one that yields goes to the
     * back and waits for the next round, after the backend was polled. */
    size_t n = loop->runq_len;
    while (n-- > 0) {
        cora__list *l = cora__list_pop_front(&loop->runq);
        if (!l) break;
        loop->runq_len--;
        cora__task_switch_in(loop, CORA__CONTAINER_OF(l, cora_task, link));
    }
}

static int64_t poll_timeout(cora_loop *loop)
{
    if (loop->runq_len > 0 || inbox_pending(loop)) return 0;
    cora__timer *tm = cora__heap_top(&loop->timers);
    if (!tm) return -1;
    int64_t d = tm->deadline - cora_now_ns();
    return d > 0 ? d : 0;
}

static void cancel_all(cora_loop *loop)
{
    /* cora_cancel may wake tasks (moving them to the run queue) but never releases
     * one, so walking the list while cancelling is safe. */
    for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next) {
        cora_task *t = CORA__CONTAINER_OF(l, cora_task, all_link);
        cora_cancel(t);
    }
}

static int run_rounds(cora_loop *loop)
{
    for (;;) {
        if (!loop->stopping && loop->main->state == CORA__DONE) {
            loop->stopping = true;
            cancel_all(loop);
        }
        if (loop->live == 0 && !atomic_load(&loop->wake_pending)) return 0;
        /* The clock is read only when a timer could be due: a round of ready tasks
         * with no timer armed needs no time, and the read is a third of such a
         * round (spawn+await takes two rounds). */
        if (loop->timers.len) {
            loop->now = cora_now_ns();
            fire_timers(loop);
        }
        run_inbox(loop);
        run_ready(loop);
        if (loop->live == 0 && !atomic_load(&loop->wake_pending)) return 0;
        if (!loop->stopping && loop->main->state == CORA__DONE) continue;
        int64_t timeout = poll_timeout(loop);
        /* Nothing in flight and no reason to wait: a poll could only find the
         * wake-up eventfd, whose news the inbox flag already carries. Skipping it
         * keeps a round of ready tasks free of system calls. */
        if (timeout == 0 && loop->inflight == 0) continue;
        /* About to wait with no timer: in debug mode, make sure something can still
         * wake a task. If nothing can, cancel main so the program unwinds; if even
         * that leaves everything asleep, give up. */
        if (timeout < 0 && loop->debug && !loop->inflight && cora__debug_asleep(loop)) {
            if (loop->asleep++) return -EDEADLK;
            cora_cancel(loop->main);
            continue;
        }
        int r;
        if (loop->debug) {
            int64_t t0 = cora_now_ns();
            r = loop->backend->poll(loop, timeout);
            loop->stat_poll_ns += cora_now_ns() - t0;
        } else {
            r = loop->backend->poll(loop, timeout);
        }
        if (r < 0) return r;
    }
}

/* ---- Setting up and tearing down ----------------------------------------------- */

static int loop_init(cora_loop *loop)
{
    memset(loop, 0, sizeof *loop);
    loop->pid = getpid();
    cora__list_init(&loop->runq);
    cora__list_init(&loop->tasks);
    cora__heap_init(&loop->timers);
    loop->debug = cora__debug_default();
    pthread_mutex_init(&loop->inbox_lock, NULL);
    atomic_init(&loop->wake_pending, 0);
    cora__stack_pool_init(&loop->stacks);
    int r = cora__io_open(loop);
    if (r < 0) {
        cora__stack_pool_close(&loop->stacks);
        pthread_mutex_destroy(&loop->inbox_lock);
    }
    return r;
}

/* A task whose handle nobody gave up (never awaited, detached or put in a group),
 * found when its loop closes: its outcome is lost now. A failure is always reported;
 * in debug mode every such task is, whatever its outcome (asyncio's "coroutine was
 * never awaited"), since a dropped handle is often the bug itself, and the report
 * names the spawn site. `main_end` is the main task's place in the order of endings. */
static void report_forgotten(cora_task *t, uint64_t main_end)
{
    bool ended = t->state == CORA__DONE; /* not so only if the backend failed */
    bool failed = ended && t->status < 0 && t->status != -ECANCELED;
    bool debug = t->loop->debug;
    if (!failed && !debug) return;
    const char *fix = "cora_await() it to collect its outcome, cora_detach() it if nobody "
                      "needs the outcome, or start it with cora_group_spawn() so a group "
                      "owns it";
    char where[512], site[544] = "";
    if (t->spawn_site) {
        cora__symbolize(where, sizeof where, t->spawn_site);
        snprintf(site, sizeof site, " spawned at %s", where);
    }
    if (!debug) {
        fprintf(stderr,
                "cora: task '%s' (id %llu)%s failed with %s (%s) and nobody awaited it.\n"
                "  %s%s.\n",
                cora_task_name(t), (unsigned long long)t->id, site, cora_err_name(t->status),
                cora_strerror(t->status), fix,
                t->spawn_site ? "" : "; CORA_DEBUG=1 shows where it was spawned");
        return;
    }
    char outcome[160];
    if (!ended)
        snprintf(outcome, sizeof outcome, "it had not ended when the loop stopped on an error");
    else if (failed)
        snprintf(outcome, sizeof outcome, "it failed with %s (%s) and nobody saw the error",
                 cora_err_name(t->status), cora_strerror(t->status));
    else if (t->status == -ECANCELED && t->done_seq > main_end)
        snprintf(outcome, sizeof outcome,
                 "it was still running when main returned, so the loop cancelled it");
    else if (t->status == -ECANCELED)
        snprintf(outcome, sizeof outcome, "it was cancelled");
    else
        snprintf(outcome, sizeof outcome, "it returned normally and its result was lost");
    fprintf(stderr, "cora: task '%s' (id %llu)%s was never awaited nor detached; %s.\n  %s.\n",
            cora_task_name(t), (unsigned long long)t->id, site, outcome, fix);
}

static void loop_close(cora_loop *loop)
{
    /* After a failed poll, tasks may still be parked: a wait that holds something
     * outside the loop (another thread's loop, say) lets go of it first, while every
     * task's stack is still there for whatever that thread was given. */
    for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next) {
        cora_task *t = CORA__CONTAINER_OF(l, cora_task, all_link);
        if (t->state == CORA__SUSPENDED && t->wait_desc && t->wait_desc->on_close)
            t->wait_desc->on_close(t);
    }
    /* Tasks whose handles nobody gave up. (Detached tasks and group children were
     * released as they ended; main's outcome went to cora_run's caller.) */
    uint64_t main_end = loop->main ? loop->main->done_seq : 0;
    while (!cora__list_empty(&loop->tasks)) {
        cora_task *t = CORA__CONTAINER_OF(loop->tasks.next, cora_task, all_link);
        if (t != loop->main) report_forgotten(t, main_end);
        cora__task_release(t);
    }
    if (loop->dns_close) loop->dns_close(loop);
    if (loop->pool_close) loop->pool_close(loop); /* joins the worker threads */
    /* Calls still queued: a normal end runs them all, so these are left only by a
     * loop that stopped on an error, posted by threads that finished for tasks that
     * are gone now (every such thread has been joined above). Dropped unrun. */
    for (cora__call *c = loop->inbox_head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    loop->inbox_head = loop->inbox_tail = NULL;
    while (loop->free_tasks) {
        cora_task *t = loop->free_tasks;
        loop->free_tasks = t->arg;
        free(t);
    }
    /* Off the watchdog's list first: it may wake the loop through its backend. */
    cora__debug_loop_stop(loop);
    cora__io_close(loop);
    cora__heap_free(&loop->timers);
    cora__stack_pool_close(&loop->stacks);
    pthread_mutex_destroy(&loop->inbox_lock);
}

/* See cora/io.h: a peer closing its end must give -EPIPE, not kill the process. */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL &&
        !(sa.sa_flags & SA_SIGINFO)) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

/* cora_run inside a running loop: say who called it, from where (debug mode records
 * spawn sites), and what to do instead. */
static void refuse_nested(cora_loop *loop)
{
    cora_task *t = loop->current;
    char who[64 + CORA_TASK_NAME_MAX], where[512], site[544] = "";
    if (t)
        snprintf(who, sizeof who, "from task '%s' (id %llu)", cora_task_name(t),
                 (unsigned long long)t->id);
    else
        snprintf(who, sizeof who, "outside any task, from a callback of the loop");
    if (t && t->spawn_site) {
        cora__symbolize(where, sizeof where, t->spawn_site);
        snprintf(site, sizeof site, ", spawned at %s", where);
    } else if (t && !loop->debug) {
        snprintf(site, sizeof site, "; CORA_DEBUG=1 shows where it was spawned");
    }
    fprintf(
        stderr,
        "cora: cora_run() called while this thread is already running a loop (%s%s).\n"
        "      A loop cannot run inside another (asyncio.run inside async code): it would hold\n"
        "      the thread, and every other task of the running loop would stall until it ended.\n"
        "      Call the function directly, or cora_spawn() it and cora_await() the task. To give\n"
        "      it a loop of its own, use cora_run_in_thread(): it runs that loop on a new thread\n"
        "      and suspends only the calling task.\n",
        who, site);
}

int cora_run(cora_fn main, void *arg, void **result)
{
    /* A child forked from inside a loop inherits the thread-local pointer, but the
     * loop is its parent's (its ring, its threads): the child may start its own. */
    if (cora__tls_loop && cora__tls_loop->pid != getpid()) cora__tls_loop = NULL;
    if (cora__tls_loop) {
        refuse_nested(cora__tls_loop);
        return -EBUSY;
    }
    if (!main) return -EINVAL;
    ignore_sigpipe();
    cora_loop *loop = cora__malloc(sizeof *loop);
    if (!loop) return -ENOMEM;
    int r = loop_init(loop);
    if (r < 0) {
        free(loop);
        return r;
    }
    cora__tls_loop = loop;
    cora__interrupt_install(loop);
    cora__overflow_install(loop);
#ifdef CORA__TSAN
    loop->tsan_fiber = __tsan_get_current_fiber();
#endif
    /* Debug mode that cannot start (no memory, no thread) leaves the loop without it
     * rather than failing the program. */
    if (loop->debug && cora__debug_loop_start(loop) < 0) loop->debug = false;
    cora_task *m = NULL;
    r = cora__spawn_at(&m, main, arg, &(cora_spawn_opts){.name = "main"},
                       __builtin_return_address(0));
    if (r == 0) {
        loop->main = m;
        m->is_main = true;
        r = run_rounds(loop);
        if (r == 0 && loop->asleep) r = -EDEADLK; /* main unwound from a deadlock */
        if (r == 0) {
            r = m->status;
            if (result) *result = m->result;
        }
    }
    cora__overflow_remove(loop);
    cora__interrupt_remove(loop);
    loop_close(loop);
    cora__tls_loop = NULL;
    free(loop);
    return r;
}

/* src/core/combine.c: waiting for several tasks at once: gather, wait,
 * as_completed, wait_for.
 *
 * All are built on one mechanism: a waiter node on each task's done list, whose
 * callback wakes the waiting task (wakes are idempotent, so several children ending
 * in one round wake it once). The waiting task then looks at which tasks are done.
 * Whatever happens (failure, timeout, cancellation of the waiter), a combinator that
 * takes ownership of handles waits for every child to end before it returns, so no
 * task, stack or waiter node outlives it.
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void wake_waiter(cora__waiter *w, cora_task *done)
{
    (void)done;
    cora__wake(w->task, 0);
}

static void watch(cora__waiter *w, cora_task *t, cora_task *self)
{
    w->fn = wake_waiter;
    w->task = self;
    cora__list_push_back(&t->done_waiters, &w->link);
}

static void unwatch(cora__waiter *w)
{
    /* A node never watched is all zero; one whose task ended was already taken off
     * (and points at itself), so removing it again is harmless. */
    if (w->link.next) cora__list_remove(&w->link);
}

/* ---- What the dump says of these waits ---------------------------------------- */

static cora_task *first_unfinished(const cora_task *t, const void *on)
{
    (void)t;
    const cora__task_set *set = on;
    for (size_t i = 0; i < set->n; i++)
        if (set->tasks[i]->state != CORA__DONE) return set->tasks[i];
    return NULL;
}

static void set_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const cora__task_set *set = on;
    size_t left = 0;
    for (size_t i = 0; i < set->n; i++) left += set->tasks[i]->state != CORA__DONE;
    snprintf(buf, cap, "%zu of %zu tasks unfinished", left, set->n);
}

/* Waiting for all: the first unfinished one blocks it (an edge of the wait-for
 * graph). Waiting for any: no single task does, so no edge. */
const cora__wait_desc cora__wait_tasks_all = {
    .what = "tasks", .holder = first_unfinished, .detail = set_detail};
const cora__wait_desc cora__wait_tasks_any = {.what = "any of tasks", .detail = set_detail};

/* Checks the handles a combinator is given. */
static int check_tasks(size_t n, cora_task *const *tasks, cora_task *self, bool collecting)
{
    if (!self) return -EPERM;
    if (n && !tasks) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        cora_task *t = tasks[i];
        if (!t || t == self || t->detached || t->in_group) return -EINVAL;
        if (t->loop != self->loop) return -EPERM;
        if (collecting && t->awaited) return -EBUSY;
        for (size_t j = 0; j < i; j++)
            if (tasks[j] == t) return -EINVAL; /* the same task twice */
    }
    return 0;
}

static bool all_done(size_t n, cora_task *const *tasks)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state != CORA__DONE) return false;
    return true;
}

static void cancel_unfinished(size_t n, cora_task *const *tasks)
{
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state != CORA__DONE) cora_cancel(tasks[i]);
}

/* Parks, shielded from cancellation, until every task has ended. */
static void join_all_shielded(size_t n, cora_task *const *tasks)
{
    cora_scope shield;
    cora_shield_enter(&shield);
    cora__task_set set = {n, tasks};
    while (!all_done(n, tasks))
        cora__park(&cora__wait_tasks_all, &set, cora__cancel_wake, NULL);
    cora_scope_exit(&shield);
}

int cora_gather(size_t n, cora_task *const *tasks, cora_outcome *out, unsigned flags)
{
    cora_task *self = cora__current();
    int r = check_tasks(n, tasks, self, true);
    if (r < 0) return r;
    if (flags & ~CORA_GATHER_FAIL_FAST) return -EINVAL;
    bool fail_fast = flags & CORA_GATHER_FAIL_FAST;
    cora__waiter *w = n ? cora__calloc(n, sizeof *w) : NULL;
    int first_error = 0, cause = 0;
    cora__task_set set = {n, tasks};
    if (n && !w) {
        /* No memory for waiter nodes: still honour ownership, cancel and join. */
        cancel_unfinished(n, tasks);
        cause = -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        tasks[i]->awaited = true;
        if (w && tasks[i]->state != CORA__DONE) watch(&w[i], tasks[i], self);
    }
    while (!cause) {
        for (size_t i = 0; fail_fast && !first_error && i < n; i++)
            if (tasks[i]->state == CORA__DONE && tasks[i]->status < 0) {
                first_error = tasks[i]->status;
                cancel_unfinished(n, tasks);
            }
        if (all_done(n, tasks)) break;
        int p = cora__suspend(&cora__wait_tasks_all, &set, cora__cancel_wake, NULL);
        if (p < 0) { /* the gathering task was cancelled or timed out */
            cause = p;
            cancel_unfinished(n, tasks);
        }
    }
    if (cause && w) join_all_shielded(n, tasks);
    if (!w && n) {
        cora_scope shield; /* the no-memory path: join one by one */
        cora_shield_enter(&shield);
        for (size_t i = 0; i < n; i++)
            if (tasks[i]->state != CORA__DONE) {
                cora__waiter one;
                watch(&one, tasks[i], self);
                cora__task_set one_set = {1, &tasks[i]};
                while (tasks[i]->state != CORA__DONE)
                    cora__park(&cora__wait_tasks_all, &one_set, cora__cancel_wake, NULL);
            }
        cora_scope_exit(&shield);
    }
    for (size_t i = 0; i < n; i++) {
        if (!first_error && tasks[i]->status < 0) first_error = tasks[i]->status;
        if (out) out[i] = (cora_outcome){tasks[i]->status, tasks[i]->result};
        cora__task_release(tasks[i]);
    }
    free(w);
    return cause ? cause : first_error;
}

static bool wait_satisfied(size_t n, cora_task *const *tasks, int mode)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state == CORA__DONE) {
            if (mode == CORA_FIRST_COMPLETED) return true;
            if (mode == CORA_FIRST_ERROR && tasks[i]->status < 0) return true;
            done++;
        }
    return done == n;
}

int cora_wait(size_t n, cora_task *const *tasks, int mode, double timeout, unsigned char *done)
{
    cora_task *self = cora__current();
    int r = check_tasks(n, tasks, self, false);
    if (r < 0) return r;
    if (mode != CORA_FIRST_COMPLETED && mode != CORA_FIRST_ERROR && mode != CORA_ALL_COMPLETED)
        return -EINVAL;
    if (timeout != timeout) return -EINVAL;
    cora__waiter *w = n ? cora__calloc(n, sizeof *w) : NULL;
    if (n && !w) return -ENOMEM;
    for (size_t i = 0; i < n; i++)
        if (tasks[i]->state != CORA__DONE) watch(&w[i], tasks[i], self);
    cora_scope deadline;
    bool timed = timeout >= 0;
    if (timed && (r = cora_move_on_after(&deadline, timeout)) < 0) {
        for (size_t i = 0; i < n; i++) unwatch(&w[i]);
        free(w);
        return r;
    }
    r = 0;
    cora__task_set set = {n, tasks};
    const cora__wait_desc *why =
        mode == CORA_ALL_COMPLETED ? &cora__wait_tasks_all : &cora__wait_tasks_any;
    while (!wait_satisfied(n, tasks, mode)) {
        r = cora__suspend(why, &set, cora__cancel_wake, NULL);
        if (r < 0) break;
    }
    /* Our own deadline passing is not an error: it ends the wait (asyncio.wait). */
    if (timed && cora_scope_exit(&deadline) == 0 && r == -ETIMEDOUT &&
        cora_scope_cause(&deadline) == -ETIMEDOUT && !cora__pending_cancel(self))
        r = 0;
    for (size_t i = 0; i < n; i++) unwatch(&w[i]);
    free(w);
    if (r < 0) return r;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        bool d = tasks[i]->state == CORA__DONE;
        if (done) done[i] = d;
        count += d;
    }
    return count;
}

typedef struct as_completed_impl {
    cora_task **pending; /* not yet handed out */
    size_t left;
    int64_t deadline;
} as_completed_impl;

_Static_assert(sizeof(as_completed_impl) <= sizeof(cora_as_completed), "stand-in too small");

int cora_as_completed_init(cora_as_completed *it, size_t n, cora_task *const *tasks,
                           double timeout)
{
    as_completed_impl *a = (as_completed_impl *)(void *)it;
    memset(it, 0, sizeof *it);
    int r = check_tasks(n, tasks, cora__current(), false);
    if (r < 0) return r;
    if (timeout != timeout) return -EINVAL;
    a->pending = n ? cora__malloc(n * sizeof *a->pending) : NULL;
    if (n && !a->pending) return -ENOMEM;
    if (n) memcpy(a->pending, tasks, n * sizeof *tasks);
    a->left = n;
    a->deadline = timeout < 0 ? CORA_NO_DEADLINE
                  : timeout >= 9.2e9 ? CORA_NO_DEADLINE
                                     : cora_now_ns() + (int64_t)(timeout * 1e9);
    return 0;
}

int cora_as_completed_next(cora_as_completed *it, cora_task **out)
{
    as_completed_impl *a = (as_completed_impl *)(void *)it;
    if (!out) return -EINVAL;
    *out = NULL;
    for (;;) {
        if (a->left == 0) return 0;
        /* Of the tasks that have ended, the one that ended first. */
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < a->left; i++)
            if (a->pending[i]->state == CORA__DONE &&
                (best == SIZE_MAX || a->pending[i]->done_seq < a->pending[best]->done_seq))
                best = i;
        if (best != SIZE_MAX) {
            *out = a->pending[best];
            memmove(&a->pending[best], &a->pending[best + 1],
                    (a->left - best - 1) * sizeof *a->pending);
            a->left--;
            return 1;
        }
        int64_t now = cora_now_ns();
        if (a->deadline != CORA_NO_DEADLINE && now >= a->deadline) return -ETIMEDOUT;
        double t = a->deadline == CORA_NO_DEADLINE ? -1 : (double)(a->deadline - now) / 1e9;
        int r = cora_wait(a->left, a->pending, CORA_FIRST_COMPLETED, t, NULL);
        if (r < 0) return r;
    }
}

void cora_as_completed_free(cora_as_completed *it)
{
    as_completed_impl *a = (as_completed_impl *)(void *)it;
    free(a->pending);
    memset(it, 0, sizeof *it);
}

int cora_wait_for(cora_task *t, double seconds, void **result)
{
    cora_task *self = cora__current();
    int r = check_tasks(1, &t, self, true);
    if (r < 0) return r;
    cora_scope scope;
    if ((r = cora_fail_after(&scope, seconds)) < 0) return r;
    t->awaited = true;
    cora__waiter w;
    if (t->state != CORA__DONE) watch(&w, t, self);
    int cause = 0;
    cora__task_set set = {1, &t};
    while (t->state != CORA__DONE) {
        int p = cora__suspend(&cora__wait_tasks_all, &set, cora__cancel_wake, NULL);
        if (p < 0) {
            cause = p; /* our deadline (-ETIMEDOUT) or the caller's cancellation */
            cora_cancel(t);
            join_all_shielded(1, &t);
        }
    }
    cora_scope_exit(&scope);
    int status = t->status;
    void *res = t->result;
    cora__task_release(t);
    /* A task that succeeded keeps its result even if the deadline passed meanwhile
     * (it may own memory): nothing is lost. */
    if (status == 0) {
        if (result) *result = res;
        return 0;
    }
    return cause ? cause : status;
}

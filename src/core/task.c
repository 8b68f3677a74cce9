/* src/core/task.c: tasks: spawning, switching, parking and waking, awaiting,
 * cancelling, and the suspension points every other layer builds on. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Switching ----------------------------------------------------------------- */

/* Scheduler -> task. Returns when the task parks, yields or ends. */
static void switch_to_task(cora_loop *loop, cora_task *t)
{
#ifdef CORA__ASAN
    __sanitizer_start_switch_fiber(&loop->asan_fake, t->stack->lo, t->stack->size);
#endif
#ifdef CORA__TSAN
    __tsan_switch_to_fiber(t->tsan_fiber, 0);
#endif
    cora__ctx_switch(&loop->sched_ctx, &t->ctx);
#ifdef CORA__ASAN
    __sanitizer_finish_switch_fiber(loop->asan_fake, NULL, NULL);
#endif
}

/* Task -> scheduler, coming back later. */
static void switch_to_sched(cora_task *t)
{
    cora_loop *loop = t->loop;
#ifdef CORA__ASAN
    __sanitizer_start_switch_fiber(&t->asan_fake, loop->sched_stack_bottom,
                                   loop->sched_stack_size);
#endif
#ifdef CORA__TSAN
    __tsan_switch_to_fiber(loop->tsan_fiber, 0);
#endif
    cora__ctx_switch(&t->ctx, &loop->sched_ctx);
#ifdef CORA__ASAN
    __sanitizer_finish_switch_fiber(t->asan_fake, &loop->sched_stack_bottom,
                                    &loop->sched_stack_size);
#endif
}

#define TASK_FREE_MAX 4096 /* task records a loop keeps for reuse */

/* ---- Life of a task ------------------------------------------------------------ */

static void finish(cora_task *t, int status, void *result)
{
    cora_loop *loop = t->loop;
    t->status = status;
    t->result = result;
    t->state = CORA__DONE;
    t->done_seq = ++loop->done_count;
    loop->live--;
    cora__list *l;
    while ((l = cora__list_pop_front(&t->done_waiters))) {
        cora__waiter *w = CORA__CONTAINER_OF(l, cora__waiter, link);
        w->fn(w, t);
    }
}

static void task_entry(void *p)
{
    cora_task *t = p;
    cora_loop *loop = t->loop;
#ifdef CORA__ASAN
    /* First arrival on this stack: learn where the scheduler's stack is. */
    __sanitizer_finish_switch_fiber(NULL, &loop->sched_stack_bottom, &loop->sched_stack_size);
#endif
    void *r = t->fn(t->arg);
    if (t->scopes) cora__scopes_abandon(t);
    int status = 0;
    if (t->failed)
        status = t->status;
    else if (t->cancel_delivered)
        status = -ECANCELED, r = NULL;
    finish(t, status, r);
#ifdef CORA__ASAN
    /* NULL: this fiber is gone, ASan may free its fake stack. */
    __sanitizer_start_switch_fiber(NULL, loop->sched_stack_bottom, loop->sched_stack_size);
#endif
#ifdef CORA__TSAN
    __tsan_switch_to_fiber(loop->tsan_fiber, 0);
#endif
    cora__ctx_switch(&t->ctx, &loop->sched_ctx);
    abort(); /* a finished task is never resumed */
}

/* Gives back the stack of a task that ended; the handle lives on until given up. */
static void drop_stack(cora_loop *loop, cora_task *t)
{
    if (t->stack) {
        cora__stack_put(&loop->stacks, t->stack);
        t->stack = NULL;
    }
#ifdef CORA__TSAN
    if (t->tsan_fiber) {
        __tsan_destroy_fiber(t->tsan_fiber);
        t->tsan_fiber = NULL;
    }
#endif
}

void cora__task_switch_in(cora_loop *loop, cora_task *t)
{
    if (!t->started) {
        t->started = true;
        if (t->cancel_requested) { /* cancelled before it ever ran: it never runs */
            finish(t, -ECANCELED, NULL);
            goto ended;
        }
        t->stack = cora__stack_get(&loop->stacks, t->stack_size);
        if (!t->stack) {
            finish(t, -ENOMEM, NULL);
            goto ended;
        }
        cora__ctx_make(&t->ctx, t->stack->lo, t->stack->size, task_entry, t);
#ifdef CORA__TSAN
        t->tsan_fiber = __tsan_create_fiber(0);
#endif
    }
    loop->current = t;
    t->state = CORA__RUNNING;
    t->budget = CORA__BUDGET;
    loop->stat_switches++;
    if (loop->debug) {
        t->switches++;
        cora__debug_switch_in(loop, t);
        switch_to_task(loop, t);
        cora__debug_switch_out(loop, t);
    } else {
        switch_to_task(loop, t);
    }
    loop->current = NULL;
    if (t->state != CORA__DONE) return;
ended:
    drop_stack(loop, t);
    if (t->detached) {
        cora__report_unobserved(t);
        cora__task_release(t);
    }
}

void cora__task_release(cora_task *t)
{
    drop_stack(t->loop, t); /* still set only when a loop closes on a failed poll */
    cora__list_remove(&t->all_link);
    cora__census_now.tasks--;
    free(t->locals);
    if (t->trace) { /* (free(NULL) is a call, on the spawn+await path) */
        free(t->trace);
        t->trace = NULL;
    }
    /* Keep the record for the next spawn: glibc's per-thread cache holds only 7 of a
     * size, so a batch of spawns would otherwise go through the main allocator (a
     * third of spawn+await's instructions, measured with callgrind). */
    cora_loop *loop = t->loop;
    if (loop->nfree_tasks < TASK_FREE_MAX) {
        t->arg = loop->free_tasks;
        loop->free_tasks = t;
        loop->nfree_tasks++;
    } else {
        free(t);
    }
}

/* A detached task that ended: nobody will see a failure unless it is printed. (Tasks
 * whose handles were dropped are reported by loop_close; a group child's failure went
 * to its group.) */
void cora__report_unobserved(cora_task *t)
{
    if (t->in_group || t->status >= 0 || t->status == -ECANCELED) return;
    char where[512], site[544] = "";
    if (t->spawn_site) {
        cora__symbolize(where, sizeof where, t->spawn_site);
        snprintf(site, sizeof site, " spawned at %s", where);
    }
    fprintf(stderr,
            "cora: task '%s' (id %llu)%s failed with %s (%s) and nobody awaited it (it was "
            "detached).\n  Handle the error inside the task, or cora_await() it instead of "
            "detaching it%s.\n",
            cora_task_name(t), (unsigned long long)t->id, site, cora_err_name(t->status),
            cora_strerror(t->status),
            t->spawn_site ? "" : "; CORA_DEBUG=1 shows where it was spawned");
}

/* ---- Spawning ------------------------------------------------------------------ */

int cora__spawn_at(cora_task **out, cora_fn fn, void *arg, const cora_spawn_opts *opts,
                   void *site)
{
    cora_loop *loop = cora__loop();
    if (!loop) return -EPERM;
    if (!out || !fn) return -EINVAL;
    size_t stack_size = opts ? opts->stack_size : 0;
    if (stack_size > CORA_STACK_MAX) return -EINVAL;
    cora_task *t = loop->free_tasks;
    if (t) {
        loop->free_tasks = t->arg;
        loop->nfree_tasks--;
        /* Everything but the name, which only needs its first byte cleared. */
        memset(t, 0, offsetof(cora_task, name));
        t->name[0] = 0;
    } else if (!(t = cora__calloc(1, sizeof *t))) {
        return -ENOMEM;
    }
    t->loop = loop;
    t->fn = fn;
    t->arg = arg;
    t->stack_size = stack_size;
    t->state = CORA__READY;
    t->timer.index = SIZE_MAX;
    t->id = ++loop->next_task_id;
    if (loop->debug) {
        t->spawn_site = site;
        t->switches = 0;
        t->run_ns = 0;
    }
    loop->stat_spawns++;
    /* The default name "task-<id>" is made when first asked for: formatting it
     * here would cost more than the rest of spawn. */
    if (opts && opts->name) snprintf(t->name, sizeof t->name, "%s", opts->name);
    if (loop->current && loop->current->nlocals && cora__local_inherit(t, loop->current) < 0) {
        free(t); /* not counted, not listed: plain free is right */
        return -ENOMEM;
    }
    /* A loop that is shutting down cancels newcomers at once (they never run), as
     * it cancelled everything else. */
    if (loop->stopping) t->cancel_requested = true;
    cora__list_init(&t->link);
    cora__list_init(&t->done_waiters);
    cora__list_init(&t->group_link);
    cora__census_now.tasks++;
    cora__list_push_back(&loop->tasks, &t->all_link);
    cora__list_push_back(&loop->runq, &t->link);
    loop->runq_len++;
    loop->live++;
    *out = t;
    return 0;
}

/* The spawn site is the caller's return address: one register read, kept only in
 * debug mode. */
int cora_spawn_ex(cora_task **out, cora_fn fn, void *arg, const cora_spawn_opts *opts)
{
    return cora__spawn_at(out, fn, arg, opts, __builtin_return_address(0));
}

cora_task *cora_spawn(cora_fn fn, void *arg)
{
    cora_task *t = NULL;
    int r = cora__spawn_at(&t, fn, arg, NULL, __builtin_return_address(0));
    if (r < 0) errno = -r;
    return t;
}

/* ---- Parking and waking -------------------------------------------------------- */

/* What the task waits for, noted before anything that may return early (the fields
 * are read only while it is parked): the values then need no register across the
 * cancellation check, which keeps await's path (spawn+await's) as short as before. */
static inline __attribute__((always_inline)) void note_wait(cora_task *t, const cora__wait_desc *why,
                                                            const void *on,
                                                            cora__cancel_fn on_cancel,
                                                            void *wait_obj)
{
    t->on_cancel = on_cancel;
    t->wait_obj = wait_obj;
    t->wait_desc = why;
    t->wait_on = on;
}

static inline __attribute__((always_inline)) int park_noted(cora_loop *loop, cora_task *t)
{
    t->state = CORA__SUSPENDED;
    if (__builtin_expect(loop->debug, 0)) cora__debug_park(loop, t);
    switch_to_sched(t);
    if (t->wake_result == -ECANCELED) {
        /* Woken by a cancellation: report its cause (-ETIMEDOUT for a deadline). */
        int c = cora__deliver_cancel(t);
        return c ? c : -ECANCELED;
    }
    return t->wake_result;
}

int cora__park(const cora__wait_desc *why, const void *on, cora__cancel_fn on_cancel,
               void *wait_obj)
{
    cora_loop *loop = cora__loop();
    cora_task *t = loop->current;
    note_wait(t, why, on, on_cancel, wait_obj);
    return park_noted(loop, t);
}

int cora__suspend(const cora__wait_desc *why, const void *on, cora__cancel_fn on_cancel,
                  void *wait_obj)
{
    cora_loop *loop = cora__loop();
    cora_task *t = loop ? loop->current : NULL;
    if (!t) return -EPERM;
    note_wait(t, why, on, on_cancel, wait_obj);
    if (t->cancel_requested || t->scopes) { /* cora__checkpoint */
        int c = cora__deliver_cancel(t);
        if (c) return c;
    }
    return park_noted(loop, t);
}

void cora__cancel_wake(cora_task *t)
{
    cora__wake(t, -ECANCELED);
}

void cora__wake(cora_task *t, int result)
{
    cora_loop *loop = t->loop;
    if (t->state != CORA__SUSPENDED) return;
    t->wake_result = result;
    t->on_cancel = NULL;
    t->wait_obj = NULL;
    t->state = CORA__READY;
    cora__list_push_back(&loop->runq, &t->link);
    loop->runq_len++;
}

int cora_yield(void)
{
    int c = cora__checkpoint();
    if (c) return c;
    cora_task *t = cora__loop()->current;
    t->state = CORA__READY;
    cora__list_push_back(&t->loop->runq, &t->link);
    t->loop->runq_len++;
    switch_to_sched(t);
    return cora__checkpoint();
}

int cora__budget_spend(void)
{
    cora_loop *loop = cora__loop();
    cora_task *t = loop ? loop->current : NULL;
    if (t && --t->budget == 0) return cora_yield();
    return 0;
}

/* ---- Awaiting, detaching, cancelling ------------------------------------------- */

static cora_task *awaited_task(const cora_task *t, const void *on)
{
    (void)t;
    return (cora_task *)on;
}

static const cora__wait_desc wait_await = {.what = "await", .holder = awaited_task};

static void await_done(cora__waiter *w, cora_task *done)
{
    (void)done;
    cora__wake(w->task, 0);
}

int cora_await(cora_task *t, void **result)
{
    cora_loop *loop = cora__loop();
    cora_task *self = loop ? loop->current : NULL;
    if (!t) return -EINVAL;
    if (!self || t->loop != loop) return -EPERM;
    if (t == self) return -EDEADLK;
    if (t->detached || t->in_group) return -EINVAL;
    if (t->state != CORA__DONE) {
        if (t->awaited) return -EBUSY;
        cora__waiter w = {.fn = await_done, .task = self};
        cora__list_push_back(&t->done_waiters, &w.link);
        t->awaited = true;
        int r = cora__suspend(&wait_await, t, cora__cancel_wake, NULL);
        if (t->state != CORA__DONE) { /* the caller was cancelled: t goes on */
            cora__list_remove(&w.link);
            t->awaited = false;
            return r < 0 ? r : -ECANCELED;
        }
    }
    int status = t->status;
    if (result) *result = t->result;
    cora__task_release(t);
    return status;
}

int cora_detach(cora_task *t)
{
    if (!t || t->detached || t->in_group || t->awaited) return -EINVAL;
    t->detached = true;
    if (t->state == CORA__DONE) {
        cora__report_unobserved(t);
        cora__task_release(t);
    }
    return 0;
}

int cora_cancel(cora_task *t)
{
    if (!t) return -EINVAL;
    if (t->state == CORA__DONE) return 0;
    t->cancel_requested = true;
    cora__poke(t);
    return 0;
}

void *cora_fail(int err)
{
    cora_task *t = cora__current();
    if (t) {
        t->failed = true;
        t->status = err < 0 ? err : -EINVAL;
    }
    return NULL;
}

cora_task *cora_current(void)
{
    cora_loop *loop = cora__loop();
    return loop ? loop->current : NULL;
}

const char *cora_task_name(const cora_task *t)
{
    if (!t) return "";
    if (!t->name[0]) {
        cora_task *m = (cora_task *)t; /* the name is filled in lazily, once */
        snprintf(m->name, sizeof m->name, "task-%llu", (unsigned long long)t->id);
    }
    return t->name;
}

uint64_t cora_task_id(const cora_task *t)
{
    return t ? t->id : 0;
}

int cora_task_done(const cora_task *t)
{
    return t && t->state == CORA__DONE;
}

/* ---- Sleeping ------------------------------------------------------------------ */

static void sleep_fire(cora__timer *tm)
{
    cora__wake(CORA__CONTAINER_OF(tm, cora_task, timer), 0);
}

static void sleep_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)on;
    if (t->timer.deadline == INT64_MAX) {
        snprintf(buf, cap, "forever");
        return;
    }
    int64_t left = t->timer.deadline - cora_now_ns();
    snprintf(buf, cap, "%.3f s left", left > 0 ? (double)left / 1e9 : 0.0);
}

static const cora__wait_desc wait_sleep = {.what = "sleep", .detail = sleep_detail};

static void sleep_cancel(cora_task *t)
{
    cora__heap_remove(&t->loop->timers, &t->timer);
    cora__wake(t, -ECANCELED);
}

int cora_sleep_until_ns(int64_t deadline_ns)
{
    int c = cora__checkpoint();
    if (c) return c;
    cora_task *t = cora__loop()->current;
    t->timer.deadline = deadline_ns;
    t->timer.fire = sleep_fire;
    if (cora__heap_push(&t->loop->timers, &t->timer) < 0) return -ENOMEM;
    return cora__park(&wait_sleep, NULL, sleep_cancel, NULL);
}

int cora_sleep_ns(int64_t ns)
{
    if (ns <= 0) return cora_yield();
    cora_loop *loop = cora__loop();
    if (!loop || !loop->current) return -EPERM;
    /* Relative to the loop's cached clock for this round would drift under a long
     * round; read the clock, the call is cheap (vDSO). */
    int64_t now = cora_now_ns();
    return cora_sleep_until_ns(ns > INT64_MAX - now ? INT64_MAX : now + ns);
}

int cora_sleep(double seconds)
{
    if (seconds != seconds) return -EINVAL; /* NaN */
    if (seconds <= 0) return cora_yield();
    if (seconds >= 9.2e9) return cora_sleep_ns(INT64_MAX);
    return cora_sleep_ns((int64_t)(seconds * 1e9));
}

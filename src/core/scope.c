/* src/core/scope.c: cancel scopes: timeouts that nest, and shields.
 *
 * A task carries a stack of scopes (innermost first), threaded through the scope
 * structs themselves, which live on the task's own stack. Whether a suspension point
 * must fail is decided by walking that stack from the innermost scope outwards:
 *   - a scope that was cancelled (its deadline passed, or cora_scope_cancel) gives
 *     its cause: -ETIMEDOUT for a deadline, -ECANCELED otherwise;
 *   - a shielding scope stops the walk: what is cancelled outside it waits until the
 *     shield is left;
 *   - past the outermost scope, the task's own cancellation (cora_cancel) applies.
 * So nested timeouts need no arithmetic: whichever deadline passes first cancels its
 * scope, and everything inside it sees that. (Trio's model; asyncio.timeout is the
 * same idea with one scope per `async with`.)
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static_assert(sizeof(cora__scope) <= sizeof(cora_scope), "cora_scope stand-in too small");
static_assert(_Alignof(cora__scope) <= _Alignof(cora_scope), "cora_scope misaligned");

static cora__scope *impl(cora_scope *s)
{
    return (cora__scope *)(void *)s;
}

int cora__pending_cancel(const cora_task *t)
{
    for (const cora__scope *s = t->scopes; s; s = s->outer) {
        if (s->cause) return s->cause;
        if (s->shield) return 0;
    }
    return t->cancel_requested ? -ECANCELED : 0;
}

int cora__deliver_cancel(cora_task *t)
{
    for (cora__scope *s = t->scopes; s; s = s->outer) {
        if (s->cause) {
            s->delivered = true;
            return s->cause;
        }
        if (s->shield) return 0;
    }
    if (t->cancel_requested) {
        t->cancel_delivered = true;
        return -ECANCELED;
    }
    return 0;
}

void cora__poke(cora_task *t)
{
    if (t->state == CORA__SUSPENDED && t->on_cancel && cora__pending_cancel(t)) {
        cora__cancel_fn fn = t->on_cancel;
        t->on_cancel = NULL;
        fn(t);
    }
}

static void scope_fire(cora__timer *tm)
{
    cora__scope *s = CORA__CONTAINER_OF(tm, cora__scope, timer);
    if (!s->cause) s->cause = -ETIMEDOUT;
    cora__poke(s->task);
}

int cora_scope_enter(cora_scope *scope, int64_t deadline_ns, unsigned flags)
{
    cora_task *t = cora__current();
    if (!t) return -EPERM;
    if (!scope || (flags & ~(CORA_SCOPE_SHIELD | CORA_SCOPE_MOVE_ON))) return -EINVAL;
    cora__scope *s = impl(scope);
    memset(s, 0, sizeof *s);
    s->task = t;
    s->shield = (flags & CORA_SCOPE_SHIELD) != 0;
    s->move_on = (flags & CORA_SCOPE_MOVE_ON) != 0;
    s->timer.index = SIZE_MAX;
    if (deadline_ns != CORA_NO_DEADLINE) {
        if (deadline_ns <= cora_now_ns()) {
            s->cause = -ETIMEDOUT; /* already late: expired from the start */
        } else {
            s->timer.deadline = deadline_ns;
            s->timer.fire = scope_fire;
            if (cora__heap_push(&t->loop->timers, &s->timer) < 0) return -ENOMEM;
        }
    }
    s->outer = t->scopes;
    t->scopes = s;
    return 0;
}

static int64_t after(double seconds)
{
    if (seconds != seconds) return INT64_MIN; /* NaN: refused by the callers */
    if (seconds <= 0) return cora_now_ns();
    if (seconds >= 9.2e9) return CORA_NO_DEADLINE;
    return cora_now_ns() + (int64_t)(seconds * 1e9);
}

int cora_fail_after(cora_scope *scope, double seconds)
{
    int64_t d = after(seconds);
    return d == INT64_MIN ? -EINVAL : cora_scope_enter(scope, d, 0);
}

int cora_move_on_after(cora_scope *scope, double seconds)
{
    int64_t d = after(seconds);
    return d == INT64_MIN ? -EINVAL : cora_scope_enter(scope, d, CORA_SCOPE_MOVE_ON);
}

int cora_shield_enter(cora_scope *scope)
{
    return cora_scope_enter(scope, CORA_NO_DEADLINE, CORA_SCOPE_SHIELD);
}

static void disarm(cora__scope *s)
{
    if (cora__timer_armed(&s->timer)) cora__heap_remove(&s->task->loop->timers, &s->timer);
}

int cora_scope_exit(cora_scope *scope)
{
    cora_task *t = cora__current();
    if (!t || !scope) return -EINVAL;
    cora__scope *s = impl(scope);
    if (t->scopes != s) return -EINVAL; /* not the innermost scope of this task */
    disarm(s);
    t->scopes = s->outer;
    return s->cause == -ETIMEDOUT && !s->move_on ? -ETIMEDOUT : 0;
}

void cora_scope_cancel(cora_scope *scope)
{
    cora__scope *s = impl(scope);
    if (s->cause) return;
    s->cause = -ECANCELED;
    disarm(s);
    cora__poke(s->task);
}

int cora_scope_cause(const cora_scope *scope)
{
    return ((const cora__scope *)(const void *)scope)->cause;
}

void cora__scopes_abandon(cora_task *t)
{
    /* A task returned inside a scope it never exited. Its scope structs were in
     * frames that are gone, so only the timers (which the loop would fire into that
     * memory) are taken back, and the mistake is reported. */
    for (cora__scope *s = t->scopes; s; s = s->outer) {
        disarm(s);
        fprintf(stderr, "cora: task '%s' returned without cora_scope_exit() for a scope it "
                        "entered; every scope must be exited in the function that entered it\n",
                cora_task_name(t));
    }
    t->scopes = NULL;
}

/* src/core/group.c: task groups (structured concurrency: asyncio.TaskGroup, Trio's
 * nursery).
 *
 * The group owns its children: each child's end is seen through a done-waiter node
 * embedded in the child, which counts it off, records a failure, and on the first
 * failure cancels the siblings. Children are released as they end (their outcomes
 * reach the program through the failures list or through their own arguments).
 * cora_group_wait returns only once no child is left, whatever happened, so a group
 * never leaves a task running behind the code that made it.
 */
#include "internal.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct group_impl {
    cora__list children; /* live children, through cora_task.group_link */
    size_t live;
    cora_task *waiter; /* parked in cora_group_wait */
    cora_loop *loop;
    int *errs; /* every failure, in the order they happened */
    size_t nerrs, caperrs;
    bool cancelled; /* cancelled as a whole, or after a first failure */
    bool supervise; /* failures do not cancel siblings */
} group_impl;

/* A supervising group may see failures for as long as it lives: keep a bounded
 * number of codes (the count stays exact). */
#define SUPERVISE_KEEP 64

static_assert(sizeof(group_impl) <= sizeof(cora_group), "cora_group stand-in too small");
static_assert(_Alignof(group_impl) <= _Alignof(cora_group), "cora_group misaligned");

static group_impl *impl(cora_group *g)
{
    return (group_impl *)(void *)g;
}

int cora_group_init_ex(cora_group *g, unsigned flags)
{
    if (!g || (flags & ~CORA_GROUP_SUPERVISE)) return -EINVAL;
    group_impl *G = impl(g);
    memset(G, 0, sizeof *G);
    cora__list_init(&G->children);
    G->loop = cora__loop();
    G->supervise = (flags & CORA_GROUP_SUPERVISE) != 0;
    return G->loop ? 0 : -EPERM;
}

int cora_group_init(cora_group *g)
{
    return cora_group_init_ex(g, 0);
}

static void cancel_children(group_impl *G)
{
    G->cancelled = true;
    for (cora__list *l = G->children.next; l != &G->children; l = l->next)
        cora_cancel(CORA__CONTAINER_OF(l, cora_task, group_link));
}

static void child_done(cora__waiter *w, cora_task *t)
{
    group_impl *G = t->group;
    cora__list_remove(&t->group_link);
    G->live--;
    /* A child that ended -ECANCELED because the group cancelled it did not fail. */
    if (t->status < 0 && !(t->status == -ECANCELED && G->cancelled)) {
        if (G->nerrs == G->caperrs && !(G->supervise && G->caperrs >= SUPERVISE_KEEP)) {
            size_t cap = G->caperrs ? G->caperrs * 2 : 4;
            int *e = cora__realloc(G->errs, cap * sizeof *e);
            if (e) G->errs = e, G->caperrs = cap;
        }
        /* Out of memory, the count still grows; the lost codes read as -ENOMEM. */
        if (G->nerrs < G->caperrs) G->errs[G->nerrs] = t->status;
        G->nerrs++;
        if (!G->cancelled && !G->supervise) cancel_children(G);
    }
    if (G->live == 0 && G->waiter) cora__wake(G->waiter, 0);
    (void)w;
}

int cora_group_spawn(cora_group *g, cora_fn fn, void *arg, const cora_spawn_opts *opts)
{
    if (!g) return -EINVAL;
    group_impl *G = impl(g);
    if (G->loop != cora__loop()) return -EPERM;
    cora_task *t;
    int r = cora__spawn_at(&t, fn, arg, opts, __builtin_return_address(0));
    if (r < 0) return r;
    t->group = G;
    t->in_group = true;
    t->detached = true; /* released by the loop when it ends; the group saw its outcome */
    t->group_node.fn = child_done;
    t->group_node.task = NULL;
    cora__list_push_back(&t->done_waiters, &t->group_node.link);
    cora__list_push_back(&G->children, &t->group_link);
    G->live++;
    /* Spawning into a group that is already failing or cancelled: the child starts
     * cancelled (it never runs), as everything else in the group was. */
    if (G->cancelled) cora_cancel(t);
    return 0;
}

void cora_group_cancel(cora_group *g)
{
    if (g) cancel_children(impl(g));
}

/* For the dump: a group waits for all its children, so its first live child blocks
 * it (an edge of the wait-for graph). */
static cora_task *first_child(const cora_task *t, const void *on)
{
    (void)t;
    const group_impl *G = on;
    if (cora__list_empty(&G->children)) return NULL;
    return CORA__CONTAINER_OF(G->children.next, cora_task, group_link);
}

static void group_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    snprintf(buf, cap, "%zu children live", ((const group_impl *)on)->live);
}

static const cora__wait_desc wait_group = {
    .what = "task group", .holder = first_child, .detail = group_detail};

int cora_group_wait(cora_group *g)
{
    cora_task *self = cora__current();
    if (!g) return -EINVAL;
    group_impl *G = impl(g);
    if (!self || G->loop != self->loop) return -EPERM;
    if (G->waiter) return -EBUSY;
    int cause = 0;
    G->waiter = self;
    while (G->live > 0 && !cause) {
        int p = cora__suspend(&wait_group, G, cora__cancel_wake, NULL);
        if (p < 0) cause = p;
    }
    if (cause) { /* the waiter was cancelled or timed out: the children go too */
        cancel_children(G);
        cora_scope shield;
        cora_shield_enter(&shield);
        while (G->live > 0)
            cora__park(&wait_group, G, cora__cancel_wake, NULL);
        cora_scope_exit(&shield);
    }
    G->waiter = NULL;
    if (cause) return cause;
    return G->nerrs ? cora_group_failure(g, 0) : 0;
}

size_t cora_group_failures(const cora_group *g)
{
    return g ? ((const group_impl *)(const void *)g)->nerrs : 0;
}

int cora_group_failure(const cora_group *g, size_t i)
{
    const group_impl *G = (const group_impl *)(const void *)g;
    if (!G || i >= G->nerrs) return 0;
    return i < G->caperrs ? G->errs[i] : -ENOMEM;
}

void cora_group_destroy(cora_group *g)
{
    if (!g) return;
    group_impl *G = impl(g);
    free(G->errs);
    G->errs = NULL;
    G->nerrs = G->caperrs = 0;
}

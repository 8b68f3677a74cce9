/* src/sync/event.c: events (asyncio.Event). */
#include "../core/internal.h"
#include "cora/sync.h"

#include <assert.h>

typedef struct event_impl {
    cora__list waiters;
    uintptr_t set;
} event_impl;

static_assert(sizeof(event_impl) <= sizeof(cora_event), "cora_event stand-in too small");
static_assert(_Alignof(event_impl) <= _Alignof(cora_event), "cora_event misaligned");

static event_impl *impl(cora_event *ev)
{
    return (event_impl *)(void *)ev;
}

void cora_event_init(cora_event *ev)
{
    event_impl *e = impl(ev);
    cora__list_init(&e->waiters);
    e->set = 0;
}

void cora_event_set(cora_event *ev)
{
    event_impl *e = impl(ev);
    e->set = 1;
    cora__list *l;
    while ((l = cora__list_pop_front(&e->waiters)))
        cora__wake(CORA__CONTAINER_OF(l, cora_task, link), 0);
}

void cora_event_clear(cora_event *ev)
{
    impl(ev)->set = 0;
}

int cora_event_is_set(const cora_event *ev)
{
    return ((const event_impl *)(const void *)ev)->set != 0;
}

static void wait_cancel(cora_task *t)
{
    cora__list_remove(&t->link);
    cora__wake(t, -ECANCELED);
}

int cora_event_wait(cora_event *ev)
{
    int c = cora__checkpoint();
    if (c) return c;
    event_impl *e = impl(ev);
    if (e->set) return 0;
    cora_task *t = cora_current();
    cora__list_push_back(&e->waiters, &t->link);
    return cora__park(wait_cancel, e);
}

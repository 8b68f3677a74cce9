/* src/sync/event.c: events (asyncio.Event). */
#include "internal.h"

#include <errno.h>

typedef struct event_impl {
    cora__list waiters;
    uintptr_t set;
} event_impl;
CORA__STANDIN(event_impl, cora_event);

static const cora__wait_desc wait_event = {.what = "event"};

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
    cora__wq_wake_all(&e->waiters, 0);
}

void cora_event_clear(cora_event *ev)
{
    impl(ev)->set = 0;
}

int cora_event_is_set(const cora_event *ev)
{
    return ((const event_impl *)(const void *)ev)->set != 0;
}

int cora_event_wait(cora_event *ev)
{
    event_impl *e = impl(ev);
    int c = cora__checkpoint();
    if (c) return c;
    if (e->set) return 0;
    cora__wq_node n;
    return cora__wq_wait(&e->waiters, &n, &wait_event, e);
}

static int wait_cb(void *ev)
{
    return cora_event_wait(ev);
}

int cora_event_wait_timeout(cora_event *ev, double seconds)
{
    return cora__with_timeout(seconds, wait_cb, ev);
}

/* src/core/local.c: task-local storage, the role of Python's contextvars.
 *
 * Each task keeps a small array of (key, value) pairs; lookups scan it, which beats
 * hashing for the handful of keys a program uses. A new task starts with a copy of
 * its spawner's array, as asyncio runs a new task in a copy of the current context. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cora__local_inherit(cora_task *child, const cora_task *parent)
{
    if (parent->nlocals == 0) return 0;
    child->locals = cora__malloc(parent->nlocals * sizeof *child->locals);
    if (!child->locals) return -ENOMEM;
    memcpy(child->locals, parent->locals, parent->nlocals * sizeof *child->locals);
    child->nlocals = child->caplocals = parent->nlocals;
    return 0;
}

int cora_local_set(cora_local *key, void *value)
{
    cora_task *t = cora__current();
    if (!t) return -EPERM;
    if (!key) return -EINVAL;
    for (uint32_t i = 0; i < t->nlocals; i++)
        if (t->locals[i].key == key) {
            t->locals[i].value = value;
            return 0;
        }
    if (t->nlocals == t->caplocals) {
        uint32_t cap = t->caplocals ? t->caplocals * 2 : 4;
        cora__local_slot *s = cora__realloc(t->locals, cap * sizeof *s);
        if (!s) return -ENOMEM;
        t->locals = s;
        t->caplocals = cap;
    }
    t->locals[t->nlocals++] = (cora__local_slot){key, value};
    return 0;
}

void *cora_local_get(const cora_local *key)
{
    cora_task *t = cora__current();
    if (!t) return NULL;
    for (uint32_t i = 0; i < t->nlocals; i++)
        if (t->locals[i].key == key) return t->locals[i].value;
    return NULL;
}

/* src/core/timer.c: the timer heap.
 *
 * A binary min-heap of timer pointers keyed by (deadline, seq): O(log n) insert and
 * remove, O(1) peek at the next deadline. Each timer knows its index, so removing a
 * cancelled timer needs no search. The sequence number makes equal deadlines fire in
 * the order they were armed, so runs are deterministic. A hierarchical wheel would
 * make insert O(1), but sleeps of a few tasks dominate in practice and bench/ shows
 * the heap already beats libuv's on a million random deadlines.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static bool before(const cora__timer *a, const cora__timer *b)
{
    return a->deadline < b->deadline || (a->deadline == b->deadline && a->seq < b->seq);
}

static void place(cora__heap *h, size_t i, cora__timer *t)
{
    h->items[i] = t;
    t->index = i;
}

static void sift_up(cora__heap *h, size_t i)
{
    cora__timer *t = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(t, h->items[parent])) break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, t);
}

static void sift_down(cora__heap *h, size_t i)
{
    cora__timer *t = h->items[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->len) break;
        if (c + 1 < h->len && before(h->items[c + 1], h->items[c])) c++;
        if (!before(h->items[c], t)) break;
        place(h, i, h->items[c]);
        i = c;
    }
    place(h, i, t);
}

void cora__heap_init(cora__heap *h)
{
    h->items = NULL;
    h->len = h->cap = 0;
    h->next_seq = 0;
}

void cora__heap_free(cora__heap *h)
{
    free(h->items);
    cora__heap_init(h);
}

int cora__heap_push(cora__heap *h, cora__timer *t)
{
    if (h->len == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        cora__timer **items = cora__realloc(h->items, cap * sizeof *items);
        if (!items) return -ENOMEM;
        h->items = items;
        h->cap = cap;
    }
    t->seq = h->next_seq++;
    h->items[h->len] = t;
    t->index = h->len++;
    sift_up(h, t->index);
    return 0;
}

void cora__heap_remove(cora__heap *h, cora__timer *t)
{
    size_t i = t->index;
    t->index = SIZE_MAX;
    cora__timer *last = h->items[--h->len];
    if (i == h->len) return;
    place(h, i, last);
    if (i > 0 && before(last, h->items[(i - 1) / 2]))
        sift_up(h, i);
    else
        sift_down(h, i);
}

/* src/sync/chan.c: Go-style channels and select.
 *
 * A channel carries fixed-size elements, copied in and out. Unbuffered channels
 * (capacity 0) are rendezvous: a send completes only when a receiver takes the value.
 * Each channel keeps two queues of waiting tasks (senders and receivers); a waiter
 * points at the caller's element, so a matching operation copies straight from one
 * task's memory to the other's, and wakes the waiter with its result already set.
 *
 * select parks one waiter on each of its channels, all sharing one `sel` record. The
 * first operation to match any of them marks the record fired; the select's other
 * waiters are then dead and skipped (and removed) by whoever meets them, and the
 * select removes all its waiters when it resumes. This is Go's design (sudogs with a
 * shared selectdone flag).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sel_state {
    bool fired;
    int index;
} sel_state;

typedef struct chan_waiter {
    cora__list link; /* in sendq or recvq */
    cora_task *task;
    void *elem;     /* send: the value; recv: where it goes */
    sel_state *sel; /* NULL for a plain send or recv */
    int index;      /* the select case this waiter stands for */
    int result;     /* recv: 1 value / 0 closed; send: 0 sent / -EPIPE closed */
    bool done;
} chan_waiter;

struct cora_chan {
    size_t elem_size, cap;
    unsigned char *buf;
    size_t head, len;
    bool closed;
    cora_loop *loop;
    cora__list sendq, recvq;
};

int cora_chan_new(cora_chan **out, size_t elem_size, size_t capacity)
{
    if (!out || elem_size == 0) return -EINVAL;
    *out = NULL;
    cora_loop *loop = cora__loop();
    if (!loop) return -EPERM;
    if (capacity && elem_size > SIZE_MAX / capacity) return -EINVAL;
    cora_chan *ch = cora__calloc(1, sizeof *ch);
    if (!ch) return -ENOMEM;
    if (capacity && !(ch->buf = cora__malloc(elem_size * capacity))) {
        free(ch);
        return -ENOMEM;
    }
    ch->elem_size = elem_size;
    ch->cap = capacity;
    ch->loop = loop;
    cora__list_init(&ch->sendq);
    cora__list_init(&ch->recvq);
    *out = ch;
    return 0;
}

int cora_chan_free(cora_chan *ch)
{
    if (!ch) return 0;
    if (!cora__list_empty(&ch->sendq) || !cora__list_empty(&ch->recvq)) return -EBUSY;
    free(ch->buf);
    free(ch);
    return 0;
}

size_t cora_chan_len(const cora_chan *ch)
{
    return ch ? ch->len : 0;
}

/* ---- waiters -------------------------------------------------------------------- */

/* The first waiter in q that can still be matched; dead select waiters met on the
 * way are dropped. */
static chan_waiter *first_live(cora__list *q)
{
    while (!cora__list_empty(q)) {
        chan_waiter *w = CORA__CONTAINER_OF(q->next, chan_waiter, link);
        if (!w->sel || !w->sel->fired) return w;
        cora__list_remove(&w->link);
    }
    return NULL;
}

static void complete(chan_waiter *w, int result)
{
    cora__list_remove(&w->link);
    w->result = result;
    w->done = true;
    if (w->sel) {
        w->sel->fired = true;
        w->sel->index = w->index;
    }
    cora__wake(w->task, 0);
}

static void *slot(cora_chan *ch, size_t i)
{
    return ch->buf + ((ch->head + i) % ch->cap) * ch->elem_size;
}

/* ---- the non-blocking core shared by send, recv and select ------------------------ */

/* Tries to send. Returns 0 (sent), -EPIPE (closed), or -EAGAIN (would wait). */
static int try_send(cora_chan *ch, const void *elem)
{
    if (ch->closed) return -EPIPE;
    chan_waiter *r = first_live(&ch->recvq);
    if (r) { /* receivers wait only on an empty buffer: hand over directly */
        memcpy(r->elem, elem, ch->elem_size);
        complete(r, 1);
        return 0;
    }
    if (ch->len < ch->cap) {
        memcpy(slot(ch, ch->len++), elem, ch->elem_size);
        return 0;
    }
    return -EAGAIN;
}

/* Tries to receive. Returns 1 (a value), 0 (closed and drained), or -EAGAIN. */
static int try_recv(cora_chan *ch, void *elem)
{
    if (ch->len) {
        memcpy(elem, slot(ch, 0), ch->elem_size);
        ch->head = (ch->head + 1) % ch->cap;
        ch->len--;
        chan_waiter *s = first_live(&ch->sendq); /* a waiting sender takes the slot */
        if (s) {
            memcpy(slot(ch, ch->len++), s->elem, ch->elem_size);
            complete(s, 0);
        }
        return 1;
    }
    chan_waiter *s = first_live(&ch->sendq);
    if (s) { /* unbuffered: take the value from the sender */
        memcpy(elem, s->elem, ch->elem_size);
        complete(s, 0);
        return 1;
    }
    return ch->closed ? 0 : -EAGAIN;
}

static int check(cora_chan *ch)
{
    if (!ch) return -EINVAL;
    if (ch->loop != cora__loop()) return -EPERM;
    return 0;
}

static void waiter_cancel(cora_task *t)
{
    /* Every waiter of this task goes when it resumes; just wake it. */
    cora__wake(t, -ECANCELED);
}

/* Parks the caller with one waiter per entry of w[0..n) (already queued), until one
 * completes or the wait is cancelled. Removes every waiter before returning. */
static void chan_detail(const cora_task *t, const void *on, char *buf, size_t cap)
{
    (void)t;
    const cora_chan *ch = on;
    snprintf(buf, cap, "%zu of %zu buffered%s", ch->len, ch->cap, ch->closed ? ", closed" : "");
}

static const cora__wait_desc wait_send = {.what = "channel send", .detail = chan_detail};
static const cora__wait_desc wait_recv = {.what = "channel receive", .detail = chan_detail};
static const cora__wait_desc wait_select = {.what = "select"};

static int park_waiters(chan_waiter *w, size_t n, sel_state *sel, const cora__wait_desc *why,
                        const cora_chan *ch)
{
    int r = cora__park(why, ch, waiter_cancel, NULL);
    for (size_t i = 0; i < n; i++)
        if (!w[i].done && w[i].link.next) cora__list_remove(&w[i].link);
    if (sel ? sel->fired : w[0].done) return 0; /* a match beats a late cancellation */
    return r < 0 ? r : -ECANCELED;
}

/* ---- send and receive ----------------------------------------------------------- */

static int send(cora_chan *ch, const void *elem, bool wait)
{
    int r = check(ch);
    if (r < 0) return r;
    if (!elem) return -EINVAL;
    if (wait && (r = cora__checkpoint())) return r;
    r = try_send(ch, elem);
    if (r != -EAGAIN || !wait) return r;
    chan_waiter w = {.task = cora__current(), .elem = (void *)elem};
    cora__list_push_back(&ch->sendq, &w.link);
    r = park_waiters(&w, 1, NULL, &wait_send, ch);
    return r < 0 ? r : w.result;
}

int cora_chan_send(cora_chan *ch, const void *elem)
{
    if (!cora__current()) return -EPERM;
    return send(ch, elem, true);
}

int cora_chan_trysend(cora_chan *ch, const void *elem)
{
    return send(ch, elem, false);
}

static int recv(cora_chan *ch, void *elem, bool wait)
{
    int r = check(ch);
    if (r < 0) return r;
    if (!elem) return -EINVAL;
    if (wait && (r = cora__checkpoint())) return r;
    r = try_recv(ch, elem);
    if (r != -EAGAIN || !wait) return r;
    chan_waiter w = {.task = cora__current(), .elem = elem};
    cora__list_push_back(&ch->recvq, &w.link);
    r = park_waiters(&w, 1, NULL, &wait_recv, ch);
    return r < 0 ? r : w.result;
}

int cora_chan_recv(cora_chan *ch, void *elem)
{
    if (!cora__current()) return -EPERM;
    return recv(ch, elem, true);
}

int cora_chan_tryrecv(cora_chan *ch, void *elem)
{
    return recv(ch, elem, false);
}

struct timed_op {
    cora_chan *ch;
    void *elem;
};

static int send_cb(void *arg)
{
    struct timed_op *t = arg;
    return cora_chan_send(t->ch, t->elem);
}

static int recv_cb(void *arg)
{
    struct timed_op *t = arg;
    return cora_chan_recv(t->ch, t->elem);
}

int cora_chan_send_timeout(cora_chan *ch, const void *elem, double seconds)
{
    struct timed_op t = {ch, (void *)elem};
    return cora__with_timeout(seconds, send_cb, &t);
}

int cora_chan_recv_timeout(cora_chan *ch, void *elem, double seconds)
{
    struct timed_op t = {ch, elem};
    return cora__with_timeout(seconds, recv_cb, &t);
}

int cora_chan_close(cora_chan *ch)
{
    int r = check(ch);
    if (r < 0) return r;
    if (ch->closed) return -EPIPE;
    ch->closed = true;
    chan_waiter *w;
    /* Receivers waiting means the buffer is empty: they all see the end. Senders
     * waiting learn their value was not sent. */
    while ((w = first_live(&ch->recvq))) complete(w, 0);
    while ((w = first_live(&ch->sendq))) complete(w, -EPIPE);
    return 0;
}

/* ---- select --------------------------------------------------------------------- */

/* xorshift64*, per loop: select's random order needs no global state. */
static uint64_t next_random(cora_loop *loop)
{
    uint64_t x = loop->rng ? loop->rng : 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)loop;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    loop->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static int try_case(cora_case *c)
{
    int r = c->op == CORA_SEND ? try_send(c->ch, c->elem) : try_recv(c->ch, c->elem);
    if (r == -EAGAIN) return r;
    c->result = r;
    return 0;
}

int cora_select(cora_case *cases, size_t n, double timeout)
{
    cora_task *self = cora__current();
    if (!self) return -EPERM;
    if ((n && !cases) || n > 1024 || timeout != timeout) return -EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!cases[i].ch) continue; /* a NULL channel never fires (Go's nil channel) */
        if ((cases[i].op != CORA_SEND && cases[i].op != CORA_RECV) || !cases[i].elem)
            return -EINVAL;
        int r = check(cases[i].ch);
        if (r < 0) return r;
    }
    int r = cora__checkpoint();
    if (r) return r;
    /* Ready cases are taken in a random order, so none starves (Go does the same). */
    size_t order_small[16], *order = n <= 16 ? order_small : cora__malloc(n * sizeof *order);
    if (!order) return -ENOMEM;
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = next_random(self->loop) % i, t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    int fired = -1;
    for (size_t k = 0; k < n && fired < 0; k++)
        if (cases[order[k]].ch && try_case(&cases[order[k]]) == 0) fired = (int)order[k];
    if (order != order_small) free(order);
    if (fired >= 0) return fired;
    if (timeout == 0) return -EAGAIN; /* the default case */

    chan_waiter w_small[8], *w = n <= 8 ? w_small : cora__calloc(n, sizeof *w);
    if (!w) return -ENOMEM;
    sel_state sel = {false, -1};
    for (size_t i = 0; i < n; i++) {
        w[i] = (chan_waiter){.task = self, .elem = cases[i].elem, .sel = &sel, .index = (int)i};
        if (!cases[i].ch) continue;
        cora__list_push_back(cases[i].op == CORA_SEND ? &cases[i].ch->sendq : &cases[i].ch->recvq,
                             &w[i].link);
    }
    cora_scope deadline;
    bool timed = timeout > 0;
    if (timed && (r = cora_fail_after(&deadline, timeout)) < 0) {
        for (size_t i = 0; i < n; i++)
            if (w[i].link.next) cora__list_remove(&w[i].link);
        if (w != w_small) free(w);
        return r;
    }
    r = park_waiters(w, n, &sel, &wait_select, NULL); /* with no channel at all, only a timeout or a
                                     * cancellation ends it (Go's empty select) */
    if (timed) cora_scope_exit(&deadline);
    if (sel.fired) {
        cases[sel.index].result = w[sel.index].result;
        r = sel.index;
    }
    if (w != w_small) free(w);
    return r;
}

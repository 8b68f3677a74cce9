/* tests/test_chan.c: Go-style channels and select. Runs once per backend. */
#include "harness.h"

static cora_chan *new_chan(size_t size, size_t cap)
{
    cora_chan *ch;
    assert_int_equal(cora_chan_new(&ch, size, cap), 0);
    return ch;
}

struct sender {
    cora_chan *ch;
    int value, result;
    int *log;
    int *nlog;
};

static void *send_one(void *arg)
{
    struct sender *s = arg;
    s->result = cora_chan_send(s->ch, &s->value);
    if (s->log) s->log[(*s->nlog)++] = s->value; /* after the send returned */
    return NULL;
}

static void *main_unbuffered(void *arg)
{
    cora_chan *ch = new_chan(sizeof(int), 0);
    int log[4], nlog = 0;
    struct sender s = {ch, 5, 1, log, &nlog};
    cora_task *t = cora_spawn(send_one, &s);
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(nlog, 0); /* no receiver yet: the sender waits */
    int trysend = 9;
    assert_int_equal(cora_chan_trysend(ch, &trysend), -EAGAIN);
    int v = 0;
    assert_int_equal(cora_chan_recv(ch, &v), 1);
    assert_int_equal(v, 5);
    assert_int_equal(cora_await(t, NULL), 0);
    assert_int_equal(s.result, 0);
    assert_int_equal(nlog, 1);
    assert_int_equal(cora_chan_tryrecv(ch, &v), -EAGAIN);
    assert_int_equal(cora_chan_free(ch), 0);
    return NULL;
}

static void unbuffered_rendezvous(void **state)
{
    run_ok(main_unbuffered, NULL);
}

struct big {
    char text[100];
    long n;
};

static void *main_buffered(void *arg)
{
    cora_chan *ch = new_chan(sizeof(struct big), 3);
    struct big b = {.n = 0};
    for (int i = 0; i < 3; i++) {
        snprintf(b.text, sizeof b.text, "message %d", i);
        b.n = i;
        assert_int_equal(cora_chan_trysend(ch, &b), 0); /* room: no wait */
    }
    assert_int_equal(cora_chan_len(ch), 3);
    assert_int_equal(cora_chan_trysend(ch, &b), -EAGAIN);
    for (int i = 0; i < 3; i++) {
        struct big got;
        assert_int_equal(cora_chan_recv(ch, &got), 1);
        char want[100];
        snprintf(want, sizeof want, "message %d", i);
        assert_string_equal(got.text, want); /* FIFO, whole elements copied */
        assert_int_equal(got.n, i);
    }
    assert_int_equal(cora_chan_send_timeout(ch, &b, 1), 0);
    assert_int_equal(cora_chan_free(ch), 0);
    cora_chan *bad;
    assert_int_equal(cora_chan_new(&bad, 0, 1), -EINVAL);
    assert_int_equal(cora_chan_new(&bad, SIZE_MAX / 2, 4), -EINVAL);
    return NULL;
}

static void buffered_fifo_elements(void **state)
{
    run_ok(main_buffered, NULL);
}

static void *recv_all(void *arg)
{
    cora_chan *ch = arg;
    int v, r, count = 0;
    while ((r = cora_chan_recv(ch, &v)) == 1) count++;
    return r < 0 ? cora_fail(r) : (void *)(intptr_t)count;
}

static void *main_close(void *arg)
{
    cora_chan *ch = new_chan(sizeof(int), 2);
    int v = 1;
    cora_chan_send(ch, &v);
    cora_chan_send(ch, &v);
    struct sender s = {ch, 3, 1, NULL, NULL};
    cora_task *blocked = cora_spawn(send_one, &s); /* buffer full: it waits */
    assert_int_equal(cora_yield(), 0);
    assert_int_equal(cora_chan_close(ch), 0);
    assert_int_equal(cora_await(blocked, NULL), 0);
    assert_int_equal(s.result, -EPIPE); /* not sent */
    assert_int_equal(cora_chan_send(ch, &v), -EPIPE);
    assert_int_equal(cora_chan_close(ch), -EPIPE);
    void *count;
    assert_int_equal(cora_await(cora_spawn(recv_all, ch), &count), 0);
    assert_int_equal((intptr_t)count, 2); /* the buffered values, then the end */
    /* Receivers already waiting are woken by close. */
    cora_chan *c2 = new_chan(sizeof(int), 0);
    cora_task *r1 = cora_spawn(recv_all, c2), *r2 = cora_spawn(recv_all, c2);
    assert_int_equal(cora_yield(), 0);
    cora_chan_close(c2);
    assert_int_equal(cora_await(r1, &count), 0);
    assert_int_equal((intptr_t)count, 0);
    assert_int_equal(cora_await(r2, NULL), 0);
    assert_int_equal(cora_chan_free(ch), 0);
    assert_int_equal(cora_chan_free(c2), 0);
    return NULL;
}

static void close_drains_then_ends(void **state)
{
    run_ok(main_close, NULL);
}

static void *main_cancel(void *arg)
{
    cora_chan *ch = new_chan(sizeof(int), 0);
    struct sender s = {ch, 11, 1, NULL, NULL};
    cora_task *t = cora_spawn(send_one, &s);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(t);
    assert_int_equal(cora_await(t, NULL), -ECANCELED);
    assert_int_equal(s.result, -ECANCELED);
    int v;
    assert_int_equal(cora_chan_tryrecv(ch, &v), -EAGAIN); /* the value never went */
    /* A cancelled receiver takes nothing. */
    cora_task *r = cora_spawn(recv_all, ch);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(r);
    assert_int_equal(cora_await(r, NULL), -ECANCELED);
    assert_int_equal(cora_chan_recv_timeout(ch, &v, 0.002), -ETIMEDOUT);
    assert_int_equal(cora_chan_free(ch), 0);
    return NULL;
}

static void cancelled_send_and_recv(void **state)
{
    run_ok(main_cancel, NULL);
}

enum { PINGS = 10000 };

static void *ponger(void *arg)
{
    cora_chan **ch = arg;
    int v;
    while (cora_chan_recv(ch[0], &v) == 1) {
        v++;
        if (cora_chan_send(ch[1], &v) < 0) break;
    }
    return NULL;
}

static void *main_pingpong(void *arg)
{
    cora_chan *ch[2] = {new_chan(sizeof(int), 0), new_chan(sizeof(int), 0)};
    cora_task *t = cora_spawn(ponger, ch);
    for (int i = 0; i < PINGS; i++) {
        int v = i * 2;
        assert_int_equal(cora_chan_send(ch[0], &v), 0);
        assert_int_equal(cora_chan_recv(ch[1], &v), 1);
        assert_int_equal(v, i * 2 + 1);
    }
    cora_chan_close(ch[0]);
    assert_int_equal(cora_await(t, NULL), 0);
    cora_chan_free(ch[0]);
    cora_chan_free(ch[1]);
    return NULL;
}

static void pingpong(void **state)
{
    run_ok(main_pingpong, NULL);
}

/* ---- select --------------------------------------------------------------------- */

static void *main_select_basic(void *arg)
{
    cora_chan *a = new_chan(sizeof(int), 1), *b = new_chan(sizeof(int), 1);
    int in = 0, out = 42;
    cora_case c[3] = {{CORA_RECV, a, &in, 9}, {CORA_SEND, b, &out, 9}, {CORA_RECV, NULL, &in, 9}};
    /* b has room: the send case is the only one ready. */
    assert_int_equal(cora_select(c, 3, -1), 1);
    assert_int_equal(c[1].result, 0);
    /* Nothing ready now (a empty, b full): the default case. */
    assert_int_equal(cora_select(c, 3, 0), -EAGAIN);
    assert_int_equal(cora_select(c, 3, 0.002), -ETIMEDOUT);
    int v = 7;
    cora_chan_send(a, &v);
    assert_int_equal(cora_select(c, 3, 0), 0);
    assert_int_equal(c[0].result, 1);
    assert_int_equal(in, 7);
    cora_chan_close(a);
    assert_int_equal(cora_select(c, 1, -1), 0); /* a closed channel is always ready */
    assert_int_equal(c[0].result, 0);
    cora_case bad = {99, b, &in, 0};
    assert_int_equal(cora_select(&bad, 1, 0), -EINVAL);
    assert_int_equal(cora_select(NULL, 0, 0.001), -ETIMEDOUT); /* empty select waits */
    assert_int_equal(cora_chan_recv(b, &v), 1);
    cora_chan_free(a);
    cora_chan_free(b);
    return NULL;
}

static void select_cases(void **state)
{
    run_ok(main_select_basic, NULL);
}

struct delayed {
    cora_chan *ch;
    int value;
};

static void *send_later(void *arg)
{
    struct delayed *d = arg;
    cora_sleep(0.002);
    return (void *)(intptr_t)cora_chan_send(d->ch, &d->value);
}

static void *main_select_blocks(void *arg)
{
    cora_chan *a = new_chan(sizeof(int), 0), *b = new_chan(sizeof(int), 0);
    int x = 0, y = 0;
    struct delayed d = {b, 5};
    cora_task *t = cora_spawn(send_later, &d);
    cora_case c[2] = {{CORA_RECV, a, &x, 0}, {CORA_RECV, b, &y, 0}};
    assert_int_equal(cora_select(c, 2, -1), 1);
    assert_int_equal(y, 5);
    assert_int_equal(cora_await(t, NULL), 0);
    /* The select left no waiter behind on a: a send there finds no receiver. */
    int v = 1;
    assert_int_equal(cora_chan_trysend(a, &v), -EAGAIN);
    /* A select waiting to send is matched by a receiver. */
    int out = 77;
    cora_case s[2] = {{CORA_SEND, a, &out, 9}, {CORA_RECV, b, &y, 9}};
    cora_task *r = cora_spawn(recv_all, a);
    assert_int_equal(cora_select(s, 2, 1), 0);
    assert_int_equal(s[0].result, 0);
    cora_chan_close(a);
    void *count;
    assert_int_equal(cora_await(r, &count), 0);
    assert_int_equal((intptr_t)count, 1);
    cora_chan_free(a);
    cora_chan_free(b);
    return NULL;
}

static void select_waits_and_cleans_up(void **state)
{
    run_ok(main_select_blocks, NULL);
}

static void *select_forever(void *arg)
{
    cora_chan *ch = arg;
    int v;
    cora_case c = {CORA_RECV, ch, &v, 0};
    return (void *)(intptr_t)cora_select(&c, 1, -1);
}

static void *main_select_cancel(void *arg)
{
    cora_chan *ch = new_chan(sizeof(int), 0);
    cora_task *t = cora_spawn(select_forever, ch);
    assert_int_equal(cora_yield(), 0);
    cora_cancel(t);
    void *r;
    assert_int_equal(cora_await(t, &r), -ECANCELED);
    int v = 3;
    assert_int_equal(cora_chan_trysend(ch, &v), -EAGAIN); /* no stale waiter */
    cora_chan_free(ch);
    return NULL;
}

static void select_cancelled(void **state)
{
    run_ok(main_select_cancel, NULL);
}

static void *main_select_fair(void *arg)
{
    enum { ROUNDS = 10000 };
    cora_chan *ch[3];
    for (int i = 0; i < 3; i++) ch[i] = new_chan(sizeof(int), 1);
    int v = 0, hits[3] = {0};
    cora_case c[3];
    for (int i = 0; i < 3; i++) c[i] = (cora_case){CORA_RECV, ch[i], &v, 0};
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < 3; i++) cora_chan_trysend(ch[i], &i); /* all always ready */
        int k = cora_select(c, 3, -1);
        assert_true(k >= 0 && k < 3);
        assert_int_equal(v, k);
        hits[k]++;
    }
    /* Random choice: each about a third; none starves. */
    for (int i = 0; i < 3; i++) assert_true(hits[i] > ROUNDS / 4);
    for (int i = 0; i < 3; i++) {
        cora_chan_tryrecv(ch[i], &v);
        cora_chan_free(ch[i]);
    }
    return NULL;
}

static void select_is_fair(void **state)
{
    run_ok(main_select_fair, NULL);
}

static const struct CMUnitTest tests[] = {
    CORA_TEST(unbuffered_rendezvous),
    CORA_TEST(buffered_fifo_elements),
    CORA_TEST(close_drains_then_ends),
    CORA_TEST(cancelled_send_and_recv),
    CORA_TEST(pingpong),
    CORA_TEST(select_cases),
    CORA_TEST(select_waits_and_cleans_up),
    CORA_TEST(select_cancelled),
    CORA_TEST(select_is_fair),
};

CORA_TEST_MAIN("chan", tests)

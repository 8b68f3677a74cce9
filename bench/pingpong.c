/* bench/pingpong.c: two tasks passing a message back and forth, with the public API.
 *
 * Two shapes, each over `n` round trips:
 *   chan   two unbuffered int channels (cora_chan_new(&c, sizeof(int), 0)), one each
 *          way: the pinger sends i on `ping` and receives on `pong`, the ponger
 *          receives on `ping` and sends it back on `pong`. Unbuffered is a rendezvous,
 *          so every message parks one task and wakes the other: the shape of Go's
 *          unbuffered `chan int` (peers/go/pingpong.go);
 *   queue  the same over two cora_queue with maxsize 1, items being the integer cast
 *          to a pointer: the shape of two asyncio.Queue(maxsize=1)
 *          (peers/python/pingpong.py).
 * One message is one send (put) and the receive (get) that takes it, so a round trip
 * is two messages. The figure is wall ns per message; messages per second is 1e9 over
 * it. The value is checked on the way back, so the work cannot be skipped.
 *
 *     pingpong [round-trips [repeats [chan|queue|all]]]
 */
#include <cora.h>
#include <stdbool.h>

#include "bench.h"

static long n_trips;

/* ---- channels ----------------------------------------------------------------- */

typedef struct chans {
    cora_chan *ping, *pong;
} chans;

static void *chan_ponger(void *arg)
{
    chans *c = arg;
    int v, r;
    /* Until the pinger closes `ping`: recv returns 0 there. */
    while ((r = cora_chan_recv(c->ping, &v)) == 1)
        if (cora_chan_send(c->pong, &v) < 0) return cora_fail(-EIO);
    return r == 0 ? NULL : cora_fail(-EIO);
}

/* n round trips over a fresh pair of channels; ns per message, or -1. */
static double chan_run(long n)
{
    chans c;
    if (cora_chan_new(&c.ping, sizeof(int), 0) < 0) return -1;
    if (cora_chan_new(&c.pong, sizeof(int), 0) < 0) return -1;
    /* The ponger is spawned outside the timing: spawning is spawn.c's figure. It
     * first runs when the pinger's first send parks. */
    cora_task *t = cora_spawn(chan_ponger, &c);
    if (!t) return -1;
    int64_t t0 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        int v = (int)i, back;
        if (cora_chan_send(c.ping, &v) < 0 || cora_chan_recv(c.pong, &back) != 1 || back != v)
            return -1;
    }
    int64_t t1 = bench_now_ns();
    cora_chan_close(c.ping);
    if (cora_await(t, NULL) < 0) return -1;
    cora_chan_free(c.ping);
    cora_chan_free(c.pong);
    return (double)(t1 - t0) / (2.0 * (double)n);
}

/* ---- queues ------------------------------------------------------------------- */

typedef struct queues {
    cora_queue *ping, *pong;
} queues;

/* The pinger sends 1..n; 0 (NULL) tells the ponger to stop. */
static void *queue_ponger(void *arg)
{
    queues *q = arg;
    void *item;
    for (;;) {
        if (cora_queue_get(q->ping, &item) < 0) return cora_fail(-EIO);
        if (!item) return NULL;
        if (cora_queue_put(q->pong, item) < 0) return cora_fail(-EIO);
    }
}

static double queue_run(long n)
{
    queues q;
    cora_queue_opts o = {.maxsize = 1};
    if (cora_queue_new(&q.ping, &o) < 0 || cora_queue_new(&q.pong, &o) < 0) return -1;
    cora_task *t = cora_spawn(queue_ponger, &q);
    if (!t) return -1;
    int64_t t0 = bench_now_ns();
    for (long i = 1; i <= n; i++) {
        void *back;
        if (cora_queue_put(q.ping, (void *)(intptr_t)i) < 0 || cora_queue_get(q.pong, &back) < 0 ||
            back != (void *)(intptr_t)i)
            return -1;
    }
    int64_t t1 = bench_now_ns();
    if (cora_queue_put(q.ping, NULL) < 0 || cora_await(t, NULL) < 0) return -1;
    cora_queue_free(q.ping);
    cora_queue_free(q.pong);
    return (double)(t1 - t0) / (2.0 * (double)n);
}

/* ---- driver ------------------------------------------------------------------- */

static long repeats;
static const char *mode;

/* Best of `repeats` runs after a short warm-up (stack pool, allocator); -1 on error. */
static double best_of(double (*run)(long))
{
    if (run(1000) < 0) return -1;
    double best = 0;
    for (long r = 0; r < repeats; r++) {
        double ns = run(n_trips);
        if (ns < 0) return -1;
        if (r == 0 || ns < best) best = ns;
    }
    return best;
}

static void report(const char *what, const char *key, double ns)
{
    printf("%s: %.2f ns per message, %.2f M messages/s (best of %ld runs of %ld round "
           "trips = %ld messages)\n",
           what, ns, 1e3 / ns, repeats, n_trips, 2 * n_trips);
    char name[64];
    bench_result(key, ns, "ns/msg");
    snprintf(name, sizeof name, "%s_rate", key);
    bench_result(name, 1e9 / ns, "msg/s");
}

static void *amain(void *arg)
{
    (void)arg;
    bool all = strcmp(mode, "all") == 0;
    if (all || strcmp(mode, "chan") == 0) {
        double ns = best_of(chan_run);
        if (ns < 0) return cora_fail(-EIO);
        report("cora_chan ping-pong, unbuffered int", "cora_chan_pingpong", ns);
    }
    if (all || strcmp(mode, "queue") == 0) {
        double ns = best_of(queue_run);
        if (ns < 0) return cora_fail(-EIO);
        report("cora_queue ping-pong, maxsize 1", "cora_queue_pingpong", ns);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    n_trips = bench_arg(argc, argv, 1, 1000000);
    repeats = bench_arg(argc, argv, 2, 3);
    mode = argc > 3 ? argv[3] : "all";
    if (n_trips < 1 || repeats < 1 ||
        (strcmp(mode, "all") && strcmp(mode, "chan") && strcmp(mode, "queue"))) {
        fprintf(stderr, "usage: pingpong [round-trips [repeats [chan|queue|all]]]\n");
        return 2;
    }
    int r = cora_run(amain, NULL, NULL);
    if (r < 0) {
        fprintf(stderr, "pingpong: %s\n", cora_strerror(r));
        return 1;
    }
    return 0;
}

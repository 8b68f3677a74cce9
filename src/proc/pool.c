/* src/proc/pool.c: the thread pool behind cora_to_thread.
 *
 * One pool per loop, made on first use. Jobs wait in a FIFO under the pool's mutex;
 * worker threads start on demand (when a job arrives and no thread is idle) up to
 * the limit, and stay until the loop closes. A finished job goes on a done list and
 * the loop is told with one coalesced call (cora__call_soon_node); on the loop thread
 * that callback wakes each waiting task. The node for that call is allocated with the
 * job, on the loop thread, where running out of memory is an error the caller gets:
 * on the worker's side the hand-back cannot fail, since a lost one would leave the
 * task parked for good (nothing else wakes it; a timeout does not either, because
 * a finished job's delivery wins).
 *
 * A job is heap-allocated and owned by whoever finishes with it last: the task when
 * it collects the result (or removes a job that never started), the worker when the
 * task abandoned it (then abandon(arg, result) releases what the job holds). The
 * `state` field, under the mutex, decides which.
 */
#include "../core/internal.h"
#include "cora/proc.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum job_state { QUEUED, RUNNING, FINISHED, ABANDONED };

typedef struct pool_job {
    cora__list link; /* in the queue, or in the done list */
    void *(*fn)(void *);
    void *arg;
    void (*abandon)(void *arg, void *result);
    void *result;
    cora_task *task;
    /* The hand-back to the loop, unless another job's is already on its way: under
     * the mutex; NULL once the worker posted it (the loop frees it) or freed it. */
    cora__call *done_node;
    int state;
    bool wait_if_running; /* cancellation waits for a running job (cora__pool_run) */
    atomic_int cancelled;
} pool_job;

struct cora__pool {
    pthread_mutex_t mu;
    pthread_cond_t work;
    cora__list queue, done;
    size_t threads, idle, max;
    pthread_t *tids;
    size_t ntids, captids;
    bool stopping, done_scheduled;
    cora_loop *loop;
};

static __thread pool_job *current_job;

int cora_thread_cancelled(void)
{
    return current_job && atomic_load(&current_job->cancelled);
}

/* ---- the worker side ------------------------------------------------------------ */

static void deliver(void *arg);

static void *worker(void *arg)
{
    cora__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stopping && cora__list_empty(&p->queue)) {
            p->idle++;
            pthread_cond_wait(&p->work, &p->mu);
            p->idle--;
        }
        if (cora__list_empty(&p->queue)) break; /* stopping, nothing left */
        pool_job *j = CORA__CONTAINER_OF(cora__list_pop_front(&p->queue), pool_job, link);
        j->state = RUNNING;
        pthread_mutex_unlock(&p->mu);
        current_job = j;
        void *r = j->fn(j->arg);
        current_job = NULL;
        pthread_mutex_lock(&p->mu);
        if (j->state == ABANDONED) { /* nobody will collect it: release it here */
            pthread_mutex_unlock(&p->mu);
            if (j->abandon) j->abandon(j->arg, r);
            free(j->done_node);
            free(j);
            pthread_mutex_lock(&p->mu);
            continue;
        }
        j->result = r;
        j->state = FINISHED;
        cora__list_push_back(&p->done, &j->link);
        if (p->done_scheduled) {
            free(j->done_node); /* the delivery on its way takes this job too */
        } else {
            cora__call_soon_node(p->loop, j->done_node); /* the loop frees it */
            p->done_scheduled = true;
        }
        j->done_node = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* On the loop thread: wake the tasks whose jobs finished. */
static void deliver(void *arg)
{
    cora__pool *p = arg;
    pthread_mutex_lock(&p->mu);
    p->done_scheduled = false;
    cora__list done = p->done;
    bool any = !cora__list_empty(&p->done);
    if (any) { /* move the list out from under the lock */
        done.next->prev = &done;
        done.prev->next = &done;
    }
    cora__list_init(&p->done);
    pthread_mutex_unlock(&p->mu);
    if (!any) return;
    cora__list *l;
    while ((l = cora__list_pop_front(&done))) {
        pool_job *j = CORA__CONTAINER_OF(l, pool_job, link);
        cora__wake(j->task, 0);
    }
}

/* ---- the pool ------------------------------------------------------------------- */

static void pool_close(cora_loop *loop);

static size_t default_max(void)
{
    const char *env = getenv("CORA_THREADS");
    long n = env ? atol(env) : 0;
    if (n >= 1 && n <= 1024) return (size_t)n;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    n = (cpus > 0 ? cpus : 1) + 4;
    return (size_t)(n > 32 ? 32 : n);
}

static cora__pool *pool_of(cora_loop *loop)
{
    if (loop->pool) return loop->pool;
    cora__pool *p = cora__calloc(1, sizeof *p);
    if (!p) return NULL;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    cora__list_init(&p->queue);
    cora__list_init(&p->done);
    p->max = default_max();
    p->loop = loop;
    loop->pool = p;
    loop->pool_close = pool_close;
    return p;
}

/* With the lock held: start a thread if the queue has more jobs than idle threads. */
static int maybe_start_thread(cora__pool *p)
{
    if (p->idle > 0 || p->threads >= p->max) return 0;
    if (p->ntids == p->captids) {
        size_t cap = p->captids ? p->captids * 2 : 8;
        pthread_t *t = cora__realloc(p->tids, cap * sizeof *t);
        if (!t) return -ENOMEM;
        p->tids = t;
        p->captids = cap;
    }
    int r = pthread_create(&p->tids[p->ntids], NULL, worker, p);
    if (r) return -r;
    p->ntids++;
    p->threads++;
    return 0;
}

static void pool_close(cora_loop *loop)
{
    cora__pool *p = loop->pool;
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    /* Abandoned jobs still running are waited for here: their threads must not
     * outlive the loop they would report to. */
    for (size_t i = 0; i < p->ntids; i++) pthread_join(p->tids[i], NULL);
    /* Every task has ended, so the queue and the done list hold nothing a task waits
     * for; a job left on the done list (its task is gone: the loop stopped on an
     * error) belongs to no one now. Its delivery, if queued, is dropped unrun with
     * the loop's inbox. */
    cora__list *l;
    while ((l = cora__list_pop_front(&p->done))) free(CORA__CONTAINER_OF(l, pool_job, link));
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->mu);
    free(p->tids);
    free(p);
    loop->pool = NULL;
}

int cora_to_thread_max(int n)
{
    cora_loop *loop = cora__loop();
    if (!loop) return -EPERM;
    if (n < 1 || n > 1024) return -EINVAL;
    cora__pool *p = pool_of(loop);
    if (!p) return -ENOMEM;
    pthread_mutex_lock(&p->mu);
    p->max = (size_t)n;
    pthread_mutex_unlock(&p->mu);
    return 0;
}

/* ---- the task side -------------------------------------------------------------- */

static void job_cancel(cora_task *t)
{
    pool_job *j = t->wait_obj;
    cora__pool *p = t->loop->pool;
    pthread_mutex_lock(&p->mu);
    switch (j->state) {
    case QUEUED: /* never started: it never will */
        cora__list_remove(&j->link);
        j->state = ABANDONED;
        pthread_mutex_unlock(&p->mu);
        if (j->abandon) j->abandon(j->arg, NULL);
        free(j->done_node);
        free(j);
        break;
    case RUNNING:
        atomic_store(&j->cancelled, 1);
        if (j->wait_if_running) { /* it may be writing into the task's memory: wait */
            pthread_mutex_unlock(&p->mu);
            return;
        }
        j->state = ABANDONED; /* the worker releases it when fn returns */
        pthread_mutex_unlock(&p->mu);
        break;
    default: /* FINISHED: its delivery is on the way and wins */
        pthread_mutex_unlock(&p->mu);
        return;
    }
    cora__wake(t, -ECANCELED);
}

/* A worker thread ends this wait: the loop is not stuck while a task waits so. */
static const cora__wait_desc wait_job = {.what = "thread-pool job", .external = true};

static int to_thread(void *(*fn)(void *), void *arg, void (*abandon)(void *, void *),
                     void **result, bool wait_if_running)
{
    cora_task *self = cora__current();
    if (!self) return -EPERM;
    if (!fn) return -EINVAL;
    int r = cora__checkpoint();
    if (r) return r;
    cora__pool *p = pool_of(self->loop);
    if (!p) return -ENOMEM;
    pool_job *j = cora__calloc(1, sizeof *j);
    cora__call *node = cora__malloc(sizeof *node);
    if (!j || !node) {
        free(j);
        free(node);
        return -ENOMEM;
    }
    *node = (cora__call){.fn = deliver, .arg = p};
    j->done_node = node;
    j->fn = fn;
    j->arg = arg;
    j->abandon = abandon;
    j->wait_if_running = wait_if_running;
    j->task = self;
    j->state = QUEUED;
    pthread_mutex_lock(&p->mu);
    cora__list_push_back(&p->queue, &j->link);
    r = maybe_start_thread(p);
    if (r < 0 && p->threads == 0) { /* nobody could ever run it */
        cora__list_remove(&j->link);
        pthread_mutex_unlock(&p->mu);
        free(j->done_node);
        free(j);
        return r == -ENOMEM ? r : -EAGAIN;
    }
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    self->loop->stat_jobs++;
    r = cora__park(&wait_job, j, job_cancel, j);
    if (r < 0) return r; /* abandoned: job_cancel or the worker frees it */
    /* Delivered: the job is ours to collect, even if a cancellation came meanwhile. */
    if (result) *result = j->result;
    free(j);
    return 0;
}

int cora_to_thread_ex(void *(*fn)(void *), void *arg, void (*abandon)(void *, void *),
                      void **result)
{
    return to_thread(fn, arg, abandon, result, false);
}

int cora_to_thread(void *(*fn)(void *), void *arg, void **result)
{
    return to_thread(fn, arg, NULL, result, false);
}

/* For operations that write into the caller's memory (file reads on epoll): a job
 * that has started is waited for even when the task is cancelled, as io_uring's
 * cancellation waits for the kernel; its real result is returned. */
int cora__pool_run(void *(*fn)(void *), void *arg, void **result)
{
    return to_thread(fn, arg, NULL, result, true);
}

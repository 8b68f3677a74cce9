/* examples/jobs.c: a concurrent job system.
 *
 * A queue of jobs; a pool of worker tasks taking jobs from it; a limit on how many
 * jobs run at once (a semaphore) and on how many start per second (a pacer);
 * failed jobs retried with exponential back-off; a live progress line; and on Ctrl-C
 * a clean stop that loses no job: every job ends up done, failed for good, or
 * reported as not done (and why).
 *
 *     jobs [-n JOBS] [-w WORKERS] [-c RUNNING] [-r STARTS_PER_S] [-f FAIL_PERCENT]
 *          [-t RETRIES] [-m MS_PER_JOB] [-v]
 *
 * Exit status: 0 when every job is done, 1 when some failed for good, 130 when
 * interrupted. The work itself is simulated (a sleep that fails now and then, from a
 * fixed pseudo-random sequence, so runs repeat).
 */
#include <cora.h>

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum job_state { PENDING, RUNNING, BACKING_OFF, DONE, FAILED };

static const char *state_name[] = {"not started", "interrupted while running",
                                   "interrupted while waiting to retry", "done", "failed"};

struct job {
    int id;
    int attempts;
    enum job_state state;
    int last_error;
};

struct config {
    int jobs, workers, running, retries, fail_percent, ms;
    double starts_per_s;
    int verbose;
};

struct system {
    struct config cfg;
    struct job *jobs;
    cora_queue *queue;
    cora_sem running;       /* how many jobs run at once */
    int64_t next_start_ns;  /* the pacer: the earliest time the next job may start */
    int done, failed, active, retried;
};

/* ---- the work ------------------------------------------------------------------- */

/* A fixed pseudo-random number for (job, attempt): runs are repeatable. */
static unsigned mix(unsigned a, unsigned b)
{
    unsigned x = a * 2654435761u ^ (b + 0x9e3779b9u + (a << 6) + (a >> 2));
    x ^= x >> 15;
    x *= 2246822519u;
    x ^= x >> 13;
    return x;
}

static int do_job(struct system *s, struct job *j)
{
    unsigned r = mix((unsigned)j->id, (unsigned)j->attempts);
    int err = cora_sleep((s->cfg.ms / 2 + (int)(r % (unsigned)(s->cfg.ms + 1))) / 1000.0);
    if (err < 0) return err; /* cancelled (Ctrl-C) */
    if ((int)((r >> 8) % 100) < s->cfg.fail_percent) return -EIO; /* the job failed */
    return 0;
}

/* ---- pacing: at most starts_per_s job starts per second ------------------------- */

static int wait_for_start_slot(struct system *s)
{
    if (s->cfg.starts_per_s <= 0) return 0;
    int64_t now = cora_now_ns(), slot = s->next_start_ns > now ? s->next_start_ns : now;
    s->next_start_ns = slot + (int64_t)(1e9 / s->cfg.starts_per_s);
    return slot > now ? cora_sleep_until_ns(slot) : 0;
}

/* ---- workers -------------------------------------------------------------------- */

static void *worker(void *arg)
{
    struct system *s = arg;
    void *item;
    while (cora_queue_get(s->queue, &item) == 0) {
        struct job *j = item;
        int err = wait_for_start_slot(s);
        if (err == 0) err = cora_sem_acquire(&s->running);
        if (err < 0) { /* stopped before the job started: it goes back as not started */
            cora_queue_task_done(s->queue);
            return cora_fail(err);
        }
        j->state = RUNNING;
        j->attempts++;
        s->active++;
        err = do_job(s, j);
        s->active--;
        cora_sem_release(&s->running);
        if (err == -ECANCELED) {
            cora_queue_task_done(s->queue);
            return cora_fail(err); /* j stays RUNNING: reported as interrupted */
        }
        if (err == 0) {
            j->state = DONE;
            s->done++;
        } else if (j->attempts > s->cfg.retries) {
            j->state = FAILED;
            j->last_error = err;
            s->failed++;
        } else {
            /* Back off 20 ms, 40 ms, 80 ms... with jitter, then queue it again. */
            j->state = BACKING_OFF;
            j->last_error = err;
            s->retried++;
            double backoff = 0.02 * (1 << (j->attempts - 1));
            backoff *= 0.5 + (mix((unsigned)j->id, 99u + (unsigned)j->attempts) % 100) / 100.0;
            if (s->cfg.verbose)
                fprintf(stderr, "job %d failed (%s), retry %d in %.0f ms\n", j->id,
                        cora_err_name(err), j->attempts, backoff * 1000);
            if ((err = cora_sleep(backoff)) < 0) {
                cora_queue_task_done(s->queue);
                return cora_fail(err);
            }
            j->state = PENDING;
            if (cora_queue_put(s->queue, j) < 0) { /* shut down meanwhile */
                cora_queue_task_done(s->queue);
                break;
            }
        }
        cora_queue_task_done(s->queue);
    }
    return NULL;
}

/* ---- progress ------------------------------------------------------------------- */

static void print_progress(struct system *s, const char *end)
{
    fprintf(stderr, "\r%d/%d done, %d failed, %d running, %d retries%s", s->done, s->cfg.jobs,
            s->failed, s->active, s->retried, end);
}

static void *progress(void *arg)
{
    struct system *s = arg;
    /* A live line on a terminal; elsewhere (logs, tests) nothing until the end. */
    if (!isatty(2)) return NULL;
    while (cora_sleep(0.1) == 0) print_progress(s, "   ");
    return NULL;
}

/* ---- main ----------------------------------------------------------------------- */

static void drop_unstarted(void *item, void *ctx)
{
    (void)item;
    (void)ctx; /* it stays PENDING and is reported as not started */
}

static void *amain(void *arg)
{
    struct system *s = arg;
    int err = cora_queue_new(&s->queue, NULL);
    if (err < 0) return cora_fail(err);
    cora_sem_init(&s->running, (unsigned)s->cfg.running);
    for (int i = 0; i < s->cfg.jobs; i++) cora_queue_put(s->queue, &s->jobs[i]);

    cora_group workers;
    cora_group_init(&workers);
    for (int i = 0; i < s->cfg.workers; i++) cora_group_spawn(&workers, worker, s, NULL);
    cora_task *bar = cora_spawn(progress, s);

    /* Every job done (or failed for good) - or Ctrl-C, which cancels this task. */
    int interrupted = cora_queue_join(s->queue) == -ECANCELED;

    /* Stop: no job starts any more (what is queued is reported as not started), the
     * workers end (cancelled if interrupted), and we wait for all of them. Shielded,
     * since this task itself may be the one that was cancelled. */
    cora_scope shield;
    cora_shield_enter(&shield);
    cora_queue_shutdown_now(s->queue, drop_unstarted, NULL);
    if (interrupted) cora_group_cancel(&workers);
    cora_group_wait(&workers);
    cora_group_destroy(&workers);
    cora_cancel(bar);
    cora_await(bar, NULL);
    cora_scope_exit(&shield);
    print_progress(s, "\n");
    while (cora_queue_free(s->queue) == -EBUSY) cora_yield();
    /* Interrupted, this task ends with -ECANCELED (its cancellation was delivered),
     * which is how main() below learns it. */
    (void)interrupted;
    return NULL;
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [-n JOBS] [-w WORKERS] [-c RUNNING] [-r STARTS_PER_S] [-f FAIL_PERCENT]\n"
            "          [-t RETRIES] [-m MS_PER_JOB] [-v]\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    struct system s = {.cfg = {.jobs = 40, .workers = 8, .running = 4, .retries = 4,
                               .fail_percent = 20, .ms = 100, .starts_per_s = 50}};
    int opt;
    while ((opt = getopt(argc, argv, "n:w:c:r:f:t:m:v")) != -1) {
        switch (opt) {
        case 'n': s.cfg.jobs = atoi(optarg); break;
        case 'w': s.cfg.workers = atoi(optarg); break;
        case 'c': s.cfg.running = atoi(optarg); break;
        case 'r': s.cfg.starts_per_s = atof(optarg); break;
        case 'f': s.cfg.fail_percent = atoi(optarg); break;
        case 't': s.cfg.retries = atoi(optarg); break;
        case 'm': s.cfg.ms = atoi(optarg); break;
        case 'v': s.cfg.verbose = 1; break;
        default: return usage(argv[0]);
        }
    }
    if (s.cfg.jobs < 0 || s.cfg.jobs > 1000000 || s.cfg.workers < 1 || s.cfg.running < 1 ||
        s.cfg.retries < 0 || s.cfg.retries > 20 || s.cfg.fail_percent < 0 ||
        s.cfg.fail_percent > 100 || s.cfg.ms < 0 || s.cfg.starts_per_s < 0)
        return usage(argv[0]);
    s.jobs = calloc((size_t)s.cfg.jobs + 1, sizeof *s.jobs);
    if (!s.jobs) return 1;
    for (int i = 0; i < s.cfg.jobs; i++) s.jobs[i].id = i + 1;

    int64_t t0 = cora_now_ns();
    int err = cora_run(amain, &s, NULL);
    int interrupted = err == -ECANCELED;
    if (err < 0 && !interrupted) {
        fprintf(stderr, "jobs: %s\n", cora_strerror(err));
        return 1;
    }

    /* The report: every job accounted for. */
    int not_done = 0;
    for (int i = 0; i < s.cfg.jobs; i++) {
        struct job *j = &s.jobs[i];
        if (j->state == DONE) continue;
        if (j->state == FAILED)
            printf("job %d: failed after %d attempts (%s)\n", j->id, j->attempts,
                   cora_err_name(j->last_error));
        else {
            printf("job %d: not done: %s\n", j->id, state_name[j->state]);
            not_done++;
        }
    }
    printf("%d jobs: %d done, %d failed, %d not done, %d retries, %.2f s%s\n", s.cfg.jobs,
           s.done, s.failed, not_done, s.retried, (double)(cora_now_ns() - t0) / 1e9,
           interrupted ? " (interrupted)" : "");
    free(s.jobs);
    return interrupted ? 130 : s.failed ? 1 : 0;
}

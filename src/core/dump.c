/* src/core/dump.c: seeing inside a loop: the task dump, the wait-for graph (deadlocks
 * and "all tasks are asleep"), and per-task accounting (cora/debug.h, docs/debug.md).
 *
 * Every suspension point parks through cora__park with a static descriptor of what
 * it waits for (cora__wait_desc) and the object it waits on. That is enough to
 * describe each wait, and the descriptor's `holder` gives the edge of the wait-for
 * graph: the task that must act first (a lock's owner, the task awaited). In debug
 * mode each park also records when and where (a backtrace) it happened, and follows
 * the edges from the parking task: coming back to it is a deadlock, reported once
 * when the cycle closes. Outside debug mode the cost is two stores per park.
 */
#include "cora/debug.h"
#include "internal.h"

#include <errno.h>
#include <execinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRACE_MAX 16
#define CHAIN_MAX 64 /* longest wait-for chain followed */

struct cora__park_trace {
    int n;
    void *pc[TRACE_MAX];
};

/* ---- Describing a task ---------------------------------------------------------- */

static const char *state_name(const cora_task *t)
{
    switch (t->state) {
    case CORA__READY:
        return t->started ? "ready" : "not started";
    case CORA__RUNNING:
        return "running";
    case CORA__SUSPENDED:
        return "suspended";
    default:
        return "done, not collected";
    }
}

/* "lock 0x55.. held by task 'b' (id 3)", "I/O: read on fd 7", "sleep: 2.000 s left". */
static void wait_text(const cora_task *t, char *buf, size_t cap)
{
    const cora__wait_desc *w = t->wait_desc;
    if (t->state != CORA__SUSPENDED || !w) {
        snprintf(buf, cap, "-");
        return;
    }
    char detail[160] = "";
    if (w->detail) w->detail(t, t->wait_on, detail, sizeof detail);
    cora_task *h = w->holder ? w->holder(t, t->wait_on) : NULL;
    char by[CORA_TASK_NAME_MAX + 64] = "";
    if (h)
        snprintf(by, sizeof by, ", blocked by task '%s' (id %llu)", cora_task_name(h),
                 (unsigned long long)h->id);
    /* The object's address tells two locks apart; a wait with details, or one whose
     * object is the task it names (await), needs none. */
    if (detail[0])
        snprintf(buf, cap, "%s (%s)%s", w->what, detail, by);
    else if (t->wait_on && t->wait_on != h)
        snprintf(buf, cap, "%s %p%s", w->what, t->wait_on, by);
    else
        snprintf(buf, cap, "%s%s", w->what, by);
}

static void dump_task(FILE *out, const cora_task *t, int64_t now)
{
    char wait[320];
    wait_text(t, wait, sizeof wait);
    fprintf(out, "  task %llu '%s': %s", (unsigned long long)t->id, cora_task_name(t),
            state_name(t));
    if (t->state == CORA__SUSPENDED) {
        fprintf(out, ", waiting for %s", wait);
        if (t->loop->debug && t->parked_ns)
            fprintf(out, ", for %.3f s", (double)(now - t->parked_ns) / 1e9);
    }
    if (t == t->loop->current) fprintf(out, " (the task printing this dump)");
    fputc('\n', out);
    char where[512];
    if (t->spawn_site) {
        cora__symbolize(where, sizeof where, t->spawn_site);
        fprintf(out, "      spawned at: %s\n", where);
    }
    fprintf(out, "      read %llu B, written %llu B", (unsigned long long)t->bytes_read,
            (unsigned long long)t->bytes_written);
    if (t->loop->debug)
        fprintf(out, ", switches %llu, ran %.3f ms", (unsigned long long)t->switches,
                (double)t->run_ns / 1e6);
    fputc('\n', out);
    if (t->state == CORA__SUSPENDED && t->trace && t->trace->n) {
        fprintf(out, "      suspended at:\n");
        for (int i = 0; i < t->trace->n; i++) {
            cora__symbolize(where, sizeof where, t->trace->pc[i]);
            fprintf(out, "        #%-2d %s\n", i, where);
        }
    }
}

int cora_dump_tasks(FILE *out)
{
    cora_loop *loop = cora__loop();
    if (!out) return -EINVAL;
    if (!loop) return -EPERM;
    int64_t now = cora_now_ns();
    size_t n = 0;
    for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next) n++;
    fprintf(out, "cora: task dump: loop %p (%s backend, pid %d), %zu live of %zu tasks%s\n",
            (void *)loop, cora_loop_backend(loop), (int)getpid(), loop->live, n,
            loop->debug ? "" : " (CORA_DEBUG=1 adds spawn sites, wait times and backtraces)");
    for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next)
        dump_task(out, CORA__CONTAINER_OF(l, cora_task, all_link), now);
    fflush(out);
    return 0;
}

/* ---- The wait-for graph ------------------------------------------------------- */

/* The task `t` waits for, if it is parked on something a single task holds. */
static cora_task *blocker(const cora_task *t)
{
    if (t->state != CORA__SUSPENDED || !t->wait_desc || !t->wait_desc->holder) return NULL;
    return t->wait_desc->holder(t, t->wait_on);
}

static void report_cycle(cora_task *const *chain, int n)
{
    char line[768], wait[320], where[512];
    fprintf(stderr, "cora: debug: deadlock: %d tasks wait for each other in a cycle, and none "
                    "can go on:\n",
            n);
    for (int i = 0; i < n; i++) {
        wait_text(chain[i], wait, sizeof wait);
        snprintf(line, sizeof line, "  task '%s' (id %llu) waits for %s\n", cora_task_name(chain[i]),
                 (unsigned long long)chain[i]->id, wait);
        fputs(line, stderr);
        if (chain[i]->spawn_site) {
            cora__symbolize(where, sizeof where, chain[i]->spawn_site);
            fprintf(stderr, "      spawned at: %s\n", where);
        }
    }
    fputs("  Take locks in one order everywhere, and never await a task that awaits you; a "
          "deadline (cora_fail_after) turns a hang into an error.\n",
          stderr);
    fflush(stderr);
}

/* Follows the edges from `t`, which has just parked. A cycle through it closed just
 * now (a cycle not through it was reported when it closed, by its last task). */
static void check_cycle(cora_task *t)
{
    cora_task *chain[CHAIN_MAX];
    int n = 0;
    cora_task *cur = t;
    while (n < CHAIN_MAX) {
        chain[n++] = cur;
        cora_task *next = blocker(cur);
        if (!next) return;
        if (next == t) {
            report_cycle(chain, n);
            return;
        }
        for (int i = 0; i < n; i++)
            if (chain[i] == next) return;
        cur = next;
    }
}

/* noinline: its return address must be in cora__park (see the trace below). */
__attribute__((noinline)) void cora__debug_park(cora_loop *loop, cora_task *t)
{
    (void)loop;
    t->parked_ns = cora_now_ns();
    if (!t->trace) t->trace = malloc(sizeof *t->trace); /* none: no backtrace, that is all */
    if (t->trace) {
        void *pc[TRACE_MAX + 4];
        int n = backtrace(pc, TRACE_MAX + 4);
        /* The trace starts at the call that suspended: past the frame of cora__park,
         * whose return address into it is ours (a sanitizer's interceptor may add a
         * frame of its own, so the count of frames to skip is not fixed). */
        void *in_park = __builtin_return_address(0);
        int skip = 0;
        while (skip < n && pc[skip] != in_park) skip++;
        skip = skip < n ? skip + 1 : 0;
        if (n - skip > TRACE_MAX) n = skip + TRACE_MAX;
        t->trace->n = n - skip;
        memcpy(t->trace->pc, pc + skip, (size_t)t->trace->n * sizeof pc[0]);
    }
    check_cycle(t);
}

/* Nothing can wake any task: none is ready, no timer is armed, no operation is in
 * flight, no task waits for another thread (the thread pool, a threadsafe queue),
 * and no other thread was given the loop (cora_loop_current). */
bool cora__debug_asleep(cora_loop *loop)
{
    if (loop->live == 0 || loop->runq_len || loop->timers.len || loop->inflight || loop->escaped)
        return false;
    for (cora__list *l = loop->tasks.next; l != &loop->tasks; l = l->next) {
        cora_task *t = CORA__CONTAINER_OF(l, cora_task, all_link);
        if (t->state == CORA__SUSPENDED && (!t->wait_desc || t->wait_desc->external)) return false;
    }
    fprintf(stderr,
            "cora: debug: all tasks are asleep: each waits for another task or a primitive, "
            "and no timer, I/O or other thread can wake any of them (deadlock).\n"
            "      %s\n",
            loop->asleep ? "Still asleep after cancelling main: cora_run returns -EDEADLK now."
                         : "Cancelling the main task; cora_run will return -EDEADLK.");
    cora_dump_tasks(stderr);
    return true;
}

/* ---- Per-task accounting ------------------------------------------------------- */

int cora_task_stats_get(const cora_task *t, cora_task_stats *out)
{
    if (!t || !out) return -EINVAL;
    if (t->loop != cora__loop()) return -EPERM;
    memset(out, 0, sizeof *out);
    out->switches = t->switches;
    out->run_ns = t->run_ns;
    out->bytes_read = t->bytes_read;
    out->bytes_written = t->bytes_written;
    out->stack_size = t->stack ? t->stack->size : 0;
    /* Only debug mode gives pooled stacks' pages back between tasks: else a reused
     * stack would show its earlier tasks' depth. */
    if (t->stack && t->loop->debug)
        out->stack_used = cora__stack_used(t->stack, t->loop->stacks.page);
    return 0;
}

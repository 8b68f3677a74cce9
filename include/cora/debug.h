/* cora/debug.h: debug mode, which catches the common mistakes of async code while
 * they happen (docs/debug.md).
 *
 * Debug mode is off by default and costs nothing measurable then. It is switched on
 * with CORA_DEBUG=1 in the environment (read by each loop when it starts) or with
 * cora_debug_set. In debug mode:
 *
 *   - a watchdog thread (one per process, started with the first debug loop) reports
 *     on stderr a task that has held its loop longer than a threshold (default 100 ms,
 *     CORA_DEBUG_BLOCKING_MS=N or cora_debug_opts) without reaching a suspension
 *     point, while it is still blocking: the task's name, where it was spawned, the
 *     blocking call it sits in (sleep(), read(), ...) with the cora call to use
 *     instead, and a backtrace. When the task yields, the total time it held the
 *     loop is printed too. To take the backtrace the watchdog sends SIGURG to the
 *     loop's thread once per episode; a blocking sleep() or poll() interrupted by it
 *     returns early (EINTR), as with any signal. Names of functions in the program
 *     itself appear only when it is linked with -rdynamic.
 *   - each suspension records when and where (a backtrace) the task suspended, for
 *     cora_dump_tasks, and SIGUSR1 makes every debug loop dump its tasks on stderr
 *     (if the program left SIGUSR1 at its default action, which would kill it).
 *   - a task that parks closing a cycle of waits (A awaits B which awaits A; A holds
 *     lock 1 and waits for lock 2 while B holds 2 and waits for 1) is reported as a
 *     deadlock naming every task and resource of the cycle.
 *   - a loop where every task waits and nothing (no timer, no I/O, no other thread)
 *     can wake any of them reports "all tasks are asleep" with the dump, cancels the
 *     main task so the program unwinds, and cora_run returns -EDEADLK (as Go's
 *     runtime does for goroutines). A loop given to another thread through
 *     cora_loop_current() is never judged asleep: that thread might wake it.
 *   - spawn sites are recorded, and named in the reports of a nested cora_run and of
 *     failed detached tasks.
 *   - when a loop closes, every task whose handle was never awaited, detached or given
 *     to a group is reported with its spawn site and how it ended (without debug mode,
 *     only those that failed).
 *   - each task's stack high-water mark (how deep it went) is measured when it ends
 *     and kept per spawn site, for cora_debug_print_stacks.
 *   - a stack overflow report (below) also names the task's spawn site.
 *
 * Stack overflow, debug mode or not: a task that runs off its stack into the guard
 * page below it is reported on stderr (its name and id, its stack size, the advice to
 * give it a bigger stack with cora_spawn_opts.stack_size), and the process aborts
 * (SIGABRT) instead of dying of a bare SIGSEGV. cora handles SIGSEGV and SIGBUS for
 * this while a loop runs, on an alternate signal stack per loop thread, only if the
 * program (or a sanitizer: AddressSanitizer and ThreadSanitizer report stack
 * overflows themselves) has not installed a handler of its own; other faults keep
 * their usual effect. docs/debug.md has the details.
 */
#ifndef CORA_DEBUG_H
#define CORA_DEBUG_H

#include "core.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The default blocking threshold, in nanoseconds (100 ms). */
#define CORA_DEBUG_BLOCKING_DEFAULT_NS ((int64_t)100 * 1000 * 1000)

/* Settings for cora_debug_set. Zero-initialise and set what you need. */
typedef struct cora_debug_opts {
    int on;              /* 1: debug mode on; 0: off */
    int64_t blocking_ns; /* threshold of the blocking detector; 0: CORA_DEBUG_BLOCKING_MS
                          * from the environment, or CORA_DEBUG_BLOCKING_DEFAULT_NS */
} cora_debug_opts;

/* Switches debug mode on or off for every loop that starts afterwards on any thread
 * (overriding CORA_DEBUG), and for the calling thread's loop if it is running.
 * Returns 0, -EINVAL if opts is NULL or blocking_ns is negative, or -EAGAIN if the
 * watchdog thread could not be started (debug mode then stays off).
 * Ownership: opts is read during the call only. */
int cora_debug_set(const cora_debug_opts *opts);

/* Counters of the calling thread's loop since it started, for metrics and tests.
 * The counts are kept always (a plain increment each); the times need a clock read
 * per switch and per poll, so they are kept only while debug mode is on (0 else). */
typedef struct cora_stats {
    uint64_t switches;       /* switches into a task */
    uint64_t spawns;         /* tasks spawned, the main task included */
    uint64_t live_tasks;     /* tasks spawned and not yet ended */
    uint64_t timers_armed;   /* timers waiting now (sleeps, deadlines) */
    uint64_t io_submitted;   /* I/O operations handed to the backend */
    uint64_t io_in_flight;   /* of which not completed yet */
    int64_t poll_ns;         /* debug mode: time spent polling the backend */
    int64_t run_ns;          /* debug mode: time spent running tasks */
    int64_t longest_hold_ns; /* debug mode: the longest a task ran without suspending */
    char longest_hold_task[CORA_TASK_NAME_MAX]; /* that task's name ("" if none) */
    /* io_submitted by kind: */
    uint64_t ops_read;    /* read, recv, recvmsg */
    uint64_t ops_write;   /* write, send, sendmsg */
    uint64_t ops_poll;    /* readiness waits (cora_wait_fd, cora_poll, epoll's fallbacks) */
    uint64_t ops_accept;  /* accepts */
    uint64_t ops_connect; /* connects */
    uint64_t ops_file;    /* open, close, fsync, stat, rename, unlink done by the backend */
    uint64_t jobs;        /* calls handed to the thread pool (cora_to_thread, epoll's files) */
} cora_stats;

/* Fills *out with the calling thread's loop's counters. Returns 0, -EINVAL if out is
 * NULL, or -EPERM outside a loop. Ownership: out belongs to the caller. */
int cora_stats_get(cora_stats *out);

/* Per-task accounting, for metrics, tests and the dump. */
typedef struct cora_task_stats {
    uint64_t switches;      /* debug mode: times it was switched in (0 else) */
    int64_t run_ns;         /* debug mode: time it spent running (0 else) */
    uint64_t bytes_read;    /* bytes its read/recv operations returned */
    uint64_t bytes_written; /* bytes its write/send operations took */
    size_t stack_size;      /* usable bytes of its stack (0: not started or ended) */
    size_t stack_used;      /* debug mode: the deepest its stack has been so far, in
                             * bytes rounded up to pages (0 else) */
} cora_task_stats;

/* Fills *out with the accounting of task `t` (running, suspended, or ended and not yet
 * collected) of the calling thread's loop. Returns 0, -EINVAL if t or out is NULL, or
 * -EPERM if t belongs to another loop or the caller runs none. Ownership: out belongs
 * to the caller; t is not consumed. */
int cora_task_stats_get(const cora_task *t, cora_task_stats *out);

/* Writes a dump of every task of the calling thread's loop to `out`, as Go's
 * goroutine dump does: per task its id, name, state, and when suspended what it waits
 * for (the lock and its owner, the fd and operation, the timer, the queue, channel or
 * task), and its I/O bytes. In debug mode also for how long it has waited, where it
 * was spawned, its switches and run time, and a backtrace of where it suspended.
 * Callable from a task or from a cora_call_soon_threadsafe callback. Returns 0,
 * -EINVAL if out is NULL, or -EPERM outside a loop. Ownership: out stays the
 * caller's; it is flushed, not closed. */
int cora_dump_tasks(FILE *out);

/* Prints to `out` how much stack the tasks of each spawn site used, for the calling
 * thread's loop: one row per spawn site and stack size, with the high-water mark (the
 * most stack any of its tasks touched, in KiB, counted in whole pages), the stack
 * size, the mark as a percentage of it, how many of its tasks ended, and the site
 * symbolized (the function that called cora_spawn, cora_spawn_ex or cora_group_spawn;
 * names in the program itself need -rdynamic). Rows come deepest first. Marks are
 * taken in debug mode only, when each task ends (tasks still running are not counted
 * yet), from the pages the kernel committed to its stack; see docs/debug.md for the
 * method, its cost and its limits. With nothing recorded, one line says why.
 * Returns the number of rows printed, -EINVAL if out is NULL, -EPERM outside a loop,
 * or -ENOMEM. Ownership: out stays the caller's; it is written to, not closed or
 * flushed. */
int cora_debug_print_stacks(FILE *out);

/* 1 if debug mode is on for the calling thread's loop (outside a loop: for the next
 * loop this thread would start), else 0. */
int cora_debug_enabled(void);

#ifdef __cplusplus
}
#endif
#endif

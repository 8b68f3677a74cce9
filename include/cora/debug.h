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
 */
#ifndef CORA_DEBUG_H
#define CORA_DEBUG_H

#include "core.h"

#include <stdint.h>

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
} cora_stats;

/* Fills *out with the calling thread's loop's counters. Returns 0, -EINVAL if out is
 * NULL, or -EPERM outside a loop. Ownership: out belongs to the caller. */
int cora_stats_get(cora_stats *out);

/* 1 if debug mode is on for the calling thread's loop (outside a loop: for the next
 * loop this thread would start), else 0. */
int cora_debug_enabled(void);

#ifdef __cplusplus
}
#endif
#endif

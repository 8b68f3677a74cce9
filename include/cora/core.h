/* cora/core.h: the loop, tasks, timers, task-local storage and errors.
 *
 * The model (docs/model.md has the long form):
 *   - A task is a C function `void *fn(void *arg)` running on its own small stack.
 *     It runs until it calls a cora function that suspends (sleep, await, I/O, ...);
 *     then the loop runs another ready task. Nothing preempts a task, so tasks of one
 *     loop never need locks between them.
 *   - A loop belongs to one thread. `cora_run` builds it, runs the main task, and
 *     tears it down. Several threads may each run their own loop.
 *   - Errors are negative errno values (-ECANCELED, -ETIMEDOUT, ...); functions return
 *     >= 0 on success. `cora_strerror` and `cora_err_name` name them.
 *
 * Task states:  READY -> RUNNING <-> SUSPENDED -> DONE
 *   READY      spawned or woken; waits in the run queue.
 *   RUNNING    the one task executing on this loop now.
 *   SUSPENDED  parked in a cora call (sleep, await, I/O, event).
 *   DONE       returned; its outcome (status and result) waits for its owner.
 *
 * Ownership of a task handle: the spawner owns the handle it gets back and must give
 * it up exactly once, by `cora_await` collecting the outcome or by `cora_detach`.
 * The task's memory is released when it is DONE and its handle has been given up.
 * When `cora_run` returns, every task of its loop has been released.
 */
#ifndef CORA_CORE_H
#define CORA_CORE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Types ------------------------------------------------------------------- */

/* A task: opaque. Handles come from cora_spawn and are given up by cora_await or
 * cora_detach. */
typedef struct cora_task cora_task;

/* A loop: opaque. Valid from inside its cora_run until cora_run returns. */
typedef struct cora_loop cora_loop;

/* The body of a task: takes the spawn argument, returns the task's result. Return
 * cora_fail(-Exxx) to end the task with an error (the role of raising in asyncio). */
typedef void *(*cora_fn)(void *arg);

/* Options for cora_spawn_ex. Zero-initialise and set what you need. */
typedef struct cora_spawn_opts {
    const char *name;  /* copied (up to CORA_TASK_NAME_MAX-1 bytes); NULL: "task-<id>" */
    size_t stack_size; /* bytes of usable stack; 0: CORA_STACK_DEFAULT. Rounded up to
                        * the page size; at least CORA_STACK_MIN. */
} cora_spawn_opts;

/* Stacks are reserved in virtual memory and committed page by page as the task
 * touches them, so a large default costs nothing until used: a task that sleeps in a
 * shallow call chain holds one 4 KiB page. Below every stack lies a guard page (see
 * docs/stacks.md for the policy when the kernel's mapping budget runs out). */
#define CORA_STACK_DEFAULT ((size_t)256 * 1024)
#define CORA_STACK_MIN ((size_t)16 * 1024)
#define CORA_STACK_MAX ((size_t)1024 * 1024 * 1024)
#define CORA_TASK_NAME_MAX 32

/* ---- The loop ------------------------------------------------------------------ */

/* Builds a loop on the calling thread, runs main(arg) as its first task, and returns
 * when main has returned and every other task has ended: tasks still running when
 * main returns are cancelled and awaited (as asyncio.run does). A task that failed
 * and whose outcome nobody collected is reported on stderr with its name.
 *
 * Returns main's status: 0 if it returned normally (its return value goes to
 * *result when result is not NULL), the error it failed with, or -ECANCELED if it
 * was cancelled (for example by cora_loop_stop).
 * Errors before main runs: -EBUSY if the calling thread is already running a loop
 * (the seed's "asyncio.run() inside async code" mistake: a message on stderr names
 * it and the fix, which is to call the function directly or spawn and await a task);
 * -ENOMEM; or the error of the I/O backend that failed to start.
 * The backend is io_uring where the kernel allows it, else epoll; the environment
 * variable CORA_BACKEND=uring|epoll forces one (see docs/backends.md). */
int cora_run(cora_fn main, void *arg, void **result);

/* The loop running on this thread, or NULL outside cora_run. */
cora_loop *cora_loop_current(void);

/* The name of the loop's I/O backend: "uring" or "epoll". */
const char *cora_loop_backend(const cora_loop *loop);

/* Asks `loop` to end: its main task is cancelled (and so, after it returns, are the
 * rest). Call from a task of that loop; from another thread use
 * cora_call_soon_threadsafe with a callback that calls this. Returns 0. */
int cora_loop_stop(cora_loop *loop);

/* Runs fn(arg) on `loop`'s thread soon, between tasks, and wakes the loop if it is
 * waiting. Safe to call from any thread, including signal-free plain threads and the
 * loop's own thread. `fn` must not suspend (it runs outside any task); it may spawn
 * tasks, set events and cancel tasks.
 * Calls pending when the loop ends are still run, in order, before cora_run returns;
 * calling this after cora_run has returned is a use after free (the caller must know
 * the loop is alive, for instance because a task of it waits for the call).
 * Returns 0, -EINVAL if loop or fn is NULL, or -ENOMEM (fn will not run).
 * Ownership: arg stays the caller's; cora only passes it to fn. */
int cora_call_soon_threadsafe(cora_loop *loop, void (*fn)(void *arg), void *arg);

/* ---- Tasks --------------------------------------------------------------------- */

/* Starts fn(arg) as a new task of the current loop; it runs when the spawner next
 * suspends or yields (spawn never switches). Returns the handle, or NULL when called
 * outside a loop (errno EPERM) or out of memory (errno ENOMEM). The caller owns the
 * handle (see the top of this file). */
cora_task *cora_spawn(cora_fn fn, void *arg);

/* cora_spawn with options. Stores the handle in *out and returns 0, or returns
 * -EPERM (no loop on this thread), -EINVAL (fn or out NULL, stack_size above
 * CORA_STACK_MAX) or -ENOMEM. */
int cora_spawn_ex(cora_task **out, cora_fn fn, void *arg, const cora_spawn_opts *opts);

/* Suspends the calling task until `t` ends and collects its outcome.
 *
 * Returns 0 if `t` returned normally (its return value goes to *result when result is
 * not NULL), the negative error `t` failed with, or -ECANCELED if `t` was cancelled.
 * Returns -ECANCELED if the *caller* is cancelled while waiting (the cancellation is
 * not passed on to `t`, which keeps running and can be awaited again), -EDEADLK if
 * `t` is the caller, -EBUSY if another task is already awaiting `t`, -EPERM outside a
 * task of the loop that owns `t`.
 * Ownership: the await that collects the outcome releases the handle; do not use `t`
 * after it returned anything but -ECANCELED, -EDEADLK, -EBUSY or -EPERM. */
int cora_await(cora_task *t, void **result);

/* Gives up the handle: the task keeps running and is released when it ends. If it
 * ends with an error, the error is reported on stderr (nobody else will see it).
 * Returns 0, or -EINVAL if `t` is NULL. Do not use `t` afterwards. */
int cora_detach(cora_task *t);

/* Requests cancellation of `t`. Delivered at its next suspension point, where the
 * suspending call returns -ECANCELED (and every later one too: cancellation is
 * sticky, so a task cannot swallow it by accident). A task cancelled before it first
 * ran never runs. A task whose cancellation was delivered and that returns without
 * calling cora_fail ends with status -ECANCELED. Cancelling a task that has ended
 * does nothing. A task may cancel itself. Returns 0, or -EINVAL if `t` is NULL. */
int cora_cancel(cora_task *t);

/* Ends the current task with `err` when used as `return cora_fail(err);`. `err` must
 * be negative; 0 or a positive value is turned into -EINVAL. Returns NULL. Calling it
 * outside a task does nothing. */
void *cora_fail(int err);

/* The calling task, or NULL outside a task. */
cora_task *cora_current(void);

/* The task's name (never NULL; valid while the handle is) and its id (unique within
 * its loop, counting up from 1 in spawn order). */
const char *cora_task_name(const cora_task *t);
uint64_t cora_task_id(const cora_task *t);

/* 1 if `t` has ended, else 0. */
int cora_task_done(const cora_task *t);

/* Lets the other ready tasks run and then resumes (asyncio.sleep(0)). Returns 0, or
 * -ECANCELED if the task is cancelled, -EPERM outside a task. */
int cora_yield(void);

/* ---- Timers -------------------------------------------------------------------- */

/* Suspends the calling task for `seconds` (asyncio.sleep); only this task waits.
 * 0 or a negative value is cora_yield. Returns 0, -ECANCELED, or -EPERM outside a
 * task. NaN is refused with -EINVAL. */
int cora_sleep(double seconds);

/* cora_sleep in nanoseconds. */
int cora_sleep_ns(int64_t ns);

/* Suspends the calling task until the monotonic clock (cora_now_ns) reaches
 * `deadline_ns`. Returns as cora_sleep does. */
int cora_sleep_until_ns(int64_t deadline_ns);

/* The monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
int64_t cora_now_ns(void);

/* ---- Task-local storage (the role of contextvars) ------------------------------ */

/* A key: define one per variable with static storage, e.g.
 *     static cora_local request_id;
 * Its address is the key; its contents are unused (kept for ABI room). */
typedef struct cora_local {
    void *reserved;
} cora_local;

/* Sets the calling task's value for `key`. A task spawned afterwards starts with a
 * copy of its spawner's values (as asyncio copies the context into a new task);
 * later changes on either side are not seen by the other.
 * Returns 0, -EPERM outside a task, -EINVAL if key is NULL, or -ENOMEM.
 * Ownership: cora stores the pointer only; the value belongs to the caller. */
int cora_local_set(cora_local *key, void *value);

/* The calling task's value for `key`, or NULL when unset or outside a task. */
void *cora_local_get(const cora_local *key);

/* ---- Errors -------------------------------------------------------------------- */

/* Text for a negative (or positive) errno value, like strerror; never NULL; the
 * string is static. */
const char *cora_strerror(int err);

/* The symbolic name, "ECANCELED" for -ECANCELED; "E?" for an unknown value. */
const char *cora_err_name(int err);

#ifdef __cplusplus
}
#endif
#endif

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
 * and whose outcome nobody collected is reported on stderr with its name; in debug
 * mode (cora/debug.h) so is every task whose handle was never given up, whatever its
 * outcome, with where it was spawned.
 *
 * Returns main's status: 0 if it returned normally (its return value goes to
 * *result when result is not NULL), the error it failed with, or -ECANCELED if it
 * was cancelled (for example by cora_loop_stop).
 * Errors before main runs: -EBUSY if the calling thread is already running a loop
 * (the seed's "asyncio.run() inside async code" mistake: a message on stderr names
 * the calling task and the fix, which is to call the function directly or spawn and
 * await a task, or, for a loop of its own, cora_run_in_thread);
 * -ENOMEM; or the error of the I/O backend that failed to start.
 * The backend is io_uring where the kernel allows it, else epoll; the environment
 * variable CORA_BACKEND=uring|epoll forces one (see docs/backends.md). */
int cora_run(cora_fn main, void *arg, void **result);

/* Runs fn(arg) as the main task of a fresh loop on a new thread, cora_run(fn, arg,
 * &r) there, and waits for that loop to end: the supported way to run a loop from code
 * that already runs in one (cora_run refuses it with -EBUSY).
 *
 * Called from a task, it suspends only that task: the caller's loop and its other
 * tasks run on meanwhile. Called on a thread that runs no loop, it blocks that thread
 * until the inner loop ends (nothing else is waiting for it). Called on a loop's
 * thread outside any task (a callback given to cora_call_soon_threadsafe, say), it
 * returns -EPERM: such code cannot wait.
 *
 * Returns what cora_run returned on the new thread: 0 if fn returned normally (its
 * return value goes to *result when result is not NULL; *result is left alone on any
 * other return), the error fn failed with, -ECANCELED if the inner loop's main task
 * was cancelled, or cora_run's own errors (-ENOMEM, the backend's).
 * Cancellation: if the calling task is cancelled (or a deadline around it passes)
 * while fn runs, fn's task is cancelled in turn (its suspending calls return
 * -ECANCELED) and the caller goes on waiting, shielded, until the inner loop has
 * ended and its thread is joined. It then returns -ECANCELED (or -ETIMEDOUT for a
 * deadline), unless fn succeeded anyway: then 0 and the result, so a result that owns
 * memory is never lost, and the caller's cancellation is delivered at its next
 * suspension point. If fn had already returned when the cancellation came, fn's
 * status is returned, and likewise the cancellation waits for the next suspension
 * point. A caller already cancelled when it calls returns -ECANCELED at once and
 * starts nothing.
 * Other errors: -EINVAL if fn is NULL, -EAGAIN if the thread cannot be created,
 * -ENOMEM.
 * The new thread blocks SIGINT and SIGTERM: Ctrl-C reaches the loop that took those
 * signals (the caller's loop, normally: it cancels its main task, and the
 * cancellation reaches fn through the caller as described above).
 * If the caller's loop stops on an error of its I/O backend while the call waits, the
 * call never returns; that loop cancels fn and joins the thread before its cora_run
 * returns, so nothing of the call outlives it.
 * Ownership: arg and fn's result pass between the threads untouched; fn runs on
 * another thread, so whatever it shares with the caller's loop needs the usual
 * cross-thread care (cora_call_soon_threadsafe, atomics, locks). */
int cora_run_in_thread(cora_fn fn, void *arg, void **result);

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
 * Calls pending when the loop ends are still run, in order, before cora_run returns
 * (unless the loop stopped on an error of its I/O backend: its tasks are gone then,
 * and pending calls are dropped unrun);
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

/* ---- Timeouts and shields: cancel scopes ----------------------------------------
 *
 * A scope is a region of a task's code with an optional deadline (Trio's cancel
 * scopes, asyncio.timeout). While the task is inside it:
 *   - when the deadline passes, the current or next suspending call returns
 *     -ETIMEDOUT (a timeout is a cancellation whose cause is -ETIMEDOUT), and so does
 *     every later one inside the scope;
 *   - cora_scope_cancel cancels the scope: suspending calls inside return -ECANCELED;
 *   - scopes nest: whichever deadline passes first cancels its scope, so the nearest
 *     deadline wins;
 *   - a shield (CORA_SCOPE_SHIELD) holds back cancellations and deadlines from
 *     outside: they are delivered at the first suspension point after the shield is
 *     exited, never lost.
 * Every suspending call in cora honours scopes. Enter and exit in LIFO order in the
 * same function, like a lock: a task that returns inside a scope is reported.
 *
 *     cora_scope s;
 *     cora_fail_after(&s, 2.0);              // asyncio.timeout(2) / trio.fail_after(2)
 *     ssize_t n = cora_read(fd, buf, len);    // -ETIMEDOUT after 2 s
 *     int err = cora_scope_exit(&s);          // -ETIMEDOUT if the 2 s ran out
 */

/* A scope: a fixed-size stand-in to put on the stack; its insides are private. */
typedef struct cora_scope {
    void *private_[10];
} cora_scope;

#define CORA_NO_DEADLINE INT64_MAX
#define CORA_SCOPE_SHIELD 0x1u  /* outer cancellations wait until the scope is exited */
#define CORA_SCOPE_MOVE_ON 0x2u /* cora_scope_exit reports no error when it expired */

/* Enters a scope whose deadline is the monotonic time deadline_ns (CORA_NO_DEADLINE
 * for none; a time already past makes it expired from the start). Returns 0, -EPERM
 * outside a task, -EINVAL (bad flags), -ENOMEM. */
int cora_scope_enter(cora_scope *s, int64_t deadline_ns, unsigned flags);

/* Enter a scope `seconds` from now that fails with -ETIMEDOUT (Trio's fail_after,
 * asyncio.timeout), one that just moves on (Trio's move_on_after: cora_scope_exit
 * returns 0, cora_scope_cause tells whether time ran out), or a shield with no
 * deadline (asyncio.shield for a section of code). Return as cora_scope_enter;
 * a NaN is -EINVAL. */
int cora_fail_after(cora_scope *s, double seconds);
int cora_move_on_after(cora_scope *s, double seconds);
int cora_shield_enter(cora_scope *s);

/* Leaves the scope, which must be the calling task's innermost one (else -EINVAL and
 * nothing changes). Returns -ETIMEDOUT if its deadline passed (unless it was entered
 * with CORA_SCOPE_MOVE_ON), else 0. Cancellations from outside that a shield held back
 * are delivered at the next suspension point. */
int cora_scope_exit(cora_scope *s);

/* Cancels the scope: suspending calls inside it return -ECANCELED from now on;
 * cora_scope_exit then returns 0. Does nothing to a scope already cancelled or
 * expired. Call from a task or callback of the same loop. */
void cora_scope_cancel(cora_scope *s);

/* What ended the scope: 0 (nothing yet), -ETIMEDOUT or -ECANCELED. Valid until the
 * struct goes away. */
int cora_scope_cause(const cora_scope *s);

/* ---- Waiting for several tasks ------------------------------------------------- */

/* The outcome of one task: its status (0, its error, -ECANCELED) and its result. */
typedef struct cora_outcome {
    int status;
    void *result;
} cora_outcome;

#define CORA_GATHER_FAIL_FAST 0x1u

/* asyncio.gather: waits until every task in tasks[0..n) has ended and collects each
 * outcome into out[i] (when out is not NULL), in input order whatever the order they
 * ended in. Ownership: gather takes every handle and releases every task before it
 * returns, on every path; do not use them afterwards. (If the arguments are refused,
 * with -EINVAL, -EPERM or -EBUSY, nothing is taken.)
 * Without flags (asyncio's return_exceptions=True), every task runs to its end;
 * returns 0 if all succeeded, else the first error in input order.
 * With CORA_GATHER_FAIL_FAST, the first task to fail (in time) cancels the others;
 * gather still waits for them to end (nothing leaks) and returns that first error.
 * If the gathering task is cancelled or its deadline passes, the tasks are cancelled
 * and awaited, and -ECANCELED or -ETIMEDOUT is returned.
 * Errors: -EINVAL (a NULL, duplicated, detached or grouped task), -EPERM (outside a
 * task, or a task of another loop), -EBUSY (a task another owner is awaiting). */
int cora_gather(size_t n, cora_task *const *tasks, cora_outcome *out, unsigned flags);

#define CORA_FIRST_COMPLETED 1 /* asyncio.FIRST_COMPLETED */
#define CORA_FIRST_ERROR 2     /* asyncio.FIRST_EXCEPTION: a failure, or all ended */
#define CORA_ALL_COMPLETED 3   /* asyncio.ALL_COMPLETED */

/* asyncio.wait: suspends until the condition `mode` holds for tasks[0..n), or
 * `timeout` seconds pass (negative: no timeout). Sets done[i] (when done is not NULL)
 * to 1 for each task that has ended, 0 for the pending ones, and returns how many
 * have ended. Collects nothing: the caller still owns every handle (await a done task
 * to collect it without suspending). The timeout passing is not an error.
 * Errors: -ECANCELED / -ETIMEDOUT (the caller was cancelled or an outer deadline
 * passed), -EINVAL, -EPERM, -ENOMEM. */
int cora_wait(size_t n, cora_task *const *tasks, int mode, double timeout, unsigned char *done);

/* asyncio.as_completed: an iterator giving tasks in the order they end.
 *
 *     cora_as_completed it;
 *     cora_as_completed_init(&it, n, tasks, 10.0);
 *     cora_task *t;
 *     while ((r = cora_as_completed_next(&it, &t)) > 0)
 *         cora_await(t, &result);             // done already: does not suspend
 *     cora_as_completed_free(&it);
 *
 * init copies the array (the caller keeps ownership of the tasks) and returns 0,
 * -EINVAL, -EPERM or -ENOMEM. next returns 1 with *out set to a task that has ended,
 * 0 when every task has been handed out, -ETIMEDOUT once `timeout` seconds (negative:
 * none) have passed since init, or -ECANCELED. free releases the copy. */
typedef struct cora_as_completed {
    void *private_[4];
} cora_as_completed;
int cora_as_completed_init(cora_as_completed *it, size_t n, cora_task *const *tasks,
                           double timeout);
int cora_as_completed_next(cora_as_completed *it, cora_task **out);
void cora_as_completed_free(cora_as_completed *it);

/* asyncio.wait_for: cora_await with a timeout. If `seconds` pass first, `t` is
 * cancelled and awaited, and -ETIMEDOUT is returned; if the caller is cancelled, the
 * same with -ECANCELED. Either way the handle is released: do not use `t` afterwards.
 * If `t` succeeded (even as the deadline passed) its result goes to *result and 0 is
 * returned, so a result that owns memory is never lost. Otherwise returns t's error. */
int cora_wait_for(cora_task *t, double seconds, void **result);

/* ---- Task groups (asyncio.TaskGroup, Trio's nursery) --------------------------- */

/* A group: a fixed-size stand-in to put on the stack or in a struct. */
typedef struct cora_group {
    void *private_[10];
} cora_group;

/* Prepares a group for the current loop. Returns 0, -EPERM outside a loop,
 * -EINVAL if g is NULL. Allocates nothing. */
int cora_group_init(cora_group *g);

/* A supervising group (Tokio's JoinSet, Erlang's one_for_one): a child that fails
 * does not cancel its siblings; failures are still counted (cora_group_failures),
 * the first 64 codes kept (later ones read as -ENOMEM from cora_group_failure).
 * For long-lived sets of independent tasks, such as a
 * server's connections. cora_group_wait and cancellation work as for any group. */
#define CORA_GROUP_SUPERVISE 0x1u

/* cora_group_init with flags (0 or CORA_GROUP_SUPERVISE). -EINVAL for others. */
int cora_group_init_ex(cora_group *g, unsigned flags);

/* Starts fn(arg) as a child of the group (options as cora_spawn_ex). The group owns
 * the child: no handle is given out. A group that is failing or cancelled starts new
 * children cancelled (they never run). Children may spawn into their own group.
 * Returns 0, -EPERM (other loop), -EINVAL, -ENOMEM. */
int cora_group_spawn(cora_group *g, cora_fn fn, void *arg, const cora_spawn_opts *opts);

/* Waits until every child has ended. The first child to fail cancels the others;
 * every failure is recorded (cora_group_failure). Returns 0 if no child failed, else
 * the first failure. If the waiting task is cancelled or times out, the children are
 * cancelled and awaited first, and -ECANCELED or -ETIMEDOUT is returned. A child
 * cancelled by the group does not count as failed. -EBUSY if another task is waiting
 * on the group. Must be called before the group goes out of scope. */
int cora_group_wait(cora_group *g);

/* Cancels every child (the group as a whole); later children start cancelled. */
void cora_group_cancel(cora_group *g);

/* How many children failed, and the i-th failure's error (in the order they
 * happened; 0 past the end). */
size_t cora_group_failures(const cora_group *g);
int cora_group_failure(const cora_group *g, size_t i);

/* Frees the failure list. Call after cora_group_wait. */
void cora_group_destroy(cora_group *g);

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

/* cora/proc.h: work outside the loop: the thread pool (and, later, subprocesses
 * and signals).
 *
 * A task must not block the loop, so blocking calls (a C library without a
 * non-blocking mode, getaddrinfo, a disk on a slow path) and CPU-heavy work go to a
 * worker thread with cora_to_thread; the calling task suspends until it is done, and
 * the loop runs everything else meanwhile. In C, threads run in parallel, so this is
 * cora's answer to the seed's "CPU-heavy work: use multiprocessing".
 */
#ifndef CORA_PROC_H
#define CORA_PROC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* asyncio.to_thread: runs fn(arg) on a worker thread of the loop's pool and suspends
 * the calling task until it returns. Returns 0 with fn's return value in *result
 * (when result is not NULL), or an error:
 *   -ECANCELED / -ETIMEDOUT  the task was cancelled or its deadline passed. A job that
 *       had not started is removed and never runs; a running job is told through
 *       cora_thread_cancelled() and left to finish on its own, and the task stops
 *       waiting at once.
 *   -EPERM outside a task; -EINVAL if fn is NULL; -ENOMEM, -EAGAIN (no thread could be
 *       started and none is running).
 * Ownership: arg must stay valid until fn returns. With cora_to_thread_ex, a job the
 * task stopped waiting for is handed to abandon(arg, result) exactly once, when the
 * pool is done with it: at once with result NULL for a job that never started, or on
 * the worker thread with fn's result when a running job returns. That is where an
 * abandoned job's argument and result are freed, so nothing leaks; after a -ECANCELED
 * or -ETIMEDOUT the caller must not touch arg again. (With cora_to_thread, arg stays
 * the caller's and must outlive the job.)
 * fn runs on another thread: it must not call cora functions that need a loop
 * (cora_call_soon_threadsafe and the _threadsafe calls are fine). If the job finished
 * just as the task was cancelled, its result wins: 0 is returned and *result is set,
 * so a result that owns memory is never lost. */
int cora_to_thread(void *(*fn)(void *arg), void *arg, void **result);
int cora_to_thread_ex(void *(*fn)(void *arg), void *arg,
                      void (*abandon)(void *arg, void *result), void **result);

/* Inside fn on a worker thread: 1 once the task that started this job was cancelled
 * (or timed out) and will not collect its result: a long job should poll it and stop
 * early. 0 otherwise, and outside pool threads. */
int cora_thread_cancelled(void);

/* The most worker threads the current loop's pool may run at once (threads start on
 * demand and stay for the loop's life). Default: the number of CPUs plus 4, at most
 * 32 (asyncio's), or CORA_THREADS from the environment. Returns 0, -EPERM outside a
 * loop, -EINVAL unless 1 <= n <= 1024. Lowering it does not stop running threads. */
int cora_to_thread_max(int n);

#ifdef __cplusplus
}
#endif
#endif

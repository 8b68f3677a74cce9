/* cora/proc.h: work outside the loop: the thread pool, subprocesses, signals.
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

/* ---- Subprocesses (asyncio.create_subprocess_exec) ------------------------------ */

typedef struct cora_process cora_process;

#define CORA_INHERIT 0 /* the child shares this process's stream */
#define CORA_PIPE 1    /* a pipe: our end is cora_process_fd(p, 0/1/2), non-blocking */
#define CORA_DEVNULL 2 /* /dev/null */
#define CORA_STDOUT 3  /* stderr only: into the same place as stdout */

typedef struct cora_process_opts {
    const char *const *env; /* NULL: this process's environment */
    const char *cwd;        /* NULL: this process's directory */
    int stdin_mode, stdout_mode, stderr_mode; /* CORA_INHERIT (default), _PIPE, ... */
} cora_process_opts;

/* Starts argv[0] (searched in PATH) with argv; never suspends. Returns 0 with *out
 * set (free it with cora_process_free), or -ENOENT (no such program), -EACCES,
 * -EINVAL, -ENOMEM, -EMFILE. Pipe ends are read and written with cora_read and
 * cora_write (cora/io.h). */
int cora_process_spawn(cora_process **out, const char *const argv[], const cora_process_opts *opts);

/* The child's pid; our end of its stdin (0), stdout (1) or stderr (2), or -1 when that
 * stream is not a pipe (or was closed). The process owns these fds. */
int cora_process_pid(const cora_process *p);
int cora_process_fd(const cora_process *p, int which);

/* Closes our end of a pipe early (stdin: the child sees the end of its input). */
void cora_process_close_fd(cora_process *p, int which);

/* Waits for the child to exit and reaps it. Returns 0 with *returncode (when not
 * NULL) set as asyncio's returncode: the exit status, or -N when signal N ended it.
 * -ECANCELED / -ETIMEDOUT leave the child running (and still yours). */
int cora_process_wait(cora_process *p, int *returncode);

/* Sends a signal (SIGTERM, SIGKILL...) through the pidfd, which cannot hit a recycled
 * pid. -ESRCH once the child was reaped. */
int cora_process_kill(cora_process *p, int sig);

/* Frees the process. A child still running is killed (SIGKILL) and reaped first, so
 * no zombie is ever left behind. Closes our pipe ends. */
void cora_process_free(cora_process *p);

/* Output collected by cora_process_communicate: data is NUL-terminated (not counted
 * in len), malloc'd; free it. NULL when the stream was not a pipe. */
typedef struct cora_output {
    char *data;
    size_t len;
} cora_output;

/* asyncio's communicate: writes input (if stdin is a pipe) and closes stdin, reads
 * stdout and stderr (those that are pipes) at the same time until they end, at most
 * max bytes each (0: 64 MiB; more is -EFBIG), and waits for the child to exit.
 * Returns 0 with *returncode (as cora_process_wait) and out and err filled (either
 * may be NULL to discard). On any error (-ECANCELED, -ETIMEDOUT under
 * cora_fail_after, -EFBIG, -ENOMEM) the child is killed and reaped, and nothing is
 * handed out. */
int cora_process_communicate(cora_process *p, const void *input, size_t inlen,
                             cora_output *out, cora_output *err, size_t max, int *returncode);

/* ---- Signals -------------------------------------------------------------------- */

/* Suspends the calling task until one of the n signals arrives, and returns its
 * number. While it waits, the loop's thread blocks those signals so they queue for
 * it (through a signalfd) instead of running their handlers; other threads should
 * block them too, or the kernel may deliver them there. Returns the signal number,
 * or -EINVAL, -ECANCELED, -ETIMEDOUT. */
int cora_signal_wait(const int *signals, int n);

#ifdef __cplusplus
}
#endif
#endif

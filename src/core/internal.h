/* src/core/internal.h: what the core layer shares between its files and with the
 * layers above it. Nothing here is part of the public API. */
#ifndef CORA_CORE_INTERNAL_H
#define CORA_CORE_INTERNAL_H

#include "cora/core.h"

#include <errno.h>
#include <pthread.h>
#include <sys/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Sanitizer detection ------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define CORA__ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CORA__ASAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define CORA__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CORA__TSAN 1
#endif
#endif

/* The sanitizers must be told about every stack switch, or ASan reports false
 * stack-buffer-overflows and TSan loses track of happens-before. Declared here
 * rather than through <sanitizer/...> headers, which not every toolchain ships. */
#ifdef CORA__ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#ifdef CORA__TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* ---- Allocation, with fault injection ------------------------------------------
 *
 * Every allocation cora makes goes through these (and stack mappings count too), so
 * a test can make the Nth one from now fail on this thread (cora__fail_alloc_at = N)
 * and sweep N to prove that every error path cleans up (SQLite's and neco's
 * technique). 0 turns it off, which is the only cost outside tests: one thread-local
 * load and branch per allocation. */
extern __thread long cora__fail_alloc_at;
static inline bool cora__alloc_should_fail(void)
{
    return cora__fail_alloc_at > 0 && --cora__fail_alloc_at == 0;
}
void *cora__malloc(size_t n);
void *cora__calloc(size_t n, size_t size);
void *cora__realloc(void *p, size_t n);

/* ---- I/O failures, with fault injection -----------------------------------------
 *
 * The same for system calls: cora__fail_io_at = N makes the Nth I/O operation from
 * now on this thread fail with cora__fail_io_err (a negative errno; 0 means -EIO).
 * Only tests set these. An I/O operation is
 *   - every operation a task submits to the backend (src/io/io.c, the one path both
 *     io_uring and epoll go through): recv, send, connect, accept, poll (cora_wait_fd,
 *     cora_poll, each fd of cora__poll_many), read, write, sendmsg, recvmsg and the
 *     native file operations. The operation is not given to the backend; it completes
 *     at once with the error, as epoll completes an operation whose system call
 *     failed, so the caller's real error path runs;
 *   - every read and write OpenSSL makes on a TLS connection's socket (src/net/tls.c),
 *     counted as CORA__OP_RECV and CORA__OP_SEND: the call fails with errno set, as
 *     the socket's own failure would. Only connections made while the knob is armed
 *     are watched, so the cost when off is one branch per connection, not per call.
 * -ECONNRESET and -EPIPE on a connected stream socket also end the connection for
 * real (connect(AF_UNSPEC) resets it, the peer sees the reset; shutdown(SHUT_RDWR)
 * then makes later reads here see the end and writes -EPIPE, as after a reset
 * received), because that is what they mean: a socket that failed with them and then
 * worked again would be a failure no kernel makes, and code may rightly rely on that
 * (OpenSSL ignores a reset while sending TLS 1.3 session tickets, since the
 * connection is gone anyway; with the socket still alive the peer would then get
 * records out of sequence). Other errors fail the one operation only.
 * cora__fail_io_kinds, when not 0, counts only the kinds whose bit is set
 * (1u << CORA__OP_SEND, ...; the enum is in src/io/backend.h), so that -EPIPE, say,
 * is injected only where the kernel could return it.
 * -EAGAIN makes no sense here: neither backend ever completes an operation with it
 * (epoll waits for readiness, io_uring polls inside the kernel), so callers rightly
 * treat it as a real error. Thread-local like the allocation knob (loops and pool
 * workers on other threads count their own). When off, the cost is one thread-local
 * load and branch per operation. */
extern __thread long cora__fail_io_at;
extern __thread int cora__fail_io_err;
extern __thread unsigned cora__fail_io_kinds;
static inline bool cora__io_should_fail(int kind)
{
    if (cora__fail_io_at <= 0) return false;
    if (cora__fail_io_kinds && !(cora__fail_io_kinds & (1u << kind))) return false;
    return --cora__fail_io_at == 0;
}
/* The injected error for an operation on fd (see io.c: it also ends the connection
 * when the error says it has ended). */
int cora__io_fault_fire(int fd);

/* ---- Intrusive doubly linked list (circular, with a head node) ------------------ */

typedef struct cora__list {
    struct cora__list *prev, *next;
} cora__list;

#define CORA__CONTAINER_OF(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

static inline void cora__list_init(cora__list *h)
{
    h->prev = h->next = h;
}
static inline bool cora__list_empty(const cora__list *h)
{
    return h->next == h;
}
static inline void cora__list_push_back(cora__list *h, cora__list *n)
{
    n->prev = h->prev;
    n->next = h;
    h->prev->next = n;
    h->prev = n;
}
static inline void cora__list_remove(cora__list *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = n;
}
static inline cora__list *cora__list_pop_front(cora__list *h)
{
    cora__list *n = h->next;
    if (n == h) return NULL;
    cora__list_remove(n);
    return n;
}

/* ---- Context switch (src/core/ctx.h has the per-architecture choice) ------------ */

#include "ctx.h"

/* ---- Stacks (stack.c) ---------------------------------------------------------- */

typedef struct cora__stack {
    void *map;       /* start of the mapping (the guard page, when there is one) */
    size_t map_size; /* whole mapping */
    void *lo;        /* lowest usable byte */
    size_t size;     /* usable bytes, from lo up */
    uint8_t guard;   /* CORA__GUARD_* that protects this stack */
    unsigned valgrind_id; /* VALGRIND_STACK_REGISTER's handle, so valgrind follows switches */
    struct cora__stack *next_free;
} cora__stack;

enum { CORA__GUARD_NONE, CORA__GUARD_MADVISE, CORA__GUARD_MPROTECT };

/* Debug mode's stack use of one spawn site with one stack size (stackuse.c). */
typedef struct cora__stack_site {
    void *site;        /* the spawn call's return address; NULL: an empty slot */
    size_t stack_size; /* usable bytes of its tasks' stacks */
    uint64_t tasks;    /* tasks of it measured when they ended */
    size_t high_water; /* the most stack any of them touched, in bytes */
} cora__stack_site;

typedef struct cora__stack_pool {
    cora__stack *free; /* pooled stacks of the default size */
    size_t nfree, max_free;
    size_t page;
    int guard_mode;         /* what the kernel offers: CORA__GUARD_MADVISE or _MPROTECT */
    size_t mprotect_budget; /* guards that mprotect may still make (each splits a VMA) */
    size_t unguarded;       /* stacks handed out without a guard page */
    size_t live;            /* stacks handed out and not returned */
    /* Debug mode's stack use per spawn site (stackuse.c): open addressing on
     * (site, stack size), NULL until the first record. */
    cora__stack_site *sites;
    size_t nsites, capsites;
} cora__stack_pool;

int cora__stack_pool_init(cora__stack_pool *p);
void cora__stack_pool_close(cora__stack_pool *p);
/* Gives a stack of at least `size` usable bytes, or NULL (errno set). */
cora__stack *cora__stack_get(cora__stack_pool *p, size_t size);
void cora__stack_put(cora__stack_pool *p, cora__stack *s);
/* Whether cora__stack_put would keep s in the pool (rather than unmap it). */
static inline bool cora__stack_will_pool(const cora__stack_pool *p, const cora__stack *s)
{
    return s->size == CORA_STACK_DEFAULT && p->nfree < p->max_free;
}
/* Debug mode, stackuse.c. note_end: called (by cora__debug_switch_out) as a task that
 * ran ends, before its stack goes back: measures how deep the task went, records it
 * under its spawn site, and gives the touched pages back if the stack is pooled, so the
 * next task's measure is its own. scrub: gives back the pages of every pooled stack
 * (debug mode switched on in a running loop, whose pool holds stacks used before). */
void cora__stack_note_end(cora_loop *loop, cora_task *t);
void cora__stack_pool_scrub(cora__stack_pool *p);

/* ---- Timers (timer.c): a binary min-heap keyed by (deadline, sequence) ----------- */

typedef struct cora__timer {
    int64_t deadline;
    uint64_t seq; /* insertion order: equal deadlines fire first-in first-out */
    size_t index; /* position in the heap; SIZE_MAX when not armed */
    void (*fire)(struct cora__timer *);
} cora__timer;

typedef struct cora__heap {
    cora__timer **items;
    size_t len, cap;
    uint64_t next_seq;
} cora__heap;

void cora__heap_init(cora__heap *h);
void cora__heap_free(cora__heap *h);
int cora__heap_push(cora__heap *h, cora__timer *t); /* 0 or -ENOMEM */
void cora__heap_remove(cora__heap *h, cora__timer *t);
static inline cora__timer *cora__heap_top(const cora__heap *h)
{
    return h->len ? h->items[0] : NULL;
}
static inline bool cora__timer_armed(const cora__timer *t)
{
    return t->index != SIZE_MAX;
}

/* ---- Tasks and the loop -------------------------------------------------------- */

enum cora__task_state { CORA__READY, CORA__RUNNING, CORA__SUSPENDED, CORA__DONE };

/* Called when a parked task is cancelled: must unhook the task from what it waits
 * on and arrange for cora__wake to be called (at once, or later when the kernel is
 * done with an operation). */
typedef void (*cora__cancel_fn)(cora_task *t);

/* What a parked task waits for, for the task dump and the deadlock checks of debug
 * mode (debug.c). One static descriptor per kind of wait, given to cora__park with
 * the object waited on (`on`, alive while the task is parked). Callbacks, so that
 * the core can describe a lock or a socket read without knowing the upper layers. */
typedef struct cora__wait_desc {
    const char *what; /* "lock", "sleep", "read"... */
    /* The task that must act before this wait can end (a lock's owner, the task
     * awaited), or NULL: the edges of the wait-for graph. */
    cora_task *(*holder)(const cora_task *t, const void *on);
    /* Writes details ("fd 7", "3 of 10 items") into buf, or NULL. */
    void (*detail)(const cora_task *t, const void *on, char *buf, size_t cap);
    /* A thread outside the loop ends this wait (the thread pool, a loop in another
     * thread): the loop is not stuck while a task waits so. */
    bool external;
    /* Or NULL. The loop is closing with the task still parked here, which happens
     * only when it stopped on an error (its backend's poll failed): nobody will wake
     * the task, and its record and stack are released next. Releases what the wait
     * holds that would outlive the loop (a thread to join, memory the woken task
     * would have freed); `wait_obj` is the one given to cora__park. */
    void (*on_close)(cora_task *t);
} cora__wait_desc;

/* A set of tasks waited on together (gather, wait, groups): `on` for their waits. */
typedef struct cora__task_set {
    size_t n;
    cora_task *const *tasks;
} cora__task_set;
extern const cora__wait_desc cora__wait_tasks_all; /* every one must end */
extern const cora__wait_desc cora__wait_tasks_any; /* the first to end will do */

/* A node on a task's done list: fn runs when the task ends (await, gather, wait,
 * groups all watch tasks this way). */
typedef struct cora__waiter {
    cora__list link;
    void (*fn)(struct cora__waiter *w, cora_task *done);
    cora_task *task; /* the watcher, for callbacks that wake it */
} cora__waiter;

/* A cancel scope (scope.c); the public cora_scope is its stand-in. */
typedef struct cora__scope {
    struct cora__scope *outer;
    cora_task *task;
    cora__timer timer;
    int cause; /* 0, -ECANCELED or -ETIMEDOUT */
    bool shield;
    bool move_on;
    bool delivered; /* a suspension point inside returned the cause */
} cora__scope;

typedef struct cora__local_slot {
    const cora_local *key;
    void *value;
} cora__local_slot;

struct cora_task {
    cora__ctx ctx;
    cora__list link;     /* run queue, or the list of what it waits on */
    cora__list all_link; /* every live task of the loop (teardown cancels them) */
    cora_loop *loop;
    cora_fn fn;
    void *arg;
    void *result;
    int status;
    uint8_t state;
    bool started;
    bool cancel_requested;
    bool cancel_delivered;
    bool failed; /* cora_fail was called */
    bool detached;
    bool is_main;
    int wake_result;          /* what cora__park returns */
    cora__cancel_fn on_cancel; /* while parked */
    void *wait_obj;            /* what it is parked on (for on_cancel) */
    cora__list done_waiters;   /* cora__waiter nodes, run when the task ends */
    bool awaited;              /* an owner is collecting it (await, gather, wait_for) */
    bool in_group;             /* a task group owns it */
    void *group;               /* that group (group.c) */
    cora__list group_link;     /* in the group's list of live children */
    cora__waiter group_node;   /* on done_waiters while in a group */
    cora__scope *scopes;       /* innermost cancel scope, or NULL */
    cora__timer timer;         /* for sleeps */
    unsigned budget;           /* operations left before a forced yield */
    cora__stack *stack; /* taken at first run, given back when the task ends */
    size_t stack_size;  /* asked for at spawn (0: default) */
    cora__local_slot *locals;
    uint32_t nlocals, caplocals;
    uint64_t id;
    uint64_t done_seq; /* the loop's count of ended tasks when this one ended */
    void *spawn_site;  /* debug mode: the return address of the spawn call */
    uint64_t bytes_read, bytes_written; /* by its I/O operations (cora_task_stats_get) */
#ifdef CORA__ASAN
    void *asan_fake;
#endif
#ifdef CORA__TSAN
    void *tsan_fiber;
#endif
    char name[CORA_TASK_NAME_MAX];
    /* Past the name, so not cleared when a record is reused (spawn clears up to the
     * name, and each byte cleared counts on that hot path): */
    const cora__wait_desc *wait_desc; /* set by every park: what it waits for */
    const void *wait_on;              /* and on which object */
    int64_t parked_ns;                /* debug mode: when it last suspended */
    /* Debug mode's accounting: zeroed at spawn and when debug mode comes on. */
    uint64_t switches;
    int64_t run_ns;
    struct cora__park_trace *trace;   /* debug mode: where; freed and cleared on release */
};

typedef struct cora__call {
    void (*fn)(void *);
    void *arg;
    struct cora__call *next;
} cora__call;

struct cora__backend;
typedef struct cora__pool cora__pool; /* the thread pool, src/proc/pool.c */
typedef struct cora__dns cora__dns;   /* the resolver's channel, src/net/dns.c */

struct cora_loop {
    cora__ctx sched_ctx; /* the scheduler runs on the thread's own stack */
    cora_task *current;
    cora_task *main;
    cora__list runq;
    size_t runq_len;
    cora__list tasks; /* every task not yet released */
    size_t live;      /* tasks not DONE */
    cora__heap timers;
    int64_t now;
    cora__stack_pool stacks;
    const struct cora__backend *backend;
    void *backend_data;
    uint64_t next_task_id;
    uint64_t done_count; /* tasks ended so far: orders completions (as_completed) */
    uint64_t rng;        /* select's random order (sync/chan.c) */
    /* Made by an upper layer on first use; closed through the pointer it leaves, so
     * the core never calls up into that layer. */
    cora__pool *pool;
    void (*pool_close)(cora_loop *loop);
    cora__dns *dns;
    void (*dns_close)(cora_loop *loop);
    bool accept_backoff_said; /* cora_accept reported running out, once */
    pid_t pid; /* the process that runs it: a forked child does not */
    unsigned native_ops; /* 1 << CORA__OP_x for file ops the backend does itself */
    cora_task *free_tasks; /* released task records kept for reuse (linked by arg) */
    size_t nfree_tasks;
    size_t inflight; /* operations submitted to the backend and not completed */
    bool stopping;   /* main has ended: the rest are being cancelled */
    bool escaped;    /* cora_loop_current gave it out, or a queue was made threadsafe:
                      * another thread may wake it (debug mode's asleep check) */
    int asleep;      /* debug mode found every task asleep (1: once, main cancelled) */
    bool debug;      /* CORA_DEBUG=1 or cora_debug_set */
    struct cora__dbg *dbg; /* debug mode's state (debug.c), NULL when never on */
    /* cora_stats_get's counters: plain increments, always on. */
    uint64_t stat_switches, stat_spawns, stat_ops, stat_jobs;
    uint64_t stat_ops_kind[16]; /* by enum cora__op_kind (io/backend.h) */
    /* Those that need the clock, kept in debug mode only. */
    int64_t stat_poll_ns, stat_run_ns, stat_longest_ns;
    char stat_longest_name[CORA_TASK_NAME_MAX];
    char backend_note[160]; /* why the preferred backend was not used, if it was not */

    /* Cross-thread inbox: the only state other threads touch. */
    pthread_mutex_t inbox_lock;
    cora__call *inbox_head, *inbox_tail;
    atomic_int wake_pending; /* a wake-up is already on its way */
    atomic_int interrupted;  /* CORA__INTR_* bits: news from a signal handler or the
                              * watchdog, looked at once per round */
    bool owns_interrupts;

#ifdef CORA__ASAN
    void *asan_fake;
    const void *sched_stack_bottom;
    size_t sched_stack_size;
#endif
#ifdef CORA__TSAN
    void *tsan_fiber;
#endif
};

/* Live objects on this thread, for the tests' leak and liveness check after every
 * case (tests/harness.h): each must be back to 0 once cora_run has returned. */
typedef struct cora__census {
    long tasks;  /* allocated and not released */
    long stacks; /* mapped and not unmapped */
    long ops;    /* submitted to a backend and not completed */
} cora__census;
extern __thread cora__census cora__census_now;

/* Operations a task may perform before it is made to yield even though each one
 * completed at once (Tokio's coop budget is 128 too). */
#define CORA__BUDGET 128

/* The thread's loop or NULL. Inline and initial-exec: it is on every hot path, and
 * the general-dynamic TLS model would cost a call into the dynamic linker each time. */
extern __thread cora_loop *cora__tls_loop __attribute__((tls_model("initial-exec")));
static inline cora_loop *cora__loop(void)
{
    return cora__tls_loop;
}

/* Parks the running task until cora__wake; `on_cancel` runs if it is cancelled
 * meanwhile (NULL: the cancellation waits for the next suspension point). `why` and
 * `on` say what it waits for (see cora__wait_desc); `wait_obj` is for on_cancel.
 * Returns the value given to cora__wake. Call only from a task. */
int cora__park(const cora__wait_desc *why, const void *on, cora__cancel_fn on_cancel,
               void *wait_obj);
/* Makes a parked task ready; its cora__park returns `result`. Does nothing if the
 * task is not parked (already woken this round, say), so several wake sources for
 * one wait are safe. */
void cora__wake(cora_task *t, int result);
/* cora__checkpoint, then cora__park: the usual way to suspend. */
int cora__suspend(const cora__wait_desc *why, const void *on, cora__cancel_fn on_cancel,
                  void *wait_obj);
/* An on_cancel that just wakes the task with -ECANCELED (waits whose bookkeeping the
 * waiting code undoes itself). */
void cora__cancel_wake(cora_task *t);

/* Cancellation state, scope.c. pending: the error the next suspension point must
 * return (0: none), without side effects. deliver: the same, marking it delivered.
 * poke: a parked task whose pending cancellation just appeared is woken through its
 * on_cancel. */
int cora__pending_cancel(const cora_task *t);
void cora__poke(cora_task *t);
void cora__scopes_abandon(cora_task *t);
/* The running task, or NULL outside a task. */
static inline cora_task *cora__current(void)
{
    cora_loop *loop = cora__loop();
    return loop ? loop->current : NULL;
}

int cora__deliver_cancel(cora_task *t);

/* The check every suspension point makes first: -ECANCELED (or a scope's cause) once
 * a cancellation is pending, marking it delivered; -EPERM outside a task; else 0.
 * Inline, with the common case (no cancellation, no scope) decided in two loads: it
 * runs on every operation. */
static inline int cora__checkpoint(void)
{
    cora_task *t = cora__current();
    if (!t) return -EPERM;
    if (!t->cancel_requested && !t->scopes) return 0;
    return cora__deliver_cancel(t);
}
/* Counts one operation that completed without suspending; yields when the budget is
 * spent. Returns what cora_yield returns. */
int cora__budget_spend(void);

/* cora_call_soon_threadsafe with a node the caller allocated beforehand (cora__malloc;
 * fn and arg set), so it cannot fail: for a thread that must hand a result back
 * whatever happens. The loop frees the node once it has run it. The same rule on the
 * loop's lifetime applies. */
void cora__call_soon_node(cora_loop *loop, cora__call *c);

void cora__task_switch_in(cora_loop *loop, cora_task *t); /* scheduler -> task */
void cora__task_release(cora_task *t);
void cora__report_unobserved(cora_task *t);

/* loop->interrupted's bits. */
#define CORA__INTR_CANCEL 1 /* SIGINT/SIGTERM arrived: cancel main (interrupt.c) */
#define CORA__INTR_DUMP 2   /* SIGUSR1 in debug mode: dump the tasks (debug.c) */

/* Ctrl-C handling for cora_run (interrupt.c). */
void cora__interrupt_install(cora_loop *loop);
void cora__interrupt_remove(cora_loop *loop);

/* Debug mode (debug.c). default: whether a new loop starts in debug mode (the API's
 * choice, else CORA_DEBUG). loop_start registers the loop with the watchdog (0,
 * -ENOMEM or -EAGAIN); loop_stop undoes it. The switch hooks run only when
 * loop->debug is set. */
typedef struct cora__dbg cora__dbg;
bool cora__debug_default(void);
int cora__debug_loop_start(cora_loop *loop);
void cora__debug_loop_stop(cora_loop *loop);
void cora__debug_switch_in(cora_loop *loop, cora_task *t);
void cora__debug_switch_out(cora_loop *loop, cora_task *t);
/* A task of a debug loop parks: note when and where, and look for a deadlock. */
void cora__debug_park(cora_loop *loop, cora_task *t);
/* Called by the scheduler of a debug loop about to wait with no timer armed: if no
 * task can ever be woken, reports it with the task dump and returns true. */
bool cora__debug_asleep(cora_loop *loop);

/* cora_spawn_ex with the spawn site to record in debug mode. */
int cora__spawn_at(cora_task **out, cora_fn fn, void *arg, const cora_spawn_opts *opts,
                   void *site);

int cora__local_inherit(cora_task *child, const cora_task *parent);

/* Stack overflow reports (overflow.c): install while cora_run runs, remove when it
 * ends; process-wide handler, per-thread alternate stack, both only if the program
 * has no SIGSEGV handler of its own. */
void cora__overflow_install(cora_loop *loop);
void cora__overflow_remove(cora_loop *loop);
/* Writes "function (object+0xoff) [0xaddr]" for pc into buf (NUL-terminated,
 * truncated to cap) with dladdr and no stdio, so a signal handler may use it; returns
 * the length written. */
size_t cora__symbolize(char *buf, size_t cap, const void *pc);
/* Writes all of p to stderr with write(2), retrying on EINTR; signal-safe. */
void cora__write_stderr(const char *p, size_t n);
/* Bytes of s touched, from its top down to its lowest resident page (stackuse.c);
 * 0 if unknown. */
size_t cora__stack_used(const cora__stack *s, size_t page);

#endif

/* src/core/overflow.c: a task that overflows its stack is named, not left to die of a
 * bare SIGSEGV (docs/debug.md, "Stack overflow").
 *
 * Every task stack has a guard page below it (stack.c), so a task that runs off its
 * stack faults instead of writing over a neighbour. Left alone, that fault kills the
 * process with SIGSEGV and nothing says which task, or that a bigger stack is the fix.
 * So while cora_run runs, cora handles SIGSEGV and SIGBUS: a fault in or just below the
 * running task's stack is reported on stderr (the task's name and id, its stack size,
 * the spawn site in debug mode, and the advice to raise the stack size), and the
 * process aborts. Any other fault gets its previous action back and happens again, so
 * it ends the process exactly as it would have without cora.
 *
 * The handler needs an alternate signal stack: the kernel builds the signal frame on
 * the stack the fault happened on, and an overflowed stack has no room left, so
 * without one the kernel gives up and kills the process with a bare SIGSEGV.
 *
 * Who owns what. Signal actions belong to the process, alternate stacks to threads.
 *   - The action: the first cora_run to start installs the handler, if SIGSEGV (or
 *     SIGBUS) still has its default action; the last to end puts the previous action
 *     back, if the handler is still ours. A count of running loops under a mutex
 *     decides first and last, so loops on several threads may start and end in any
 *     order. A program that installed its own handler keeps it, and so do the
 *     sanitizers: AddressSanitizer and ThreadSanitizer install theirs at startup and
 *     report stack overflows themselves (the report says "stack-overflow" and has the
 *     task's backtrace), so under them this file stays out of the way; the tests
 *     check that their report still comes through.
 *   - The alternate stack: each loop's thread gets one for the length of its cora_run
 *     while the handler is ours, unless the thread already has one (the program's),
 *     which then serves. (Under valgrind it stays after: alt_stack_drop says why.)
 * The cost is a few system calls per cora_run (about 5,000 instructions under
 * callgrind), none per task or switch.
 */
#include "internal.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define CORA__VALGRIND 1
#endif

/* Room for the handler: the signal frame (with the CPU's extended state, several KiB
 * on machines with AVX-512 or AMX, hence _SC_MINSIGSTKSZ on top), dladdr and the
 * message buffer. */
#define ALT_STACK_SIZE ((size_t)64 * 1024)

/* How far below a stack the stack pointer may be and still count as an overflow of
 * it (see overflowed_task). */
#define FRAME_MAX ((uintptr_t)1024 * 1024)

static void on_fault(int sig, siginfo_t *si, void *uc);

static struct {
    pthread_mutex_t lock;
    int users;                /* cora_run calls in progress, on all threads */
    bool segv_ours, bus_ours; /* our handler is installed for that signal */
    struct sigaction old_segv, old_bus;
} proc = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* This thread's part: how many of its cora_runs are in progress (more than one only
 * in a child forked from inside a loop, which may start its own), and the alternate
 * stack made for it, if any. */
static __thread struct {
    int users;
    void *mem;
    size_t size;
} alt;

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

/* A child forked while another thread held the lock would wait for it forever; only
 * the forking thread lives on in the child, so only its loops are still running. */
static void after_fork_child(void)
{
    pthread_mutex_init(&proc.lock, NULL);
    proc.users = alt.users;
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, after_fork_child);
}

static bool is_default(const struct sigaction *sa)
{
    return !(sa->sa_flags & SA_SIGINFO) && sa->sa_handler == SIG_DFL;
}

static bool is_ours(const struct sigaction *sa)
{
    return (sa->sa_flags & SA_SIGINFO) && sa->sa_sigaction == on_fault;
}

/* Installs the handler for sig if the signal still has its default action. Called
 * with proc.lock held. The previous action is saved before the handler goes in, so a
 * fault on another thread at that moment finds it there. */
static bool take(int sig, struct sigaction *old)
{
    struct sigaction cur, sa;
    if (sigaction(sig, NULL, &cur) != 0 || !is_default(&cur)) return false;
    *old = cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL) == 0;
}

/* Puts the previous action back, unless the program replaced ours meanwhile. */
static void give_back(int sig, const struct sigaction *old)
{
    struct sigaction cur;
    if (sigaction(sig, NULL, &cur) == 0 && is_ours(&cur)) sigaction(sig, old, NULL);
}

/* Gives the thread an alternate signal stack if it has none. */
static void alt_stack_make(void)
{
    if (alt.mem) return; /* kept from the thread's last loop (valgrind: alt_stack_drop) */
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;
    long min = sysconf(_SC_MINSIGSTKSZ);
    size_t size = ALT_STACK_SIZE + (min > 0 ? (size_t)min : 0);
    void *mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (mem == MAP_FAILED) return; /* no report then, only the plain SIGSEGV */
    stack_t ss = {.ss_sp = mem, .ss_size = size, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        munmap(mem, size);
        return;
    }
    alt.mem = mem;
    alt.size = size;
}

/* Takes the thread's alternate stack away again, if it is the one made above. If it
 * cannot be switched off, it stays mapped (and serves the thread's next loop): an
 * alternate stack left pointing at unmapped memory would turn the next signal into a
 * crash. */
static void alt_stack_drop(void)
{
    if (!alt.mem) return;
#ifdef CORA__VALGRIND
    /* Valgrind (3.19) ignores SS_DISABLE when it delivers a signal (it looks only at
     * the size), so there a switched-off alternate stack stays in use: keep it mapped
     * and installed for the thread's next loop. */
    if (RUNNING_ON_VALGRIND) return;
#endif
    stack_t cur;
    if (sigaltstack(NULL, &cur) != 0) return;
    if (cur.ss_sp == alt.mem && !(cur.ss_flags & SS_DISABLE)) {
        if (cur.ss_flags & SS_ONSTACK) return; /* cora_run called from a handler */
        stack_t off = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
        if (sigaltstack(&off, NULL) != 0) return;
    }
    /* (Else the program put in its own meanwhile, and ours is unused.) */
    munmap(alt.mem, alt.size);
    alt.mem = NULL;
}

void cora__overflow_install(cora_loop *loop)
{
    (void)loop;
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&proc.lock);
    if (proc.users++ == 0) {
        proc.segv_ours = take(SIGSEGV, &proc.old_segv);
        proc.bus_ours = take(SIGBUS, &proc.old_bus);
    }
    bool ours = proc.segv_ours || proc.bus_ours;
    pthread_mutex_unlock(&proc.lock);
    if (alt.users++ == 0 && ours) alt_stack_make();
}

void cora__overflow_remove(cora_loop *loop)
{
    (void)loop;
    if (--alt.users == 0) alt_stack_drop();
    pthread_mutex_lock(&proc.lock);
    if (--proc.users == 0) {
        if (proc.segv_ours) give_back(SIGSEGV, &proc.old_segv);
        if (proc.bus_ours) give_back(SIGBUS, &proc.old_bus);
        proc.segv_ours = proc.bus_ours = false;
    }
    pthread_mutex_unlock(&proc.lock);
}

/* ---- Formatting without stdio --------------------------------------------------
 *
 * The report is written from a signal handler, where snprintf is not safe (it may
 * take locks or allocate), so it is built with these into a fixed buffer and sent
 * with one write(2). */

typedef struct {
    char *buf;
    size_t len, cap; /* len < cap; buf[len] is always 0 */
} out_buf;

static void put_str(out_buf *o, const char *s)
{
    while (*s && o->len + 1 < o->cap)
        o->buf[o->len++] = *s++;
    o->buf[o->len] = 0;
}

static void put_num(out_buf *o, uintptr_t v, unsigned base)
{
    char digits[2 * sizeof v + 1];
    size_t n = 0;
    do {
        digits[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    if (base == 16) put_str(o, "0x");
    while (n > 0 && o->len + 1 < o->cap)
        o->buf[o->len++] = digits[--n];
    o->buf[o->len] = 0;
}

size_t cora__symbolize(char *buf, size_t cap, const void *pc)
{
    out_buf o = {buf, 0, cap};
    if (cap == 0) return 0;
    buf[0] = 0;
    Dl_info info;
    if (pc && dladdr(pc, &info) && info.dli_fname) {
        const char *obj = strrchr(info.dli_fname, '/');
        obj = obj ? obj + 1 : info.dli_fname;
        if (info.dli_sname) {
            put_str(&o, info.dli_sname);
            put_str(&o, " (");
            put_str(&o, obj);
            put_str(&o, "+");
            put_num(&o, (uintptr_t)pc - (uintptr_t)info.dli_saddr, 16);
            put_str(&o, ") [");
        } else {
            put_str(&o, obj);
            put_str(&o, "+");
            put_num(&o, (uintptr_t)pc - (uintptr_t)info.dli_fbase, 16);
            put_str(&o, " [");
        }
        put_num(&o, (uintptr_t)pc, 16);
        put_str(&o, "]");
    } else {
        put_num(&o, (uintptr_t)pc, 16);
    }
    return o.len;
}

/* ---- The handler ---------------------------------------------------------------- */

/* The stack pointer when the fault happened, 0 where we do not know how to read it. */
static uintptr_t interrupted_sp(const void *uc)
{
    const ucontext_t *u = uc;
#if defined(__x86_64__)
    return (uintptr_t)u->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
    return (uintptr_t)u->uc_mcontext.sp;
#else
    (void)u;
    return 0;
#endif
}

/* The running task whose stack this fault overflowed, or NULL if the fault is not an
 * overflow of a task's stack: a fault the kernel raised (not a kill()), with a task
 * running on this thread's loop, at an address
 *   - in the guard page below the task's stack: nothing else lives there; or
 *   - below the guard page, when the stack pointer itself is below the stack, by at
 *     most FRAME_MAX, and the access is at or just under it. A frame bigger than the
 *     guard page (a large local array) moves the stack pointer past the guard in one
 *     step, and its first store may land below the guard; GCC probes each page only
 *     with -fstack-clash-protection, off by default in Debian 12's GCC. A stack
 *     pointer below its stack is an overflow whatever the access. The bound keeps out a task
 *     that runs on some other stack of its own (another coroutine library), and a
 *     frame of over 1 MiB on a task stack is rare enough. The slack of a page under
 *     the stack pointer covers the x86-64 red zone and aarch64's pre-indexed stores.
 * (A big frame whose store lands in another mapping that is writable, such as another
 * task's stack, does not fault at all: only stack-clash protection can catch that.)
 * The scheduler's own stack is the thread's, not a task's: a fault there is not ours. */
static cora_task *overflowed_task(const siginfo_t *si, const void *uc)
{
    if (si->si_code <= 0) return NULL; /* sent by kill(), sigqueue() or tgkill() */
    cora_loop *loop = cora__tls_loop;  /* initial-exec TLS: safe in a handler */
    cora_task *t = loop ? loop->current : NULL;
    if (!t || !t->stack) return NULL;
    uintptr_t addr = (uintptr_t)si->si_addr;
    uintptr_t lo = (uintptr_t)t->stack->lo, map = (uintptr_t)t->stack->map;
    if (addr >= map && addr < lo) return t;
    uintptr_t sp = uc ? interrupted_sp(uc) : 0;
    size_t page = loop->stacks.page;
    if (sp && sp < lo && lo - sp <= FRAME_MAX && addr < lo && addr + page >= sp) return t;
    return NULL;
}

/* write(2) until done: async-signal-safe, so debug.c's reports use it too. */
void cora__write_stderr(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w, n -= (size_t)w;
    }
}

/* Writes the report. Everything but the spawn site goes out first, in one write: the
 * site needs dladdr, which takes the dynamic linker's lock and so is not
 * async-signal-safe. We abort right after, so the only risk is a task that overflowed
 * inside the dynamic linker while it held that lock (lazy binding uses a fair amount
 * of stack); then the process would hang on the last line rather than abort, with the
 * useful part already written. */
static void report(cora_loop *loop, cora_task *t)
{
    char buf[1536];
    out_buf o = {buf, 0, sizeof buf};
    size_t kib = t->stack->size / 1024;
    size_t suggest = t->stack->size * 2 <= CORA_STACK_MAX ? kib * 2 : CORA_STACK_MAX / 1024;
    put_str(&o, "cora: task '");
    if (t->name[0]) {
        put_str(&o, t->name);
    } else {
        put_str(&o, "task-");
        put_num(&o, t->id, 10);
    }
    put_str(&o, "' (id ");
    put_num(&o, t->id, 10);
    put_str(&o, ") overflowed its stack of ");
    put_num(&o, kib, 10);
    put_str(&o, " KiB.\n");
    if (t->stack->size >= CORA_STACK_MAX) {
        put_str(&o, "      It already has the largest stack cora gives (CORA_STACK_MAX): look "
                    "for unbounded recursion.\n");
    } else {
        if (t->is_main)
            put_str(&o, "      The main task runs on a stack of the default size: move the deep "
                        "work into a task with a bigger one,\n      ");
        else
            put_str(&o, "      Give it a bigger stack: ");
        put_str(&o, "cora_spawn_ex(&t, fn, arg, &(cora_spawn_opts){.stack_size = ");
        put_num(&o, suggest, 10);
        put_str(&o,
                " * 1024}),\n      or make it use less (large local arrays, deep recursion).\n");
    }
    if (loop->debug)
        put_str(&o, "      cora_debug_print_stacks() shows how much stack each spawn site's "
                    "tasks used.\n");
    else
        put_str(&o, "      Debug mode (CORA_DEBUG=1) names the spawn site here and measures "
                    "each spawn site's stack use.\n");
    cora__write_stderr(o.buf, o.len);
    if (t->spawn_site) {
        o.len = 0;
        put_str(&o, "      spawned at: ");
        o.len += cora__symbolize(o.buf + o.len, o.cap - o.len, t->spawn_site);
        put_str(&o, "\n");
        cora__write_stderr(o.buf, o.len);
    }
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    int saved = errno;
    cora_task *t = overflowed_task(si, uc);
    if (t) {
        report(t->loop, t);
        abort();
    }
    /* Not ours: the signal gets its previous action (the default: we install only
     * over that) and the fault, when this returns, happens again and takes it. A
     * signal someone sent does not happen again by itself, so it is raised; it stays
     * blocked until the handler returns. */
    sigaction(sig, sig == SIGSEGV ? &proc.old_segv : &proc.old_bus, NULL);
    if (si->si_code <= 0) raise(sig);
    errno = saved;
}

/* src/core/interrupt.c: Ctrl-C for cora_run, as asyncio.run does it.
 *
 * The first SIGINT or SIGTERM cancels the loop's main task, which unwinds through
 * its normal cancellation paths (every suspending call returns -ECANCELED, task
 * groups and gathers cancel their children, shields finish their sections), so a
 * program can stop cleanly and report what it did not finish. A second SIGINT ends
 * the process with the default action, for a program that does not stop.
 *
 * Signals belong to the process, so this is the one piece of process-wide state in
 * cora: the first loop to start while SIGINT still has its default action takes the
 * two signals; it gives them back, with the previous actions, when it ends. A
 * program that installed its own handlers keeps them. The handler only sets an
 * atomic flag and writes to the loop's wake-up eventfd, both async-signal-safe.
 */
#include "internal.h"
#include "../io/backend.h"

#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <string.h>

static _Atomic(cora_loop *) owner;
static atomic_int interrupts;
static struct sigaction old_int, old_term;

static void on_signal(int sig)
{
    cora_loop *loop = atomic_load(&owner);
    if (sig == SIGINT && atomic_fetch_add(&interrupts, 1) >= 1) {
        /* The second Ctrl-C: the program did not stop; let the default end it. */
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
        return;
    }
    if (!loop) return;
    atomic_fetch_or(&loop->interrupted, CORA__INTR_CANCEL);
    loop->backend->wake(loop);
}

static bool has_default_action(int sig)
{
    struct sigaction cur;
    return sigaction(sig, NULL, &cur) == 0 && !(cur.sa_flags & SA_SIGINFO) &&
           cur.sa_handler == SIG_DFL;
}

static bool took_int, took_term;

void cora__interrupt_install(cora_loop *loop)
{
    /* Each signal only if it still has its default action: a handler the program set,
     * or SIG_IGN inherited (a shell starts background jobs with SIGINT ignored, and
     * Python then leaves it alone too), is respected. */
    bool want_int = has_default_action(SIGINT), want_term = has_default_action(SIGTERM);
    if (!want_int && !want_term) return;
    cora_loop *expected = NULL;
    if (!atomic_compare_exchange_strong(&owner, &expected, loop)) return; /* another loop */
    atomic_store(&interrupts, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    took_int = want_int && sigaction(SIGINT, &sa, &old_int) == 0;
    took_term = want_term && sigaction(SIGTERM, &sa, &old_term) == 0;
    loop->owns_interrupts = true;
}

void cora__interrupt_remove(cora_loop *loop)
{
    if (!loop->owns_interrupts) return;
    if (took_int) sigaction(SIGINT, &old_int, NULL);
    if (took_term) sigaction(SIGTERM, &old_term, NULL);
    atomic_store(&owner, NULL);
    loop->owns_interrupts = false;
}

/* src/core/ctx_ucontext.c: the portable context switch, on getcontext/makecontext/
 * swapcontext. Used where no assembly switch exists, or when forced with
 * -DCORA_CONTEXT=ucontext (the test suite runs it on every machine so it stays
 * correct). makecontext passes only int arguments, so the entry and its argument
 * travel as two halves each. */
#include "ctx.h"

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

static void ctx_trampoline(unsigned ehi, unsigned elo, unsigned ahi, unsigned alo)
{
    uintptr_t e = ((uintptr_t)ehi << 16 << 16) | elo;
    uintptr_t a = ((uintptr_t)ahi << 16 << 16) | alo;
    ((void (*)(void *))e)((void *)a);
    abort(); /* entry never returns */
}

void cora__ctx_make(cora__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t e = (uintptr_t)entry, a = (uintptr_t)arg;
    getcontext(&c->uc);
    c->uc.uc_stack.ss_sp = lo;
    c->uc.uc_stack.ss_size = size;
    c->uc.uc_link = NULL;
    makecontext(&c->uc, (void (*)(void))ctx_trampoline, 4, (unsigned)(e >> 16 >> 16),
                (unsigned)(e & 0xffffffffu), (unsigned)(a >> 16 >> 16), (unsigned)(a & 0xffffffffu));
}

void cora__ctx_switch(cora__ctx *from, cora__ctx *to)
{
    /* swapcontext also restores the signal mask saved in `to`, but the mask belongs to
     * the thread, not to a task: cora_signal_wait blocks signals for the loop's thread
     * while its task is parked. So `to` takes the thread's current mask along. (One
     * more system call on a path that already makes one; the assembly switch never
     * touches the mask.) */
    pthread_sigmask(SIG_SETMASK, NULL, &to->uc.uc_sigmask);
    swapcontext(&from->uc, &to->uc);
}

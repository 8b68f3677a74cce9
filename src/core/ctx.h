/* src/core/ctx.h: the machine context of a task, and switching between two of them.
 *
 * Two implementations, chosen at build time:
 *   - assembly (arch/switch_<arch>.S) for x86_64 and aarch64: saves exactly the
 *     callee-saved state of the ABI on the stack being left and stores its stack
 *     pointer; a switch is a few dozen instructions and no system call.
 *   - ucontext (ctx_ucontext.c): portable fallback for other architectures, forced
 *     with -DCORA_CONTEXT=ucontext. swapcontext saves the signal mask with a system
 *     call, so it is several times slower; bench/ prints the difference.
 */
#ifndef CORA_CORE_CTX_H
#define CORA_CORE_CTX_H

#include <stddef.h>

#if defined(CORA_CTX_UCONTEXT)
#include <ucontext.h>
typedef struct cora__ctx {
    ucontext_t uc;
} cora__ctx;
#else
typedef struct cora__ctx {
    void *sp; /* saved stack pointer; the registers sit on that stack */
} cora__ctx;
#endif

/* Prepares `c` so that the first switch to it calls entry(arg) on the stack
 * [lo, lo+size). `entry` must never return: a finished task switches away for good. */
void cora__ctx_make(cora__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg);

/* Saves the running context in `from` and resumes `to`. Returns when something
 * switches back to `from`. */
void cora__ctx_switch(cora__ctx *from, cora__ctx *to);

#endif

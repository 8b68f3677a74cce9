/* src/core/ctx_asm.c: building the first frame for the assembly switch
 * (arch/switch_<arch>.S). The frame must look exactly like one that
 * cora__ctx_switch pushed, so the first switch "returns" into cora__ctx_start. */
#include "ctx.h"

#include <stdint.h>
#include <string.h>

void cora__ctx_start(void);

void cora__ctx_make(cora__ctx *c, void *lo, size_t size, void (*entry)(void *), void *arg)
{
    uintptr_t top = ((uintptr_t)lo + size) & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* [mxcsr|fpucw] r15 r14 r13 r12 rbx rbp ret: 8 words; after the pops and ret the
     * stack pointer is `top`, 16-byte aligned, as cora__ctx_start needs. */
    uint64_t *f = (uint64_t *)(top - 8 * 8);
    uint32_t mxcsr = 0x1F80; /* the ABI's initial state: all exceptions masked, */
    uint16_t fpucw = 0x037F; /* round to nearest, extended precision */
    memset(f, 0, 8 * 8);
    memcpy(&f[0], &mxcsr, 4);
    memcpy((char *)&f[0] + 4, &fpucw, 2);
    f[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    f[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    f[7] = (uint64_t)(uintptr_t)cora__ctx_start;
    c->sp = f;
#elif defined(__aarch64__)
    uint64_t *f = (uint64_t *)(top - 176);
    memset(f, 0, 176);
    f[0] = (uint64_t)(uintptr_t)entry; /* x19 */
    f[1] = (uint64_t)(uintptr_t)arg;   /* x20 */
    f[11] = (uint64_t)(uintptr_t)cora__ctx_start; /* x30 */
    /* FPCR 0: round to nearest, no traps (the AAPCS64 initial state). */
    c->sp = f;
#else
#error "no assembly context switch for this architecture: build with -DCORA_CONTEXT=ucontext"
#endif
}

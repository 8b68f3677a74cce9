/* tests/test_switch.c: the context switch alone, without a loop.
 *
 * Checks that a switch preserves every callee-saved register and the FP control
 * state the ABI makes callee-saved, on x86_64 and aarch64 (assembly switch), and that
 * the portable ucontext switch does too. Plain C and asserts, no test framework, so
 * the same file runs natively and, cross-compiled, under qemu-user
 * (scripts/test-cross.sh). Prints "N passed, 0 failed".
 */
#include "../src/core/ctx.h"

#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int passed, failed;

#define CHECK(cond)                                                                         \
    do {                                                                                    \
        if (cond)                                                                           \
            passed++;                                                                       \
        else {                                                                              \
            failed++;                                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                                   \
    } while (0)

static cora__ctx main_ctx, co_ctx;
static volatile int co_steps;

/* ---- the coroutine side: trashes every callee-saved register, then switches back --- */

static void trash_and_switch(void)
{
#if defined(__x86_64__) && !defined(CORA_CTX_UCONTEXT)
    __asm__ volatile("movq $0xdead0001, %%rbx\n\t"
                     "movq $0xdead0002, %%r12\n\t"
                     "movq $0xdead0003, %%r13\n\t"
                     "movq $0xdead0004, %%r14\n\t"
                     "movq $0xdead0005, %%r15\n\t" ::
                         : "rbx", "r12", "r13", "r14", "r15");
#elif defined(__aarch64__) && !defined(CORA_CTX_UCONTEXT)
    __asm__ volatile("mov x19, #0xdead\n\tmov x20, #0xdead\n\tmov x21, #0xdead\n\t"
                     "mov x22, #0xdead\n\tmov x23, #0xdead\n\tmov x24, #0xdead\n\t"
                     "mov x25, #0xdead\n\tmov x26, #0xdead\n\tmov x27, #0xdead\n\t"
                     "mov x28, #0xdead\n\tfmov d8, x19\n\tfmov d9, x19\n\tfmov d10, x19\n\t"
                     "fmov d11, x19\n\tfmov d12, x19\n\tfmov d13, x19\n\tfmov d14, x19\n\t"
                     "fmov d15, x19\n\t" ::
                         : "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27",
                           "x28", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15");
#endif
    cora__ctx_switch(&co_ctx, &main_ctx);
}

static void co_entry(void *arg)
{
    /* The coroutine has its own rounding mode, which must survive switches too. */
    fesetround(FE_UPWARD);
    for (;;) {
        co_steps++;
        trash_and_switch();
        if (fegetround() != FE_UPWARD) {
            fprintf(stderr, "coroutine lost its rounding mode\n");
            abort();
        }
    }
}

/* ---- the main side: sets known values, switches, checks them ----------------------- */

#if defined(__x86_64__) && !defined(CORA_CTX_UCONTEXT)
static int regs_survive(void)
{
    uint64_t out[6];
    uint64_t *outp = out;
    /* The switch is called from inside the asm so the compiler cannot hide a broken
     * register behind its own spills. rbp is saved by hand (it cannot be clobbered
     * in a frame-pointer build); the red zone is skipped before any push. */
    __asm__ volatile("subq $128, %%rsp\n\t"
                     "pushq %%rbp\n\t"
                     "pushq %%rdx\n\t"
                     "movq $0x1111, %%rbx\n\t"
                     "movq $0x1212, %%r12\n\t"
                     "movq $0x1313, %%r13\n\t"
                     "movq $0x1414, %%r14\n\t"
                     "movq $0x1515, %%r15\n\t"
                     "movq $0x1616, %%rbp\n\t"
                     "leaq main_ctx(%%rip), %%rdi\n\t"
                     "leaq co_ctx(%%rip), %%rsi\n\t"
                     "call cora__ctx_switch\n\t"
                     "movq %%rbp, %%rax\n\t"
                     "popq %%rcx\n\t"
                     "popq %%rbp\n\t"
                     "addq $128, %%rsp\n\t"
                     "movq %%rbx, 0(%%rcx)\n\t"
                     "movq %%r12, 8(%%rcx)\n\t"
                     "movq %%r13, 16(%%rcx)\n\t"
                     "movq %%r14, 24(%%rcx)\n\t"
                     "movq %%r15, 32(%%rcx)\n\t"
                     "movq %%rax, 40(%%rcx)\n\t"
                     : "+d"(outp)
                     :
                     : "rax", "rbx", "rcx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12",
                       "r13", "r14", "r15", "memory", "cc", "xmm0", "xmm1", "xmm2", "xmm3",
                       "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
                       "xmm13", "xmm14", "xmm15");
    static const uint64_t want[6] = {0x1111, 0x1212, 0x1313, 0x1414, 0x1515, 0x1616};
    return memcmp(out, want, sizeof want) == 0;
}
#elif defined(__aarch64__) && !defined(CORA_CTX_UCONTEXT)
static int regs_survive(void)
{
    uint64_t out[18];
    register uint64_t *outp __asm__("x8") = out;
    __asm__ volatile(
        "mov x19, #0x19\n\tmov x20, #0x20\n\tmov x21, #0x21\n\tmov x22, #0x22\n\t"
        "mov x23, #0x23\n\tmov x24, #0x24\n\tmov x25, #0x25\n\tmov x26, #0x26\n\t"
        "mov x27, #0x27\n\tmov x28, #0x28\n\t"
        "mov x9, #0x108\n\tfmov d8, x9\n\tmov x9, #0x109\n\tfmov d9, x9\n\t"
        "mov x9, #0x110\n\tfmov d10, x9\n\tmov x9, #0x111\n\tfmov d11, x9\n\t"
        "mov x9, #0x112\n\tfmov d12, x9\n\tmov x9, #0x113\n\tfmov d13, x9\n\t"
        "mov x9, #0x114\n\tfmov d14, x9\n\tmov x9, #0x115\n\tfmov d15, x9\n\t"
        "stp x8, x29, [sp, #-16]!\n\t"
        "adrp x0, main_ctx\n\tadd x0, x0, :lo12:main_ctx\n\t"
        "adrp x1, co_ctx\n\tadd x1, x1, :lo12:co_ctx\n\t"
        "bl cora__ctx_switch\n\t"
        "ldp x9, x29, [sp], #16\n\t"
        "stp x19, x20, [x9, #0]\n\tstp x21, x22, [x9, #16]\n\tstp x23, x24, [x9, #32]\n\t"
        "stp x25, x26, [x9, #48]\n\tstp x27, x28, [x9, #64]\n\t"
        "fmov x10, d8\n\tfmov x11, d9\n\tstp x10, x11, [x9, #80]\n\t"
        "fmov x10, d10\n\tfmov x11, d11\n\tstp x10, x11, [x9, #96]\n\t"
        "fmov x10, d12\n\tfmov x11, d13\n\tstp x10, x11, [x9, #112]\n\t"
        "fmov x10, d14\n\tfmov x11, d15\n\tstp x10, x11, [x9, #128]\n\t"
        : "+r"(outp)
        :
        : "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x9", "x10", "x11", "x12",
          "x13", "x14", "x15", "x16", "x17", "x19", "x20", "x21", "x22", "x23", "x24", "x25",
          "x26", "x27", "x28", "x30", "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15",
          "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16", "v17", "v18", "v19", "v20",
          "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28", "v29", "v30", "v31", "memory",
          "cc");
    static const uint64_t want[18] = {0x19,  0x20,  0x21,  0x22,  0x23,  0x24,
                                      0x25,  0x26,  0x27,  0x28,  0x108, 0x109,
                                      0x110, 0x111, 0x112, 0x113, 0x114, 0x115};
    return memcmp(out, want, sizeof want) == 0;
}
#else
/* ucontext: swapcontext saves the whole register file; switching through C still
 * checks that values the compiler keeps in callee-saved registers survive. */
static int regs_survive(void)
{
    volatile uint64_t a = 0x1111, b = 0x2222;
    register uint64_t x = a * 3, y = b * 5;
    cora__ctx_switch(&main_ctx, &co_ctx);
    return x == 0x1111 * 3 && y == 0x2222 * 5;
}
#endif

#if defined(__x86_64__)
static unsigned read_mxcsr(void)
{
    unsigned v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}
static unsigned read_x87cw(void)
{
    unsigned short v;
    __asm__ volatile("fnstcw %0" : "=m"(v));
    return v;
}
#endif

int main(void)
{
    size_t size = 256 * 1024;
    void *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(stack != MAP_FAILED);
    cora__ctx_make(&co_ctx, stack, size, co_entry, NULL);

    fesetround(FE_TOWARDZERO);
#if defined(__x86_64__)
    unsigned mx = read_mxcsr(), cw = read_x87cw();
#endif
    for (int i = 0; i < 1000; i++) {
        CHECK(regs_survive());
        CHECK(fegetround() == FE_TOWARDZERO);
#if defined(__x86_64__)
        CHECK(read_mxcsr() == mx); /* SSE rounding and exception masks */
        CHECK(read_x87cw() == cw); /* x87 rounding and precision */
#endif
    }
    CHECK(co_steps == 1000);
    fesetround(FE_TONEAREST);
    munmap(stack, size);
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}

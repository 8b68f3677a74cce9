/* Context switch for aarch64, AAPCS64.
 *
 * void cora__ctx_switch(cora__ctx *from, cora__ctx *to)
 *
 * Callee-saved: x19-x28, the frame pointer x29, the link register x30 (our return
 * address), and the low 64 bits of v8-v15 (d8-d15). FPCR holds the rounding mode and
 * exception enables, which a well-behaved callee restores, so it is kept as well
 * (the x86_64 switch keeps MXCSR and the x87 control word for the same reason).
 * Frame, 176 bytes (a multiple of 16, as sp must stay):
 *     [sp+0]   x19 x20 ... x28   [sp+80] x29   [sp+88] x30
 *     [sp+96]  d8 ... d15         [sp+160] FPCR   [sp+168] padding
 */
#if defined(__aarch64__)
    .text
    .globl cora__ctx_switch
    .hidden cora__ctx_switch
    .type cora__ctx_switch, %function
    .p2align 4
cora__ctx_switch:
    .cfi_startproc
    sub sp, sp, #176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x9, fpcr
    str x9, [sp, #160]
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
    mov sp, x9
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    ldr x9, [sp, #160]
    msr fpcr, x9
    add sp, sp, #176
    /* br, not ret: ret would pop the return-address predictor's stack, which expects
     * our own caller, and mispredict on every switch (the x86_64 switch explains). */
    br x30
    .cfi_endproc
    .size cora__ctx_switch, .-cora__ctx_switch

/* First code a new context runs: entry in x19, its argument in x20 (cora__ctx_make
 * put them in the frame). entry never returns; brk traps if it does. */
    .globl cora__ctx_start
    .hidden cora__ctx_start
    .type cora__ctx_start, %function
    .p2align 4
cora__ctx_start:
    .cfi_startproc
    .cfi_undefined x30
    mov x29, #0
    mov x0, x20
    blr x19
    brk #0
    .cfi_endproc
    .size cora__ctx_start, .-cora__ctx_start
#endif
    .section .note.GNU-stack,"",%progbits

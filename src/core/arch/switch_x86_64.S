/* Context switch for x86_64, System V ABI.
 *
 * void cora__ctx_switch(cora__ctx *from, cora__ctx *to)
 *
 * The ABI makes rbx, rbp, r12-r15 callee-saved, and the control bits of MXCSR and
 * the x87 control word too ("callee-saved" control state: a callee that changes the
 * rounding mode must restore it). Everything else is caller-saved, so the compiler
 * has already spilled it around the call. The frame pushed here is, from the saved
 * stack pointer up:
 *     [sp+0]  MXCSR (4 bytes)   [sp+4] x87 control word (2 bytes, padded)
 *     [sp+8]  r15  r14  r13  r12  rbx  rbp  return address
 */
#if defined(__x86_64__)
    .text
    .globl cora__ctx_switch
    .hidden cora__ctx_switch
    .type cora__ctx_switch, @function
    .p2align 4
cora__ctx_switch:
    .cfi_startproc
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    subq $8, %rsp
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    addq $8, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    /* Not `ret`: the return stack predictor expects a return to our own caller, but
     * this one lands in another context, so `ret` mispredicts on every switch (about
     * 5 ns here, half the switch). An indirect jump is predicted from its target
     * history instead; Boost.Context ends its switch the same way. r8 is
     * caller-saved, so it is free to use. */
    popq %r8
    jmpq *%r8
    .cfi_endproc
    .size cora__ctx_switch, .-cora__ctx_switch

/* First code a new context runs: cora__ctx_make left entry in r12 and its argument
 * in r13, and a 16-byte aligned stack, so `call` gives entry the alignment the ABI
 * promises. entry never returns; ud2 traps if it does. Marking the return address
 * undefined ends backtraces here instead of wandering into garbage. */
    .globl cora__ctx_start
    .hidden cora__ctx_start
    .type cora__ctx_start, @function
    .p2align 4
cora__ctx_start:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2
    .cfi_endproc
    .size cora__ctx_start, .-cora__ctx_start
#endif
    .section .note.GNU-stack,"",@progbits

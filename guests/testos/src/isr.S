/* SPDX-License-Identifier: Apache-2.0 */
/* Interrupt and exception entry: one stub per vector pushes a uniform error code and the vector
 * number, the common path saves every general register as a struct frame (kernel.h), calls
 * trap_entry, and returns with iretq to whatever context the scheduler left in the frame. */
        .text
        .code64

/* Vectors where the CPU pushes an error code (SDM vol. 3, table 6-1). */
#define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

        .macro stub vector
        .balign 16
isr_\vector:
        .if !HAS_ERROR(\vector)
        pushq   $0
        .endif
        pushq   $\vector
        jmp     isr_common
        .endm

        .altmacro
        .set    vector, 0
        .rept   33
        stub    %vector
        .set    vector, vector + 1
        .endr
        stub    255

isr_common:
        push    %rax
        push    %rbx
        push    %rcx
        push    %rdx
        push    %rsi
        push    %rdi
        push    %rbp
        push    %r8
        push    %r9
        push    %r10
        push    %r11
        push    %r12
        push    %r13
        push    %r14
        push    %r15
        cld
        mov     %rsp, %rdi
        call    trap_entry
        mov     %rax, %rsp
        .global frame_return
frame_return:
        pop     %r15
        pop     %r14
        pop     %r13
        pop     %r12
        pop     %r11
        pop     %r10
        pop     %r9
        pop     %r8
        pop     %rbp
        pop     %rdi
        pop     %rsi
        pop     %rdx
        pop     %rcx
        pop     %rbx
        pop     %rax
        add     $16, %rsp
        iretq

/* enter_frame(struct frame *f): start executing the context in f (used once per CPU to leave
 * the boot path for the idle context). */
        .global enter_frame
enter_frame:
        mov     %rdi, %rsp
        jmp     frame_return

/* The table of stub addresses that idt_init() installs: vectors 0-32, then 255. */
        .section .rodata
        .balign 8
        .global isr_table
        .macro entry vector
        .quad   isr_\vector
        .endm
isr_table:
        .set    vector, 0
        .rept   33
        entry   %vector
        .set    vector, vector + 1
        .endr
        entry   255

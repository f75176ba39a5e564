/* SPDX-License-Identifier: Apache-2.0 */
/* The PVH entry: the ELF note that names it, the boot GDT and identity page tables (static
 * data, so the emulated ring-0 path is a handful of instructions), and the switch from the
 * 32-bit flat protected mode PVH gives us to long mode. It uses a far jump, never `iret`
 * (a 32-bit protected-mode iret cannot be emulated on the PVM hosts, ENVIRONMENT.md).
 * PVH boot ABI (Xen docs/misc/pvh.pandoc): ebx = start_info, CR0.PE=1, paging off. */
#include "asm.h"

/* XEN_ELFNOTE_PHYS32_ENTRY (18): the 32-bit physical entry address. */
        .section .note.Xen, "a", @note
        .balign 4
        .long 4, 4, 18
        .asciz "Xen"
        .balign 4
        .long pvh_start32
        .balign 4

        .section .text.boot, "ax"
        .code32
        .global pvh_start32
pvh_start32:
        cli
        cld
        mov     %ebx, %esi                  /* start_info: kmain's first argument */
        lgdt    gdt_pointer32
        mov     $SEL_KERNEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     $boot_stack_top, %esp
        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4
        mov     $boot_pml4, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        or      $(CR0_PG | CR0_PE), %eax
        mov     %eax, %cr0
        ljmp    $SEL_KERNEL_CODE, $long_entry

        .code64
long_entry:
        /* The ELF loader zeroes .bss (p_memsz > p_filesz); do it again rather than trust every
         * loader. Nothing lives there yet: the stack is first used by the call below. */
        mov     $__bss_start, %edi
        mov     $__bss_end, %ecx
        sub     %edi, %ecx
        shr     $3, %ecx
        xor     %eax, %eax
        rep stosq
        mov     %eax, %fs
        mov     %eax, %gs
        mov     $boot_stack_top, %rsp
        mov     %esi, %edi
        call    kmain
1:      hlt
        jmp     1b

/* APs arrive here from the trampoline, already in long mode on the kernel page tables. */
        .global ap_long_entry
ap_long_entry:
        mov     $SEL_KERNEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        xor     %eax, %eax
        mov     %eax, %fs
        mov     %eax, %gs
        mov     ap_boot_stack(%rip), %rsp
        call    ap_main
1:      hlt
        jmp     1b

/* The AP trampoline, copied to TRAMPOLINE_BASE: real mode -> 32-bit protected mode (far jump)
 * -> long mode (far jump). Addresses inside it are rebased with TR(). */
#define TR(x) ((x) - trampoline_start + TRAMPOLINE_BASE)
        .section .rodata.trampoline, "a"
        .global trampoline_start, trampoline_end
        .code16
trampoline_start:
        cli
        cld
        xor     %ax, %ax
        mov     %ax, %ds
        lgdtl   TR(trampoline_gdt_pointer)
        mov     %cr0, %eax
        or      $CR0_PE, %eax
        mov     %eax, %cr0
        ljmpl   $SEL_KERNEL_CODE32, $TR(trampoline_32)
        .code32
trampoline_32:
        mov     $SEL_KERNEL_DATA, %eax
        mov     %eax, %ds
        mov     %eax, %es
        mov     %eax, %ss
        mov     %cr4, %eax
        or      $CR4_PAE, %eax
        mov     %eax, %cr4
        mov     ap_boot_cr3, %eax
        mov     %eax, %cr3
        mov     $MSR_EFER, %ecx
        rdmsr
        or      $EFER_LME, %eax
        wrmsr
        mov     %cr0, %eax
        or      $CR0_PG, %eax
        mov     %eax, %cr0
        ljmp    $SEL_KERNEL_CODE, $ap_long_entry
        .balign 8
trampoline_gdt_pointer:
        .word   gdt_end - gdt - 1
        .long   gdt
trampoline_end:
        .code64

        .data
        .balign 16
        .global gdt, gdt_pointer
gdt:
        .quad   0
        .quad   0x00af9a000000ffff          /* 0x08 kernel code, 64-bit */
        .quad   0x00cf92000000ffff          /* 0x10 kernel data, flat */
        .quad   0x00cff2000000ffff          /* 0x18 user data, DPL 3 */
        .quad   0x00affa000000ffff          /* 0x20 user code, 64-bit, DPL 3 */
        .quad   0x00cf9a000000ffff          /* 0x28 kernel code, 32-bit (boot, trampoline) */
        .fill   MAX_CPUS * 2, 8, 0          /* 0x30 TSS descriptors, 16 bytes each (cpu.c) */
gdt_end:
gdt_pointer32:
        .word   gdt_end - gdt - 1
        .long   gdt
        .balign 8
gdt_pointer:
        .word   gdt_end - gdt - 1
        .quad   gdt

/* Identity map of the first 4 GiB with 2 MiB pages, supervisor only. The upper levels carry the
 * U bit so that paging.c can open single 4 KiB pages to ring 3; 3-4 GiB (MMIO: LAPIC, IOAPIC,
 * the benchmark page) is uncached. */
        .balign 4096
        .global boot_pml4, boot_pdpt, boot_pd
boot_pml4:
        .quad   boot_pdpt + PTE_P + PTE_W + PTE_U
        .fill   511, 8, 0
boot_pdpt:
        .quad   boot_pd + PTE_P + PTE_W + PTE_U
        .quad   boot_pd + 0x1000 + PTE_P + PTE_W + PTE_U
        .quad   boot_pd + 0x2000 + PTE_P + PTE_W + PTE_U
        .quad   boot_pd + 0x3000 + PTE_P + PTE_W + PTE_U
        .fill   508, 8, 0
boot_pd:
        .set    address, 0
        .rept   512 * 3
        .quad   address + PTE_P + PTE_W + PTE_PS
        .set    address, address + 0x200000
        .endr
        .rept   512
        .quad   address + PTE_P + PTE_W + PTE_PS + PTE_PWT + PTE_PCD
        .set    address, address + 0x200000
        .endr

        .bss
        .balign 16
        .space  8192
boot_stack_top:

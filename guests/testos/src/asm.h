/* SPDX-License-Identifier: Apache-2.0 */
/* Constants for the assembly files (architectural bits from the Intel SDM vol. 3). */
#ifndef TESTOS_ASM_H
#define TESTOS_ASM_H

#define SEL_KERNEL_CODE 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_KERNEL_CODE32 0x28
#define MAX_CPUS 16
#define TRAMPOLINE_BASE 0x8000

#define CR0_PE 0x1
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100

#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_U 0x4
#define PTE_PWT 0x8
#define PTE_PCD 0x10
#define PTE_PS 0x80

#endif

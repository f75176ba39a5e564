/* SPDX-License-Identifier: Apache-2.0 */
/* Per-CPU descriptor state (SDM vol. 3, chapters 3, 6, 7): the TSS (ring-0 stack for traps
 * from ring 3, an IST stack for #DF and NMI, and the I/O permission bitmap that opens the
 * benchmark port to ring 3), the shared IDT, and the per-CPU data reached through GS. */
#include "kernel.h"

#define MSR_GS_BASE 0xc0000101
#define GATE_INTERRUPT 0x8e /* present, DPL 0, 64-bit interrupt gate (IF cleared on entry) */
#define GATE_USER 0xee      /* the same with DPL 3: int3 may be raised from ring 3 */

struct idt_entry {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;
    uint16_t offset_mid;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

struct descriptor_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

extern uint64_t gdt[];
extern struct descriptor_pointer gdt_pointer;
extern uint64_t const isr_table[34];

struct cpu cpus[MAX_CPUS];
static struct idt_entry idt[256] __attribute__((aligned(16)));
static uint8_t kernel_stacks[MAX_CPUS][KERNEL_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t idle_stacks[MAX_CPUS][4096] __attribute__((aligned(16)));
static uint8_t ist_stacks[MAX_CPUS][4096] __attribute__((aligned(16)));

static void set_gate(unsigned vector, uint64_t handler, uint8_t type, uint8_t ist)
{
    idt[vector] = (struct idt_entry) {
        .offset_low = (uint16_t)handler,
        .selector = SEL_KERNEL_CODE,
        .ist = ist,
        .type = type,
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
}

void idt_init(void)
{
    for (unsigned v = 0; v < 33; v++)
        set_gate(v, isr_table[v], v == 3 ? GATE_USER : GATE_INTERRUPT, (v == 2 || v == 8) ? 1 : 0);
    set_gate(VECTOR_SPURIOUS, isr_table[33], GATE_INTERRUPT, 0);
}

static void load_idt(void)
{
    struct descriptor_pointer p = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" ::"m"(p));
}

/* For the triple-fault workload: with a zero-limit IDT no exception can be delivered. */
void load_empty_idt(void)
{
    struct descriptor_pointer p = { 0, 0 };
    __asm__ volatile("lidt %0" ::"m"(p));
}

static void install_tss(uint32_t index, struct tss *tss)
{
    uint64_t base = (uint64_t)(uintptr_t)tss;
    uint64_t limit = sizeof(*tss) - 1;
    unsigned slot = SEL_TSS0 / 8 + index * 2;
    /* 64-bit available TSS descriptor (type 9), present, DPL 0. */
    gdt[slot] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    gdt[slot + 1] = base >> 32;
}

static void init_tss(uint32_t index, struct tss *tss)
{
    memset(tss, 0, sizeof(*tss));
    tss->rsp[0] = (uint64_t)(uintptr_t)(kernel_stacks[index] + KERNEL_STACK_SIZE);
    tss->ist[0] = (uint64_t)(uintptr_t)(ist_stacks[index] + sizeof(ist_stacks[index]));
    tss->iomap_base = (uint16_t)__builtin_offsetof(struct tss, iomap);
    memset(tss->iomap, 0xff, sizeof(tss->iomap));
    tss->iomap[TESTOS_PORT_PIO_BENCH / 8] &= (uint8_t)~(1u << (TESTOS_PORT_PIO_BENCH % 8));
    tss->iomap_end = 0xff;
}

/* Runs on the CPU being brought up, with interrupts off. */
void cpu_init(uint32_t index, uint32_t apic_id)
{
    struct cpu *c = &cpus[index];
    c->self = c;
    c->index = index;
    c->apic_id = apic_id;
    c->current = -1;
    init_tss(index, &c->tss);
    install_tss(index, &c->tss);
    __asm__ volatile("lgdt %0" ::"m"(gdt_pointer));
    uint16_t tr = (uint16_t)(SEL_TSS0 + index * 16);
    __asm__ volatile("ltr %0" ::"r"(tr));
    load_idt();
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)c);
    memset(&c->idle, 0, sizeof(c->idle));
    c->idle.rip = (uint64_t)(uintptr_t)idle_loop;
    c->idle.cs = SEL_KERNEL_CODE;
    c->idle.ss = SEL_KERNEL_DATA;
    c->idle.rflags = 0x202; /* IF */
    c->idle.rsp = (uint64_t)(uintptr_t)(idle_stacks[index] + sizeof(idle_stacks[index]));
}

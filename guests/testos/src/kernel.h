/* SPDX-License-Identifier: Apache-2.0 */
/* testos kernel internals: the declarations the ring-0 files share (never included by ring-3
 * code under src/user/). */
#ifndef TESTOS_KERNEL_H
#define TESTOS_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "testos/abi.h"
#include "testos/task_table.h"

#define PAGE_SIZE 4096ull
#define MAX_CPUS 16u
#define KERNEL_STACK_SIZE 16384u
#define CMDLINE_MAX 1024u
#define TRAMPOLINE_BASE 0x8000u /* SIPI vector 0x08: the AP starts at 0x0800:0000 */

/* GDT selectors (gdt in boot.S). */
#define SEL_KERNEL_CODE 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_USER_DATA 0x18
#define SEL_USER_CODE 0x20
#define SEL_KERNEL_CODE32 0x28
#define SEL_TSS0 0x30 /* one 16-byte TSS descriptor per CPU from here */

#define VECTOR_TIMER 0x20
#define VECTOR_SPURIOUS 0xff

/* The registers an interrupt entry saves (isr.S), lowest address first. */
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    uint8_t iomap[32];   /* ports 0x00-0xff; ports past the TSS limit are denied */
    uint8_t iomap_end;   /* 0xff, as the SDM asks after the bitmap */
} __attribute__((packed));

struct cpu {
    struct cpu *self;    /* %gs:0 */
    uint32_t index;
    uint32_t apic_id;
    int current;         /* task slot running now, -1 when idle */
    volatile bool online;
    uint64_t ticks;
    struct tss tss __attribute__((aligned(16)));
    struct frame idle;   /* the context the CPU resumes when no task is runnable */
};

/* lib.c */
void *memset(void *dst, int value, size_t length);
void *memcpy(void *dst, void const *src, size_t length);
int memcmp(void const *a, void const *b, size_t length);
size_t strlen(char const *s);
bool parse_u64(char const *s, size_t length, uint64_t *out);
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline uint64_t rdtsc(void) { uint32_t lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((uint64_t)hi << 32) | lo; }
static inline uint64_t rdmsr(uint32_t msr) { uint32_t lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return ((uint64_t)hi << 32) | lo; }
static inline void wrmsr(uint32_t msr, uint64_t v) { __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))); }
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline struct cpu *this_cpu(void) { struct cpu *c; __asm__ volatile("mov %%gs:0, %0" : "=r"(c)); return c; }

typedef struct { volatile uint32_t locked; } spinlock_t;
void spin_lock(spinlock_t *lock);
void spin_unlock(spinlock_t *lock);

/* serial.c */
void serial_init(void);
void serial_write(char const *s, size_t length); /* takes the console lock */
void kprintf(char const *format, ...) __attribute__((format(printf, 1, 2)));

/* boot_info.c: what the PVH start_info says. */
struct mem_range { uint64_t base, size; uint32_t type; };
#define MAX_MEM_RANGES 32u
struct boot_info {
    char cmdline[CMDLINE_MAX];
    uint64_t rsdp;
    struct mem_range ranges[MAX_MEM_RANGES];
    uint32_t range_count;
};
extern struct boot_info boot_info;
bool boot_info_read(uint64_t start_info_paddr);
bool ram_contains(uint64_t base, uint64_t size);

/* acpi.c: CPUs and power-off. */
struct platform {
    uint32_t cpu_count;
    uint8_t apic_ids[MAX_CPUS];
    uint16_t pm1a_cnt; /* 0: unknown */
    uint64_t sleep_control; /* hardware-reduced ACPI's sleep control register, 0: none */
    bool sleep_control_is_io;
    uint8_t s5_slp_typ;
    bool have_s5;
};
extern struct platform platform;
void platform_discover(void);

/* paging.c */
void paging_init(void);
uint64_t paging_new_user_space(uint64_t *stack_top, bool map_mmio_bench, uint64_t *mmio_va);
bool paging_user_range_ok(uint64_t cr3, uint64_t va, uint64_t length);
bool paging_map_user(uint64_t cr3, uint64_t va, uint64_t pa, uint64_t size, bool uncached);
uint64_t kernel_cr3(void);
void *page_alloc(void);

/* cpu.c: descriptor tables and per-CPU state. */
extern struct cpu cpus[MAX_CPUS];
void cpu_init(uint32_t index, uint32_t apic_id); /* on the CPU itself */
void idt_init(void);
void load_empty_idt(void);

/* apic.c and time */
void time_init(void);           /* BSP: calibrate the TSC */
void lapic_init(void);          /* on each CPU: enable, start the periodic timer */
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_send_ipi(uint32_t apic_id, uint32_t icr_low);
bool lapic_wait_icr_idle(void);
uint64_t time_ns(void);
void delay_ns(uint64_t ns);
extern uint64_t tsc_khz;
extern uint64_t boot_tsc;
extern uint32_t tick_hz;

/* smp.c */
void smp_boot(void);

/* sched.c */
typedef void (*user_entry_t)(uint64_t arg0, uint64_t arg1, uint64_t slot); /* slot: own task-table index */
int task_create(char const *name, uint32_t cpu, user_entry_t entry, uint64_t arg0, uint64_t arg1, bool mmio);
void sched_switch(struct cpu *c, struct frame *f); /* save f into the current task, load the next */
void sched_tick(struct cpu *c, struct frame *f);
extern struct testos_task_table testos_task_table;
extern int main_task;                    /* its exit status becomes the guest's */
void idle_loop(void) __attribute__((noreturn));
void enter_frame(struct frame const *f) __attribute__((noreturn)); /* isr.S: iretq into f */

/* syscall.c and trap.c */
void syscall_dispatch(struct cpu *c, struct frame *f);
struct frame *trap_entry(struct frame *f);

/* main.c */
void system_exit(int status) __attribute__((noreturn));
void watchdog_check(void);
bool option_value(char const *key, char *out, size_t out_size); /* a testos.*= word's value */

/* virtio_run.c: testos.run=virtio-* (the drivers' own declarations are in virtio.h). */
void virtio_workload(char const *run);

/* user/: ring-3 entry points (in the user section, mapped with the U bit). */
#include "user/user.h"


#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* Where every interrupt and exception lands (from isr.S): the timer tick, the int3 system call
 * from ring 3, spurious interrupts, and everything else, which is fatal: it is reported on
 * serial (vector, error code, RIP, CR2 for #PF) and the guest exits with TESTOS_EXIT_EXCEPTION. */
#include "kernel.h"

static char const *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "?15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "?22", "?23", "?24", "?25", "?26", "?27", "#HV", "#VC", "#SX", "?31",
};

__attribute__((noreturn)) static void fatal(struct cpu *c, struct frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    char const *name = f->vector < 32 ? exception_names[f->vector] : "interrupt";
    int task = c->current;
    kprintf("testos: exception %lu (%s) error %lx at rip %lx (ring %lu, cpu %u, pid %u) cr2 %lx rsp %lx\n", f->vector,
        name, f->error, f->rip, f->cs & 3, c->index, task >= 0 ? testos_task_table.tasks[task].pid : 0, cr2, f->rsp);
    system_exit(TESTOS_EXIT_EXCEPTION);
}

struct frame *trap_entry(struct frame *f)
{
    struct cpu *c = this_cpu();
    bool from_user = (f->cs & 3) == 3;
    if (f->vector == VECTOR_TIMER) {
        lapic_eoi();
        if (c->index == 0)
            watchdog_check();
        if (from_user || c->current < 0)
            sched_tick(c, f);
        return f;
    }
    if (f->vector == VECTOR_SPURIOUS)
        return f; /* no EOI for spurious interrupts (SDM 11.9) */
    if (f->vector == 3 && from_user) {
        syscall_dispatch(c, f);
        return f;
    }
    fatal(c, f);
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Tasks and the scheduler: every task is pinned to one CPU; each CPU runs its own tasks round
 * robin, switching on its LAPIC timer tick and when a task yields, sleeps or exits. The task
 * table (task_table.h) is the process table itself: the scheduler reads `state` from it on
 * every decision. Register state lives apart, in kernel-only memory. */
#include "kernel.h"

#define USER_RFLAGS 0x202 /* IF set, IOPL 0: ring-3 port access goes through the TSS bitmap */

struct testos_task_table testos_task_table __attribute__((section(".user_data"), aligned(4096))) = {
    .magic = TESTOS_TASK_TABLE_MAGIC,
    .version = TESTOS_TASK_TABLE_VERSION,
    .header_size = __builtin_offsetof(struct testos_task_table, tasks),
    .entry_count = TESTOS_MAX_TASKS,
    .entry_size = sizeof(struct testos_task),
};

static struct frame contexts[TESTOS_MAX_TASKS];
/* The page-table roots the scheduler loads: kept here, out of ring 3's reach (the table's cr3
 * field is for observers; ring 3 can write the table). */
static uint64_t address_spaces[TESTOS_MAX_TASKS];
static spinlock_t create_lock;
static uint32_t next_pid = 1;
int main_task = -1;

static void set_name(struct testos_task *t, char const *name)
{
    size_t n = strlen(name);
    if (n >= TESTOS_TASK_NAME_SIZE)
        n = TESTOS_TASK_NAME_SIZE - 1;
    memset(t->name, 0, sizeof(t->name));
    memcpy(t->name, name, n);
}

/* Returns the new task's slot, or -1 when the table or the page pool is full. */
int task_create(char const *name, uint32_t cpu, user_entry_t entry, uint64_t arg0, uint64_t arg1, bool mmio)
{
    spin_lock(&create_lock);
    int slot = -1;
    for (uint32_t i = 0; i < TESTOS_MAX_TASKS && slot < 0; i++) {
        if (testos_task_table.tasks[i].state == TESTOS_TASK_FREE && testos_task_table.tasks[i].pid == 0)
            slot = (int)i;
    }
    uint64_t stack_top = 0, mmio_va = 0, cr3 = 0;
    if (slot >= 0)
        cr3 = paging_new_user_space(&stack_top, mmio, &mmio_va);
    if (slot < 0 || !cr3) {
        spin_unlock(&create_lock);
        return -1;
    }
    struct testos_task *t = &testos_task_table.tasks[slot];
    struct frame *f = &contexts[slot];
    memset(f, 0, sizeof(*f));
    f->rip = (uint64_t)(uintptr_t)entry;
    f->cs = SEL_USER_CODE | 3;
    f->ss = SEL_USER_DATA | 3;
    f->rflags = USER_RFLAGS;
    f->rsp = stack_top - 8; /* as if called: rsp + 8 is 16-byte aligned at function entry */
    f->rdi = arg0;
    f->rsi = mmio ? mmio_va : arg1;
    f->rdx = (uint64_t)slot;
    t->pid = next_pid++;
    t->cpu = cpu;
    t->exit_status = 0;
    set_name(t, name);
    t->counter = 0;
    t->ticks = 0;
    t->cr3 = cr3;
    address_spaces[slot] = cr3;
    t->wake_ns = 0;
    __atomic_store_n(&t->state, TESTOS_TASK_RUNNABLE, __ATOMIC_RELEASE); /* last: now it may run */
    spin_unlock(&create_lock);
    return slot;
}

static bool runnable(struct testos_task *t, uint32_t cpu, uint64_t now)
{
    if (t->cpu != cpu || t->pid == 0)
        return false;
    uint32_t state = __atomic_load_n(&t->state, __ATOMIC_ACQUIRE);
    if (state == TESTOS_TASK_SLEEPING && t->wake_ns <= now) {
        t->state = TESTOS_TASK_RUNNABLE;
        return true;
    }
    return state == TESTOS_TASK_RUNNABLE || state == TESTOS_TASK_RUNNING;
}

/* Saves the interrupted context (if it is a task's), picks the next runnable task of this CPU
 * after the current one, and leaves its context (or the idle context) in *f for iretq. */
void sched_switch(struct cpu *c, struct frame *f)
{
    int current = c->current;
    if (current >= 0) {
        struct testos_task *t = &testos_task_table.tasks[current];
        contexts[current] = *f;
        if (t->state == TESTOS_TASK_RUNNING)
            t->state = TESTOS_TASK_RUNNABLE;
    }
    uint64_t now = time_ns();
    int start = current >= 0 ? current : (int)TESTOS_MAX_TASKS - 1;
    int next = -1;
    for (uint32_t n = 1; n <= TESTOS_MAX_TASKS && next < 0; n++) {
        int slot = (start + (int)n) % (int)TESTOS_MAX_TASKS;
        if (runnable(&testos_task_table.tasks[slot], c->index, now))
            next = slot;
    }
    c->current = next;
    if (next < 0) {
        *f = c->idle;
        return;
    }
    testos_task_table.tasks[next].state = TESTOS_TASK_RUNNING;
    *f = contexts[next];
    __asm__ volatile("mov %0, %%cr3" ::"r"(address_spaces[next]) : "memory");
}

void sched_tick(struct cpu *c, struct frame *f)
{
    c->ticks++;
    if (c->current >= 0)
        testos_task_table.tasks[c->current].ticks++;
    sched_switch(c, f);
}

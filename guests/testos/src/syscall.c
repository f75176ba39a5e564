/* SPDX-License-Identifier: Apache-2.0 */
/* The system calls (numbers and ABI in testos/abi.h). Arguments come from ring 3 and are
 * checked: buffers must be user-readable in the caller's own page tables. */
#include "kernel.h"

#define WRITE_MAX 4096u

/* The buffer is checked in the page tables the caller runs on (CR3 now). */
static int64_t sys_write(uint64_t buffer, uint64_t length)
{
    if (length > WRITE_MAX)
        return TESTOS_EINVAL;
    uint64_t cr3;
    __asm__ volatile("mov %%cr3, %0" : "=r"(cr3));
    if (!paging_user_range_ok(cr3, buffer, length))
        return TESTOS_EFAULT;
    serial_write((char const *)(uintptr_t)buffer, length);
    return (int64_t)length;
}

static void sys_exit(struct cpu *c, struct frame *f, struct testos_task *t, uint64_t status)
{
    t->exit_status = (int32_t)(status & 0xff);
    __atomic_store_n(&t->state, TESTOS_TASK_EXITED, __ATOMIC_RELEASE);
    if (c->current == main_task)
        system_exit(t->exit_status);
    sched_switch(c, f);
}

void syscall_dispatch(struct cpu *c, struct frame *f)
{
    struct testos_task *t = &testos_task_table.tasks[c->current];
    int64_t result = 0;
    switch (f->rax) {
    case TESTOS_SYS_WRITE:
        result = sys_write(f->rdi, f->rsi);
        break;
    case TESTOS_SYS_YIELD:
        f->rax = 0;
        sched_switch(c, f);
        return;
    case TESTOS_SYS_SLEEP:
        f->rax = 0;
        t->wake_ns = time_ns() + f->rdi;
        __atomic_store_n(&t->state, TESTOS_TASK_SLEEPING, __ATOMIC_RELEASE);
        sched_switch(c, f);
        return;
    case TESTOS_SYS_TIME:
        result = (int64_t)time_ns();
        break;
    case TESTOS_SYS_EXIT:
        sys_exit(c, f, t, f->rdi);
        return;
    case TESTOS_SYS_GETPID:
        result = t->pid;
        break;
    case TESTOS_SYS_GETCPU:
        result = (int64_t)((uint64_t)c->index | (uint64_t)c->apic_id << 32);
        break;
    default:
        result = TESTOS_ENOSYS;
        break;
    }
    f->rax = (uint64_t)result;
}

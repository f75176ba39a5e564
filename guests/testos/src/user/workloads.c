/* SPDX-License-Identifier: Apache-2.0 */
/* The ring-3 workloads that testos.run= selects (docs/testos.md, "Workloads"). Each main task's
 * exit status becomes the guest's; the others only report through the task table. */
#include "user.h"

void user_hello(uint64_t arg0, uint64_t arg1, uint64_t slot)
{
    (void)arg0, (void)arg1, (void)slot;
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: hello from ring 3\n");
    u_flush(&line);
    u_exit(TESTOS_EXIT_SUCCESS);
}

void user_exit(uint64_t status, uint64_t arg1, uint64_t slot)
{
    (void)arg1, (void)slot;
    u_exit((int)status);
}

void user_smp_worker(uint64_t arg0, uint64_t arg1, uint64_t slot)
{
    (void)arg0, (void)arg1, (void)slot;
    uint64_t where = (uint64_t)u_syscall(TESTOS_SYS_GETCPU, 0, 0, 0);
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: cpu ");
    u_dec(&line, where & 0xffffffffu);
    u_str(&line, " (apic ");
    u_dec(&line, where >> 32);
    u_str(&line, ") online\n");
    u_flush(&line);
    u_exit(TESTOS_EXIT_SUCCESS);
}

/* Waits until every worker has exited with 0, or the timeout. */
void user_smp_coordinator(uint64_t workers, uint64_t timeout_ns, uint64_t slot)
{
    (void)slot;
    uint32_t first = (uint32_t)workers, count = (uint32_t)(workers >> 32);
    uint64_t deadline = u_time() + timeout_ns;
    uint32_t done = 0;
    while (u_time() < deadline) {
        done = 0;
        for (uint32_t i = first; i < first + count; i++) {
            struct testos_task volatile *t = &testos_task_table.tasks[i];
            if (t->state == TESTOS_TASK_EXITED && t->exit_status == 0)
                done++;
        }
        if (done == count)
            break;
        u_sleep(10 * 1000 * 1000);
    }
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: smp: ");
    u_dec(&line, done);
    u_str(&line, " of ");
    u_dec(&line, count);
    u_str(&line, done == count ? " CPUs reported\n" : " CPUs reported before the timeout\n");
    u_flush(&line);
    u_exit(done == count ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE);
}

void user_spinner(uint64_t arg0, uint64_t arg1, uint64_t slot)
{
    (void)arg0, (void)arg1;
    uint64_t volatile *counter = &testos_task_table.tasks[slot].counter;
    for (;;)
        *counter = *counter + 1;
}

/* testos.run=count: counts in its task-table counter forever from ring 3, printing the count
 * every 2^24 steps, so that a snapshot restored later can be seen to go on from where it was
 * (the counter lives in guest RAM and in the task's registers, nowhere else). */
void user_counter(uint64_t arg0, uint64_t arg1, uint64_t slot)
{
    (void)arg0, (void)arg1;
    uint64_t volatile *counter = &testos_task_table.tasks[slot].counter;
    struct u_line line;
    for (;;) {
        uint64_t const value = *counter + 1;
        *counter = value;
        if ((value & ((1u << 24) - 1)) != 0)
            continue;
        u_init(&line);
        u_str(&line, "testos: count ");
        u_dec(&line, value);
        u_str(&line, "\n");
        u_flush(&line);
    }
}

/* A guest that stays up and costs the host nearly nothing: one ring-3 task sleeping a second
 * at a time, forever, so the CPUs halt between timer ticks. For supervisor and lifecycle tests
 * that need a running VM, not a busy one. */
void user_idle(uint64_t arg0, uint64_t arg1, uint64_t slot)
{
    (void)arg0, (void)arg1, (void)slot;
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: idle\n");
    u_flush(&line);
    for (;;)
        u_sleep(1000000000ull);
}

/* Sleeps while the spinners share the CPU: only timer preemption lets every one of them run
 * (none of them ever yields). */
void user_spin_coordinator(uint64_t spinners, uint64_t run_ns, uint64_t slot)
{
    (void)slot;
    uint32_t first = (uint32_t)spinners, count = (uint32_t)(spinners >> 32);
    u_sleep(run_ns);
    bool all = true;
    struct u_line line;
    for (uint32_t i = first; i < first + count; i++) {
        struct testos_task volatile *t = &testos_task_table.tasks[i];
        uint64_t value = t->counter;
        u_init(&line);
        u_str(&line, "testos: spinner pid ");
        u_dec(&line, t->pid);
        u_str(&line, " counter ");
        u_dec(&line, value);
        u_str(&line, " ticks ");
        u_dec(&line, t->ticks);
        u_str(&line, "\n");
        u_flush(&line);
        all = all && value > 0;
    }
    u_init(&line);
    u_str(&line, all ? "testos: spin: every spinner advanced\n" : "testos: spin: some spinner never ran\n");
    u_flush(&line);
    u_exit(all ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE);
}

static inline uint64_t u_rdtsc(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}

/* TSC cycles to ns with the kernel's calibration (published in the task table). */
static uint64_t cycles_to_ns(uint64_t cycles)
{
    uint64_t khz = testos_task_table.tsc_khz ? testos_task_table.tsc_khz : 1;
    return cycles / khz * 1000000 + cycles % khz * 1000000 / khz;
}

static void report_bench(char const *name, uint64_t n, uint64_t cycles)
{
    uint64_t ns = cycles_to_ns(cycles);
    struct u_line line;
    u_init(&line);
    u_str(&line, name);
    u_str(&line, ": ");
    u_dec(&line, n);
    u_str(&line, " exits, ");
    u_dec(&line, ns / n);
    u_str(&line, " ns/exit (");
    u_dec(&line, ns);
    u_str(&line, " ns in all)\n");
    u_flush(&line);
}

void user_pio_bench(uint64_t n, uint64_t arg1, uint64_t slot)
{
    (void)arg1;
    uint64_t volatile *counter = &testos_task_table.tasks[slot].counter;
    uint64_t start = u_rdtsc();
    for (uint64_t i = 0; i < n; i++) {
        /* Allowed by the TSS I/O bitmap (IOPL stays 0). */
        __asm__ volatile("outb %0, %1" ::"a"((uint8_t)i), "Nd"((uint16_t)TESTOS_PORT_PIO_BENCH));
        *counter = i + 1;
    }
    report_bench("pio-bench", n, u_rdtsc() - start);
    u_exit(TESTOS_EXIT_SUCCESS);
}

void user_mmio_bench(uint64_t n, uint64_t va, uint64_t slot)
{
    uint64_t volatile *counter = &testos_task_table.tasks[slot].counter;
    uint32_t volatile *page = (uint32_t volatile *)(uintptr_t)va;
    uint64_t start = u_rdtsc();
    for (uint64_t i = 0; i < n; i++) {
        *page = (uint32_t)i;
        *counter = i + 1;
    }
    report_bench("mmio-bench", n, u_rdtsc() - start);
    u_exit(TESTOS_EXIT_SUCCESS);
}

/* One check of the system-call ABI; prints the failures and counts them. */
static uint32_t check(char const *what, bool ok)
{
    if (!ok) {
        struct u_line line;
        u_init(&line);
        u_str(&line, "testos: selftest: FAILED: ");
        u_str(&line, what);
        u_str(&line, "\n");
        u_flush(&line);
    }
    return ok ? 0 : 1;
}

void user_selftest(uint64_t kernel_address, uint64_t arg1, uint64_t slot)
{
    (void)arg1;
    uint32_t failures = 0;
    static char const message[] = "testos: selftest: write\n";
    failures += check("write returns the length", u_syscall(TESTOS_SYS_WRITE, (uint64_t)(uintptr_t)message, sizeof(message) - 1, 0) == (int64_t)sizeof(message) - 1);
    failures += check("write of kernel memory is refused", u_syscall(TESTOS_SYS_WRITE, kernel_address, 8, 0) == TESTOS_EFAULT);
    failures += check("write of unmapped memory is refused", u_syscall(TESTOS_SYS_WRITE, 0x7fff00000000ull, 8, 0) == TESTOS_EFAULT);
    failures += check("write longer than 4096 is refused", u_syscall(TESTOS_SYS_WRITE, (uint64_t)(uintptr_t)message, 5000, 0) == TESTOS_EINVAL);
    failures += check("unknown call returns ENOSYS", u_syscall(999, 0, 0, 0) == TESTOS_ENOSYS);
    failures += check("getpid matches the task table", (uint64_t)u_syscall(TESTOS_SYS_GETPID, 0, 0, 0) == testos_task_table.tasks[slot].pid);
    failures += check("getcpu is the pinned CPU", (uint32_t)u_syscall(TESTOS_SYS_GETCPU, 0, 0, 0) == testos_task_table.tasks[slot].cpu);
    failures += check("yield returns 0", u_syscall(TESTOS_SYS_YIELD, 0, 0, 0) == 0);
    uint64_t before = u_time();
    u_sleep(50 * 1000 * 1000);
    uint64_t slept = u_time() - before;
    failures += check("sleep(50 ms) lasts at least 50 ms", slept >= 50 * 1000 * 1000);
    failures += check("sleep(50 ms) lasts less than 5 s", slept < 5000ull * 1000 * 1000);
    uint64_t registers_kept;
    __asm__ volatile("mov $0x1234, %%rbx\n\tint3\n\tmov %%rbx, %0" : "=r"(registers_kept) : "a"(TESTOS_SYS_TIME) : "rbx", "rcx", "rdx", "rsi", "rdi", "memory");
    failures += check("rbx survives a system call", registers_kept == 0x1234);
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: selftest: ");
    u_dec(&line, failures);
    u_str(&line, " failures\n");
    u_flush(&line);
    u_exit(failures ? TESTOS_EXIT_FAILURE : TESTOS_EXIT_SUCCESS);
}

/* Reads a kernel-only page from ring 3: the #PF must end the guest with the exception status. */
void user_fault(uint64_t kernel_address, uint64_t arg1, uint64_t slot)
{
    (void)arg1, (void)slot;
    struct u_line line;
    u_init(&line);
    u_str(&line, "testos: user-fault: reading kernel memory from ring 3\n");
    u_flush(&line);
    uint64_t value = *(uint64_t volatile *)(uintptr_t)kernel_address;
    (void)value;
    u_exit(TESTOS_EXIT_FAILURE); /* not reached: the read faults */
}

/* SPDX-License-Identifier: Apache-2.0 */
/* Ring-3 side: the workloads' entry points (called by the kernel as f(arg0, arg1, slot), slot
 * being the task's own index in testos_task_table) and the tiny library they share. Everything
 * under src/user/ is linked into the user section (linker.ld), mapped with the U bit, and must
 * call nothing outside it. */
#ifndef TESTOS_USER_H
#define TESTOS_USER_H

#include <stdbool.h>
#include <stdint.h>

#include "testos/abi.h"
#include "testos/task_table.h"

void user_hello(uint64_t, uint64_t, uint64_t);
void user_smp_worker(uint64_t, uint64_t, uint64_t);
void user_smp_coordinator(uint64_t workers, uint64_t timeout_ns, uint64_t); /* workers: first slot | count << 32 */
void user_spinner(uint64_t, uint64_t, uint64_t slot);
void user_counter(uint64_t, uint64_t, uint64_t slot);
void user_idle(uint64_t, uint64_t, uint64_t slot);
void user_spin_coordinator(uint64_t spinners, uint64_t run_ns, uint64_t);   /* spinners: first slot | count << 32 */
void user_pio_bench(uint64_t n, uint64_t, uint64_t);
void user_mmio_bench(uint64_t n, uint64_t va, uint64_t);
void user_exit(uint64_t status, uint64_t, uint64_t);
void user_selftest(uint64_t kernel_address, uint64_t, uint64_t slot);
void user_fault(uint64_t kernel_address, uint64_t, uint64_t);
void user_blk_bench(uint64_t setup_va, uint64_t, uint64_t); /* setup_va: struct blk_bench_setup (virtio_ring.h) */

extern struct testos_task_table testos_task_table;

static inline int64_t u_syscall(uint64_t number, uint64_t a, uint64_t b, uint64_t c)
{
    int64_t result;
    __asm__ volatile("int3" : "=a"(result) : "a"(number), "D"(a), "S"(b), "d"(c) : "memory");
    return result;
}

static inline uint64_t u_time(void) { return (uint64_t)u_syscall(TESTOS_SYS_TIME, 0, 0, 0); }
static inline void u_sleep(uint64_t ns) { u_syscall(TESTOS_SYS_SLEEP, ns, 0, 0); }
static inline void u_yield(void) { u_syscall(TESTOS_SYS_YIELD, 0, 0, 0); }
__attribute__((noreturn)) static inline void u_exit(int status)
{
    u_syscall(TESTOS_SYS_EXIT, (uint64_t)status, 0, 0);
    for (;;)
        ;
}

/* A line being built on the stack, written with one system call. */
struct u_line {
    char text[160];
    uint32_t length;
};
void u_init(struct u_line *line);
void u_str(struct u_line *line, char const *s);
void u_dec(struct u_line *line, uint64_t value);
void u_flush(struct u_line *line); /* writes and empties it */

#endif

/* SPDX-License-Identifier: Apache-2.0 */
/* testos's ABI towards ring 3 and towards the host: system-call numbers, exit statuses and the
 * ports it uses. Shared by the kernel, its ring-3 workloads and the host-side tests. */
#ifndef TESTOS_ABI_H
#define TESTOS_ABI_H

/* System calls are `int3` traps from ring 3 (on the hosts this kernel is written for, `syscall`
 * raises #GP and `int N` raises #UD from ring 3). Number in rax, arguments in rdi, rsi, rdx,
 * result in rax; every other register is preserved. Unknown numbers return TESTOS_ENOSYS. */
#define TESTOS_SYS_WRITE 1  /* write(buf, length): to the serial port; returns length or TESTOS_EFAULT */
#define TESTOS_SYS_YIELD 2  /* yield(): give up the rest of the time slice; returns 0 */
#define TESTOS_SYS_SLEEP 3  /* sleep(ns): not runnable for at least ns (tick granularity); returns 0 */
#define TESTOS_SYS_TIME 4   /* time(): ns since boot (TSC, calibrated) */
#define TESTOS_SYS_EXIT 5   /* exit(status): does not return; status 0-255 */
#define TESTOS_SYS_GETPID 6 /* getpid(): the caller's pid */
#define TESTOS_SYS_GETCPU 7 /* getcpu(): CPU index in bits 0-31, its APIC ID in bits 32-63 */

#define TESTOS_ENOSYS (-38)
#define TESTOS_EFAULT (-14)
#define TESTOS_EINVAL (-22)

/* The guest's exit status (written to the debug-exit port). Workloads report 0 or 1; the
 * others come from the kernel itself. exit:N reports N. */
#define TESTOS_EXIT_SUCCESS 0
#define TESTOS_EXIT_FAILURE 1   /* the workload ran and its check failed */
#define TESTOS_EXIT_USAGE 2     /* bad testos.* command-line option */
#define TESTOS_EXIT_BOOT 3      /* bad boot information (start_info magic, no memory map ...) */
#define TESTOS_EXIT_EXCEPTION 4 /* an unexpected CPU exception, in ring 0 or ring 3 */
#define TESTOS_EXIT_TIMEOUT 5   /* testos.timeout= expired */

#define TESTOS_PORT_DEBUG_EXIT 0xf4 /* layout.h PORT_DEBUG_EXIT */
#define TESTOS_PORT_PIO_BENCH 0xf8  /* layout.h PORT_PIO_BENCH */
#define TESTOS_MMIO_BENCH_PAGE 0xfed00000ul /* layout.h MMIO_BENCH_PAGE */

#endif

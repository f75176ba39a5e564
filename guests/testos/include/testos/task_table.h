/* SPDX-License-Identifier: Apache-2.0 */
/* testos's process table: the layout an introspecting VMM reads from guest memory through the
 * ELF symbol `testos_task_table`. Plain C, fixed-width fields, little endian, no pointers; the
 * offsets are checked below and documented in docs/testos.md ("Task table"). */
#ifndef TESTOS_TASK_TABLE_H
#define TESTOS_TASK_TABLE_H

#include <stdint.h>

#define TESTOS_TASK_TABLE_SYMBOL "testos_task_table"
#define TESTOS_TASK_TABLE_MAGIC 0x454c4241544b5354ull /* "TSKTABLE" read as little-endian bytes */
#define TESTOS_TASK_TABLE_VERSION 1u
#define TESTOS_MAX_TASKS 32u
#define TESTOS_TASK_NAME_SIZE 16u

/* Task states. The scheduler reads `state` from this table on every decision, so an agent
 * outside the guest may suspend a runnable task by writing SUSPENDED and resume it by writing
 * RUNNABLE back (only those two transitions are meant to be made from outside). */
enum testos_task_state {
    TESTOS_TASK_FREE = 0,      /* slot unused */
    TESTOS_TASK_RUNNABLE = 1,  /* waiting for its CPU */
    TESTOS_TASK_RUNNING = 2,   /* on its CPU now */
    TESTOS_TASK_SLEEPING = 3,  /* in sleep(ns) */
    TESTOS_TASK_EXITED = 4,    /* called exit; exit_status is valid */
    TESTOS_TASK_SUSPENDED = 5, /* set from outside: never scheduled until set back to RUNNABLE */
};

struct testos_task {
    uint32_t pid;         /* 1, 2, ... in creation order; 0 for a free slot */
    uint32_t state;       /* enum testos_task_state */
    uint32_t cpu;         /* index of the CPU the task is pinned to (0 = boot CPU) */
    int32_t exit_status;  /* valid when state == EXITED */
    char name[TESTOS_TASK_NAME_SIZE]; /* NUL-terminated */
    uint64_t counter;     /* advanced by the workload itself from ring 3 (see docs) */
    uint64_t ticks;       /* timer ticks that found this task running on its CPU */
    uint64_t cr3;         /* physical address of the task's PML4 */
    uint64_t wake_ns;     /* when state == SLEEPING: ns since boot at which it becomes runnable */
};

struct testos_task_table {
    uint64_t magic;        /* TESTOS_TASK_TABLE_MAGIC */
    uint32_t version;      /* TESTOS_TASK_TABLE_VERSION */
    uint32_t header_size;  /* offset of tasks[0] */
    uint32_t entry_count;  /* TESTOS_MAX_TASKS: slots, free ones included */
    uint32_t entry_size;   /* sizeof(struct testos_task) */
    uint32_t cpu_count;    /* CPUs online */
    uint32_t tick_hz;      /* timer ticks per second on each CPU */
    uint64_t boot_tsc;     /* TSC at boot (time 0) */
    uint64_t tsc_khz;      /* calibrated TSC frequency */
    uint64_t reserved[3];
    struct testos_task tasks[TESTOS_MAX_TASKS];
};

#ifdef __cplusplus
#define TESTOS_STATIC_ASSERT static_assert
#else
#define TESTOS_STATIC_ASSERT _Static_assert
#endif
#define TESTOS_OFFSET_CHECK(type, field, offset) \
    TESTOS_STATIC_ASSERT(__builtin_offsetof(type, field) == (offset), #type "." #field)
TESTOS_OFFSET_CHECK(struct testos_task, pid, 0);
TESTOS_OFFSET_CHECK(struct testos_task, state, 4);
TESTOS_OFFSET_CHECK(struct testos_task, cpu, 8);
TESTOS_OFFSET_CHECK(struct testos_task, exit_status, 12);
TESTOS_OFFSET_CHECK(struct testos_task, name, 16);
TESTOS_OFFSET_CHECK(struct testos_task, counter, 32);
TESTOS_OFFSET_CHECK(struct testos_task, ticks, 40);
TESTOS_OFFSET_CHECK(struct testos_task, cr3, 48);
TESTOS_OFFSET_CHECK(struct testos_task, wake_ns, 56);
TESTOS_STATIC_ASSERT(sizeof(struct testos_task) == 64, "task entry size");
TESTOS_OFFSET_CHECK(struct testos_task_table, version, 8);
TESTOS_OFFSET_CHECK(struct testos_task_table, entry_count, 16);
TESTOS_OFFSET_CHECK(struct testos_task_table, cpu_count, 24);
TESTOS_OFFSET_CHECK(struct testos_task_table, boot_tsc, 32);
TESTOS_OFFSET_CHECK(struct testos_task_table, tasks, 72);
#undef TESTOS_OFFSET_CHECK
#undef TESTOS_STATIC_ASSERT

#endif

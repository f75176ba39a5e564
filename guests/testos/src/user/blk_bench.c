/* SPDX-License-Identifier: Apache-2.0 */
/* The ring-3 polling virtio-blk driver behind testos.run=virtio-blk-bench:S. The kernel set the
 * device up and mapped its queue, buffers and notify register here (src/virtio_blk_bench.c);
 * this task fills the available ring, kicks, and polls the used ring without any system call:
 * S seconds of 4 KiB reads at random 4 KiB-aligned offsets with up to 32 in flight, then S
 * seconds of sequential 1 MiB reads with two in flight. One line reports both. */
#include "user.h"
#include "virtio_ring.h"

#define STALL_NS (5ull * 1000 * 1000 * 1000)
#define LARGE_BYTES (1u << 20)

struct bench {
    struct blk_bench_setup const *setup;
    struct virtq_desc volatile *desc;
    struct virtq_avail volatile *avail;
    struct virtq_used volatile *used;
    uint16_t avail_idx, last_used;
    uint32_t depth, in_flight;
    uint64_t errors, random_state, next_sector;
};

static inline uint64_t rdtsc_now(void)
{
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}

static uint64_t ns_to_cycles(uint64_t ns) { return ns / 1000000 * testos_task_table.tsc_khz + ns % 1000000 * testos_task_table.tsc_khz / 1000000; }
static uint64_t cycles_to_ns(uint64_t cycles)
{
    uint64_t khz = testos_task_table.tsc_khz ? testos_task_table.tsc_khz : 1;
    return cycles / khz * 1000000 + cycles % khz * 1000000 / khz;
}

static uint64_t physical(struct bench const *b, uint64_t offset) { return b->setup->window_pa + offset; }

static uint64_t next_random(struct bench *b)
{
    uint64_t x = b->random_state; /* xorshift64 */
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b->random_state = x;
    return x;
}

/* Slot i owns descriptors 3i (header), 3i+1 (data), 3i+2 (status). */
static void submit(struct bench *b, uint32_t slot, uint64_t sector, uint64_t data_offset, uint32_t bytes)
{
    struct blk_bench_setup const *s = b->setup;
    struct virtio_blk_req_header volatile *header = (void volatile *)(uintptr_t)(s->window_va + BLK_BENCH_HEADERS_OFFSET + 16 * slot);
    header->type = VIRTIO_BLK_T_IN;
    header->reserved = 0;
    header->sector = sector;
    *(uint8_t volatile *)(uintptr_t)(s->window_va + BLK_BENCH_STATUS_OFFSET + slot) = 0xff;
    uint16_t d = (uint16_t)(3 * slot);
    b->desc[d] = (struct virtq_desc){ physical(b, BLK_BENCH_HEADERS_OFFSET + 16 * slot), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(d + 1) };
    b->desc[d + 1] = (struct virtq_desc){ physical(b, data_offset), bytes, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, (uint16_t)(d + 2) };
    b->desc[d + 2] = (struct virtq_desc){ physical(b, BLK_BENCH_STATUS_OFFSET + slot), 1, VIRTQ_DESC_F_WRITE, 0 };
    b->avail->ring[b->avail_idx % s->queue_size] = d;
    __asm__ volatile("" ::: "memory"); /* the entry before the index (virtio 1.2, 2.7.13.2) */
    b->avail_idx++;
    b->avail->idx = b->avail_idx;
    b->in_flight++;
}

static void kick(struct bench *b)
{
    __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc"); /* full barrier: avail->idx before used->flags */
    if (b->used->flags & VIRTQ_USED_F_NO_NOTIFY)
        return;
    if (b->setup->is_mmio) /* QueueNotify is a 32-bit register (4.2.2); PCI's notify is 16-bit (4.1.4.4) */
        *(uint32_t volatile *)(uintptr_t)b->setup->notify_va = 0;
    else
        *(uint16_t volatile *)(uintptr_t)b->setup->notify_va = 0;
}

/* One completed slot, or -1 if none is ready. Counts error statuses. */
static int64_t reap(struct bench *b)
{
    if (b->used->idx == b->last_used)
        return -1;
    __asm__ volatile("" ::: "memory");
    uint32_t id = b->used->ring[b->last_used % b->setup->queue_size].id;
    b->last_used++;
    uint32_t slot = id / 3;
    if (id % 3 || slot >= b->depth) {
        b->errors++;
        return -1;
    }
    uint8_t status = *(uint8_t volatile *)(uintptr_t)(b->setup->window_va + BLK_BENCH_STATUS_OFFSET + slot);
    b->errors += status != VIRTIO_BLK_S_OK;
    b->in_flight--;
    return slot;
}

typedef void (*issue_fn)(struct bench *b, uint32_t slot);

static void issue_random(struct bench *b, uint32_t slot)
{
    uint64_t blocks = b->setup->capacity / 8; /* 4 KiB blocks */
    submit(b, slot, next_random(b) % blocks * 8, BLK_BENCH_SMALL_OFFSET + 4096ull * slot, 4096);
}

static void issue_sequential(struct bench *b, uint32_t slot)
{
    if (b->next_sector + LARGE_BYTES / VIRTIO_BLK_SECTOR > b->setup->capacity)
        b->next_sector = 0;
    submit(b, slot, b->next_sector, BLK_BENCH_LARGE_OFFSET + (uint64_t)LARGE_BYTES * slot, LARGE_BYTES);
    b->next_sector += LARGE_BYTES / VIRTIO_BLK_SECTOR;
}

/* Keeps `depth` requests in flight for `seconds`, then drains. Returns the requests completed
 * in the timed part and *ns its length; false if the device stalled for 5 s. */
static bool run_phase(struct bench *b, uint32_t depth, issue_fn issue, uint64_t *done, uint64_t *ns)
{
    b->depth = depth;
    uint64_t start = rdtsc_now(), end = start + ns_to_cycles(b->setup->seconds * 1000000000ull);
    uint64_t stall = ns_to_cycles(STALL_NS), last_progress = start, now = start;
    for (uint32_t slot = 0; slot < depth; slot++)
        issue(b, slot);
    kick(b);
    *done = 0;
    while (b->in_flight) {
        now = rdtsc_now();
        int64_t slot = reap(b);
        if (slot < 0) {
            if (now - last_progress > stall)
                return false;
            continue;
        }
        last_progress = now;
        if (now < end) {
            (*done)++;
            issue(b, (uint32_t)slot);
            kick(b);
        }
    }
    *ns = cycles_to_ns((now < end ? now : end) - start);
    return true;
}

static void report(struct bench const *b, char const *result, uint64_t small, uint64_t small_ns, uint64_t large, uint64_t large_ns)
{
    struct blk_bench_setup const *s = b->setup;
    struct u_line line;
    u_init(&line);
    u_str(&line, "virtio-blk-bench: result=");
    u_str(&line, result);
    u_str(&line, s->is_mmio ? " transport=mmio location=" : " transport=pci location=");
    u_str(&line, s->where + (s->is_mmio ? 5 : 4));
    u_str(&line, " seconds=");
    u_dec(&line, s->seconds);
    u_str(&line, " rand4k_ios=");
    u_dec(&line, small);
    u_str(&line, " rand4k_iops=");
    u_dec(&line, small_ns ? small * 1000000000ull / small_ns : 0);
    u_str(&line, " seq1m_ios=");
    u_dec(&line, large);
    u_str(&line, " seq1m_mbps=");
    u_dec(&line, large_ns ? large * LARGE_BYTES * 1000ull / large_ns : 0);
    u_str(&line, " errors=");
    u_dec(&line, b->errors);
    u_str(&line, "\n");
    u_flush(&line);
}

void user_blk_bench(uint64_t setup_va, uint64_t arg1, uint64_t slot)
{
    (void)arg1, (void)slot;
    struct bench b = { .setup = (struct blk_bench_setup const *)(uintptr_t)setup_va, .random_state = 0x9e3779b97f4a7c15ull };
    struct blk_bench_setup const *s = b.setup;
    b.desc = (struct virtq_desc volatile *)(uintptr_t)s->queue_va;
    b.avail = (struct virtq_avail volatile *)(uintptr_t)(s->queue_va + VIRTQ_AVAIL_OFFSET);
    b.used = (struct virtq_used volatile *)(uintptr_t)(s->queue_va + VIRTQ_USED_OFFSET);
    uint32_t depth = s->queue_size / 3 < BLK_BENCH_SLOTS ? s->queue_size / 3 : BLK_BENCH_SLOTS;
    uint64_t small = 0, small_ns = 0, large = 0, large_ns = 0;
    if (s->capacity < LARGE_BYTES / VIRTIO_BLK_SECTOR || depth < 2) {
        report(&b, "too-small", 0, 0, 0, 0);
        u_exit(TESTOS_EXIT_FAILURE);
    }
    bool ok = run_phase(&b, depth, issue_random, &small, &small_ns) && run_phase(&b, 2, issue_sequential, &large, &large_ns);
    (void)*(uint8_t volatile *)(uintptr_t)s->isr_va; /* PCI: reading the ISR lowers INTx if the device raised it */
    ok = ok && b.errors == 0 && small > 0 && large > 0;
    report(&b, ok ? "ok" : "failed", small, small_ns, large, large_ns);
    u_exit(ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE);
}

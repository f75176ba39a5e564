/* SPDX-License-Identifier: Apache-2.0 */
/* testos.run=virtio-blk-bench:S, the ring-0 half: sets the first virtio-blk device up (status
 * sequence, queue 0 in a 4 MiB DMA window), then hands it to a ring-3 task that drives it alone
 * (src/user/blk_bench.c). The window and the pages holding the queue's notify register and the
 * ISR are mapped into that task, so that no request needs ring 0: where ring 0 is emulated
 * (docs/testos.md), the I/O path still runs natively and each kick is one MMIO exit. */
#include "virtio.h"

#define USER_SLOT1 (1ull << 39)
#define BENCH_WINDOW_VA (USER_SLOT1 + (4ull << 20))
#define BENCH_REGISTERS_VA (USER_SLOT1 + (8ull << 20))
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_INTERRUPT_STATUS 0x060

/* Maps the page holding paddr at *next_va (unless it is the page mapped last); returns the
 * user address of paddr, 0 on failure. */
static uint64_t map_register(uint64_t cr3, uint64_t paddr, uint64_t *next_va, uint64_t *last_page)
{
    uint64_t page = paddr & ~(PAGE_SIZE - 1);
    if (page != *last_page) {
        if (!paging_map_user(cr3, *next_va, page, PAGE_SIZE, true))
            return 0;
        *last_page = page;
        *next_va += PAGE_SIZE;
    }
    return *next_va - PAGE_SIZE + (paddr & (PAGE_SIZE - 1));
}

static bool map_task(int slot, struct virtio_device *d, struct virtq const *q, uint8_t *window, struct blk_bench_setup *setup)
{
    uint64_t cr3 = testos_task_table.tasks[slot].cr3;
    if (!paging_map_user(cr3, BENCH_WINDOW_VA, dma_addr(window), BLK_BENCH_WINDOW_SIZE, false))
        return false;
    uint64_t next_va = BENCH_REGISTERS_VA, last_page = 1;
    uint64_t notify = d->transport == VIRTIO_PCI ? d->notify_paddr + (uint64_t)((uint8_t volatile *)q->notify - d->notify)
        : d->mmio_paddr + MMIO_QUEUE_NOTIFY;
    uint64_t isr = d->transport == VIRTIO_PCI ? d->isr_paddr : d->mmio_paddr + MMIO_INTERRUPT_STATUS;
    setup->notify_va = map_register(cr3, notify, &next_va, &last_page);
    setup->isr_va = map_register(cr3, isr, &next_va, &last_page);
    return setup->notify_va && setup->isr_va;
}

int virtio_blk_bench_start(uint64_t seconds)
{
    struct virtio_device *d = virtio_find(VIRTIO_ID_BLK);
    if (!d) {
        kprintf("virtio-blk-bench: no virtio-blk device found\n");
        return -1;
    }
    uint64_t features;
    uint8_t *window = dma_alloc(BLK_BENCH_WINDOW_SIZE, 2ull << 20);
    struct virtq q;
    if (!window || !virtio_begin(d, 0, &features))
        return -1;
    if (!virtio_queue_setup(d, &q, 0, VIRTQ_MAX_SIZE, window + BLK_BENCH_QUEUE_OFFSET)) {
        virtio_fail(d, "no request queue");
        return -1;
    }
    virtio_driver_ok(d);
    struct blk_bench_setup *setup = (struct blk_bench_setup *)window;
    setup->window_va = BENCH_WINDOW_VA;
    setup->window_pa = dma_addr(window);
    setup->queue_va = BENCH_WINDOW_VA + BLK_BENCH_QUEUE_OFFSET;
    setup->capacity = virtio_config_read(d, 0, 4) | (uint64_t)virtio_config_read(d, 4, 4) << 32;
    setup->seconds = seconds;
    setup->queue_size = q.size;
    setup->is_mmio = d->transport == VIRTIO_MMIO;
    memcpy(setup->where, d->where, sizeof(setup->where));
    /* The task is runnable at once but pinned to this CPU, which runs no task before kmain
     * ends: mapping its pages afterwards is safe. */
    int slot = task_create("blk-bench", 0, user_blk_bench, BENCH_WINDOW_VA, 0, false);
    if (slot < 0 || !map_task(slot, d, &q, window, setup)) {
        kprintf("virtio-blk-bench: cannot create or map the ring-3 task\n");
        return -1;
    }
    kprintf("virtio-blk-bench: %s: %lu sectors, queue size %u, notify at %lx, ring 3 drives it for 2 x %lu s\n", d->where,
        setup->capacity, q.size, setup->notify_va, seconds);
    return slot;
}

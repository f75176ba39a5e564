/* SPDX-License-Identifier: Apache-2.0 */
/* The split virtqueue's memory layout (virtio 1.2, 2.7) and the virtio-blk request format
 * (5.2.6), shared by the ring-0 drivers and the ring-3 benchmark driver (header only, so that
 * ring 3 links no kernel code), and the block the kernel hands the ring-3 benchmark. */
#ifndef TESTOS_VIRTIO_RING_H
#define TESTOS_VIRTIO_RING_H

#include <stdint.h>

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1 /* we poll: the device need not interrupt */
#define VIRTQ_USED_F_NO_NOTIFY 1     /* the device is busy with the queue: no need to kick it */

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};

struct virtq_avail {
    uint16_t flags;
    uint16_t idx;
    uint16_t ring[]; /* queue size entries */
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq_used {
    uint16_t flags;
    uint16_t idx;
    struct virtq_used_elem ring[];
};

/* One page-aligned block per queue: descriptors, then the driver area, then the device area,
 * each on its own page (sizes up to 256 entries fit). */
#define VIRTQ_MAX_SIZE 256u
#define VIRTQ_AVAIL_OFFSET 4096u
#define VIRTQ_USED_OFFSET 8192u
#define VIRTQ_BYTES 12288u

/* virtio-blk (5.2.6): a request is this header (device-readable), the data, and one status
 * byte (device-writable). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VIRTIO_BLK_SECTOR 512u

struct virtio_blk_req_header {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};

/* What the kernel hands the ring-3 benchmark (testos.run=virtio-blk-bench:S). It lies at the
 * start of the task's DMA window, mapped at `window_va`; physical = virtual - window_va +
 * window_pa inside the window. The device is live (DRIVER_OK) with queue 0 at `queue_va`. */
#define BLK_BENCH_WINDOW_SIZE (4ull << 20)
#define BLK_BENCH_QUEUE_OFFSET 0x1000u
#define BLK_BENCH_HEADERS_OFFSET 0x4000u   /* one 16-byte header and one status byte per slot */
#define BLK_BENCH_STATUS_OFFSET 0x6000u
#define BLK_BENCH_SMALL_OFFSET 0x10000u    /* 4 KiB buffers, one per slot */
#define BLK_BENCH_LARGE_OFFSET 0x200000u   /* two 1 MiB buffers */
#define BLK_BENCH_SLOTS 32u

struct blk_bench_setup {
    uint64_t window_va, window_pa;
    uint64_t queue_va;          /* VIRTQ_BYTES at BLK_BENCH_QUEUE_OFFSET */
    uint64_t notify_va;         /* 16-bit write of the queue index kicks the device */
    uint64_t isr_va;            /* PCI: the ISR byte (read clears); MMIO: InterruptStatus, InterruptACK at +4 */
    uint64_t capacity;          /* sectors */
    uint64_t seconds;           /* per phase */
    uint32_t queue_size;
    uint32_t is_mmio;
    char where[32];             /* "pci 00:03.0" or "mmio 0xfeb00e00" */
};

#endif

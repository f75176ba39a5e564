/* SPDX-License-Identifier: Apache-2.0 */
/* testos.run=virtio-blk-garbage: a broken driver, on purpose, for the device side's bad-input
 * tests. It writes and flushes the seeded pattern (sectors 8-23), then feeds the device
 * malformed chains: a descriptor that loops to itself, a request header marked device-writable
 * (the read-only/write-only mix-up), a head index past the queue size, and a buffer far outside
 * guest RAM. After each the device must react (set NEEDS_RESET, virtio 1.2 2.1.2, or complete
 * the request) and never hang; the reaction is printed, NEEDS_RESET and error statuses being the
 * expected ones, and the driver resets the device and starts over (2.1.2: the driver "MUST
 * reset"). Finally it reads the pattern back: what was written and flushed before the garbage
 * must still be there. */
#include "virtio.h"
#include "testos/virtio_pattern.h"

#define DATA_BYTES (TESTOS_BLK_SECTORS * VIRTIO_BLK_SECTOR)
#define REACTION_NS (3ull * 1000 * 1000 * 1000)
#define FAR_OUTSIDE_RAM 0x00007ffffff00000ull /* 128 TiB: no VM here has that much */

enum garbage { LOOP, WRITABLE_HEADER, BAD_HEAD, OUTSIDE_RAM, GARBAGE_KINDS };
static char const *const garbage_names[GARBAGE_KINDS] = { "looping chain", "device-writable header", "head past the queue size",
    "buffer outside RAM" };

/* Publishes a hand-made chain at descriptor 0 (or head), bypassing the free list: the queue is
 * reset afterwards anyway. */
static void feed(struct blk *b, enum garbage kind, uint8_t *data)
{
    struct virtq *q = &b->queue;
    b->header->type = VIRTIO_BLK_T_IN;
    b->header->sector = TESTOS_BLK_FIRST_SECTOR;
    q->desc[0] = (struct virtq_desc){ dma_addr(b->header), sizeof(*b->header), VIRTQ_DESC_F_NEXT, 1 };
    q->desc[1] = (struct virtq_desc){ dma_addr(data), VIRTIO_BLK_SECTOR, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
    q->desc[2] = (struct virtq_desc){ dma_addr(b->status), 1, VIRTQ_DESC_F_WRITE, 0 };
    uint16_t head = 0;
    if (kind == LOOP)
        q->desc[1].next = 1; /* 1 -> 1 -> 1 ... */
    else if (kind == WRITABLE_HEADER)
        q->desc[0].flags |= VIRTQ_DESC_F_WRITE;
    else if (kind == BAD_HEAD)
        head = (uint16_t)(q->size + 3);
    else
        q->desc[1].addr = FAR_OUTSIDE_RAM;
    *b->status = 0xff;
    q->avail->ring[q->avail->idx % q->size] = head;
    __asm__ volatile("" ::: "memory");
    q->avail->idx = (uint16_t)(q->avail->idx + 1);
    virtq_kick(q);
}

/* What the device did with the garbage: "NEEDS_RESET", "error status N", "completed with status
 * OK", or NULL if nothing within 3 s. used_before: used->idx when it was fed. */
static char const *reaction(struct blk *b, uint16_t used_before)
{
    static char text[32];
    uint64_t deadline = time_ns() + REACTION_NS;
    while (time_ns() < deadline) {
        if (virtio_status(b->device) & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED))
            return "NEEDS_RESET";
        if (b->queue.used->idx != used_before) {
            uint8_t status = *(uint8_t volatile *)b->status;
            if (status == VIRTIO_BLK_S_OK)
                return "completed with status OK";
            memcpy(text, "error status ", 14);
            text[13] = "0123456789abcdef"[status >> 4];
            text[14] = "0123456789abcdef"[status & 15];
            text[15] = 0;
            return text;
        }
        cpu_relax();
    }
    return NULL;
}

static int report(struct blk *b, bool ok, char const *detail)
{
    kprintf("virtio-blk-garbage: %s\n", detail);
    kprintf("virtio-blk-garbage: result=%s transport=%s\n", ok ? "ok" : "failed", b->device ? b->device->where : "none");
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

int virtio_blk_garbage_run(void)
{
    struct blk b = { 0 };
    uint64_t features, seed = virtio_seed();
    uint8_t *data = dma_alloc(DATA_BYTES, PAGE_SIZE);
    if (!data || !blk_open(&b, &features))
        return report(&b, false, "device set-up failed");
    if ((features & VIRTIO_BLK_F_RO) || blk_capacity(b.device) < TESTOS_BLK_MIN_CAPACITY)
        return report(&b, false, "need a writable disk of at least 24 sectors");
    if (!blk_write_pattern(&b, data, seed)
        || ((features & VIRTIO_BLK_F_FLUSH) && blk_request(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) != VIRTIO_BLK_S_OK))
        return report(&b, false, "writing the pattern failed");
    bool all_handled = true;
    for (int kind = 0; kind < GARBAGE_KINDS; kind++) {
        uint16_t used_before = b.queue.used->idx;
        feed(&b, (enum garbage)kind, data);
        char const *what = reaction(&b, used_before);
        kprintf("virtio-blk-garbage: %s: %s (status %x)\n", garbage_names[kind], what ? what : "no reaction within 3 s",
            virtio_status(b.device));
        all_handled = all_handled && what;
        if (!blk_open(&b, &features)) /* reset and start over */
            return report(&b, false, "the device did not come back after a reset");
    }
    memset(data, 0, DATA_BYTES);
    struct vbuf all = { data, DATA_BYTES, true };
    if (blk_request(&b, VIRTIO_BLK_T_IN, TESTOS_BLK_FIRST_SECTOR, &all, 1) != VIRTIO_BLK_S_OK)
        return report(&b, false, "reading back after the resets failed");
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < DATA_BYTES; i++)
        wrong += data[i] != testos_pattern_byte(seed, TESTOS_BLK_FIRST_SECTOR + i / VIRTIO_BLK_SECTOR, i % VIRTIO_BLK_SECTOR);
    kprintf("virtio-blk-garbage: read back after the resets, %u bytes differ\n", wrong);
    if (wrong)
        return report(&b, false, "the pattern written before the garbage is gone");
    return report(&b, all_handled, all_handled ? "the device reacted to every malformed chain; data written before is intact"
                                               : "some malformed chain got no reaction (the device hung)");
}

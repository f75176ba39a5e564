/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-blk workload (virtio 1.2, 5.2), polled in ring 0: write a seeded pattern to sectors
 * 8-23 in two requests (the second with its data split over two descriptors), flush, read them
 * back in one request and compare; then a read at the capacity, which the device must refuse
 * with an error status. */
#include "virtio.h"
#include "testos/virtio_pattern.h"

#define BLK_TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define DATA_BYTES (TESTOS_BLK_SECTORS * VIRTIO_BLK_SECTOR)

uint64_t blk_capacity(struct virtio_device *d)
{
    return virtio_config_read(d, 0, 4) | (uint64_t)virtio_config_read(d, 4, 4) << 32;
}

/* One request: header, up to two data buffers, status. Returns the status byte, or -1 when the
 * device did not complete it. */
int blk_request(struct blk *b, uint32_t type, uint64_t sector, struct vbuf const *data, unsigned data_count)
{
    b->header->type = type;
    b->header->reserved = 0;
    b->header->sector = sector;
    *b->status = 0xff;
    struct vbuf chain[4] = { { b->header, sizeof(*b->header), false } };
    for (unsigned i = 0; i < data_count; i++)
        chain[1 + i] = data[i];
    chain[1 + data_count] = (struct vbuf){ b->status, 1, true };
    int head = virtq_add(&b->queue, chain, data_count + 2);
    if (head < 0)
        return -1;
    virtq_kick(&b->queue);
    uint32_t length;
    if (!virtq_wait(&b->queue, head, BLK_TIMEOUT_NS, &length))
        return -1;
    return *(uint8_t volatile *)b->status;
}

static int report(struct virtio_device *d, char const *result, char const *detail)
{
    kprintf("virtio-blk: %s: %s\n", result, detail);
    kprintf("virtio-blk: result=%s transport=%s\n", result, d->where);
    return memcmp(result, "ok", 3) == 0 ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

/* Finds the device (first call) and takes it through the status sequence to DRIVER_OK; again
 * after a reset, on the same ring memory. */
bool blk_open(struct blk *b, uint64_t *features)
{
    if (!b->device)
        b->device = virtio_find(VIRTIO_ID_BLK);
    if (!b->device) {
        kprintf("virtio-blk: no virtio-blk device found\n");
        return false;
    }
    if (!b->ring) {
        b->ring = dma_alloc(VIRTQ_BYTES, PAGE_SIZE);
        b->header = dma_alloc(sizeof(*b->header), 16);
        b->status = dma_alloc(1, 1);
    }
    if (!b->ring || !b->header || !b->status || !virtio_begin(b->device, VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO, features))
        return false;
    if (!virtio_queue_setup(b->device, &b->queue, 0, 16, b->ring)) {
        virtio_fail(b->device, "no request queue");
        return false;
    }
    virtio_driver_ok(b->device);
    return true;
}

bool blk_write_pattern(struct blk *b, uint8_t *data, uint64_t seed)
{
    for (uint32_t s = 0; s < TESTOS_BLK_SECTORS; s++) {
        for (uint32_t i = 0; i < VIRTIO_BLK_SECTOR; i++)
            data[s * VIRTIO_BLK_SECTOR + i] = testos_pattern_byte(seed, TESTOS_BLK_FIRST_SECTOR + s, i);
    }
    uint32_t half = DATA_BYTES / 2;
    struct vbuf one = { data, half, false };
    struct vbuf two[2] = { { data + half, 1536, false }, { data + half + 1536, half - 1536, false } };
    return blk_request(b, VIRTIO_BLK_T_OUT, TESTOS_BLK_FIRST_SECTOR, &one, 1) == VIRTIO_BLK_S_OK
        && blk_request(b, VIRTIO_BLK_T_OUT, TESTOS_BLK_FIRST_SECTOR + TESTOS_BLK_SECTORS / 2, two, 2) == VIRTIO_BLK_S_OK;
}

int virtio_blk_run(void)
{
    struct blk b = { 0 };
    uint64_t features, seed = virtio_seed();
    if (!blk_open(&b, &features))
        return b.device ? report(b.device, "failed", "device set-up failed") : TESTOS_EXIT_FAILURE;
    uint64_t capacity = blk_capacity(b.device);
    kprintf("virtio-blk: %s: capacity %lu sectors, %s, flush %s\n", b.device->where, capacity,
        features & VIRTIO_BLK_F_RO ? "read-only" : "read-write", features & VIRTIO_BLK_F_FLUSH ? "yes" : "no");
    if (features & VIRTIO_BLK_F_RO)
        return report(b.device, "failed", "the device is read-only");
    if (capacity < TESTOS_BLK_MIN_CAPACITY)
        return report(b.device, "failed", "disk too small (want 24 sectors)");
    uint8_t *data = dma_alloc(DATA_BYTES, PAGE_SIZE);
    if (!data || !blk_write_pattern(&b, data, seed))
        return report(b.device, "failed", "write request failed");
    if ((features & VIRTIO_BLK_F_FLUSH) && blk_request(&b, VIRTIO_BLK_T_FLUSH, 0, NULL, 0) != VIRTIO_BLK_S_OK)
        return report(b.device, "failed", "flush request failed");
    memset(data, 0, DATA_BYTES);
    struct vbuf all = { data, DATA_BYTES, true };
    if (blk_request(&b, VIRTIO_BLK_T_IN, TESTOS_BLK_FIRST_SECTOR, &all, 1) != VIRTIO_BLK_S_OK)
        return report(b.device, "failed", "read request failed");
    uint32_t wrong = 0;
    for (uint32_t s = 0; s < TESTOS_BLK_SECTORS; s++) {
        for (uint32_t i = 0; i < VIRTIO_BLK_SECTOR; i++)
            wrong += data[s * VIRTIO_BLK_SECTOR + i] != testos_pattern_byte(seed, TESTOS_BLK_FIRST_SECTOR + s, i);
    }
    kprintf("virtio-blk: wrote %u sectors at %u (seed %lu), read back, %u bytes differ\n", TESTOS_BLK_SECTORS,
        TESTOS_BLK_FIRST_SECTOR, seed, wrong);
    if (wrong)
        return report(b.device, "failed", "read-back differs from what was written");
    struct vbuf one = { data, VIRTIO_BLK_SECTOR, true };
    int past_end = blk_request(&b, VIRTIO_BLK_T_IN, capacity, &one, 1);
    kprintf("virtio-blk: read at sector %lu (the capacity): status %d\n", capacity, past_end);
    if (past_end == VIRTIO_BLK_S_OK || past_end < 0)
        return report(b.device, "failed", "a read past the end was not refused with an error status");
    return report(b.device, "ok", "pattern written, flushed and verified; read past the end refused");
}

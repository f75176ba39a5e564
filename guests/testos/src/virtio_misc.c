/* SPDX-License-Identifier: Apache-2.0 */
/* The virtio-console workload (virtio 1.2, 5.3: a line on port 0's transmitq, queue 1, without
 * VIRTIO_CONSOLE_F_MULTIPORT) and the virtio-rng workload (5.4: N bytes from its one queue,
 * which must not all be equal). */
#include "virtio.h"

#define TIMEOUT_NS (10ull * 1000 * 1000 * 1000)
#define RNG_MAX 4096u

static struct virtio_device *open_device(uint32_t type, char const *name, uint16_t queue_index, struct virtq *q)
{
    struct virtio_device *d = virtio_find(type);
    if (!d) {
        kprintf("%s: no %s device found\n", name, name);
        return NULL;
    }
    uint64_t features;
    void *ring = dma_alloc(VIRTQ_BYTES, PAGE_SIZE);
    if (!ring || !virtio_begin(d, 0, &features))
        return NULL;
    /* The console's receiveq (queue 0) is set up too, as 5.3.6 asks, but never filled. */
    if (type == VIRTIO_ID_CONSOLE) {
        void *rx = dma_alloc(VIRTQ_BYTES, PAGE_SIZE);
        struct virtq receive;
        if (!rx || !virtio_queue_setup(d, &receive, 0, 16, rx))
            return NULL;
    }
    if (!virtio_queue_setup(d, q, queue_index, 16, ring)) {
        virtio_fail(d, "queue missing");
        return NULL;
    }
    virtio_driver_ok(d);
    return d;
}

int virtio_console_run(void)
{
    struct virtq q;
    struct virtio_device *d = open_device(VIRTIO_ID_CONSOLE, "virtio-console", 1, &q);
    if (!d)
        return TESTOS_EXIT_FAILURE;
    static char const text[] = "testos: virtio-console port 0 says hello (seed ";
    char *line = dma_alloc(128, 8);
    if (!line)
        return TESTOS_EXIT_FAILURE;
    uint64_t length = sizeof(text) - 1;
    memcpy(line, text, length);
    char digits[20];
    int n = 0;
    uint64_t seed = virtio_seed();
    do {
        digits[n++] = (char)('0' + seed % 10);
        seed /= 10;
    } while (seed);
    while (n)
        line[length++] = digits[--n];
    line[length++] = ')';
    line[length++] = '\n';
    struct vbuf buffer = { line, (uint32_t)length, false };
    int head = virtq_add(&q, &buffer, 1);
    virtq_kick(&q);
    uint32_t used;
    bool ok = head >= 0 && virtq_wait(&q, head, TIMEOUT_NS, &used);
    kprintf("virtio-console: %s: wrote %lu bytes to port 0: %s\n", d->where, length, ok ? "done" : "not completed");
    kprintf("virtio-console: result=%s transport=%s\n", ok ? "ok" : "failed", d->where);
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

int virtio_rng_run(uint64_t bytes)
{
    struct virtq q;
    struct virtio_device *d = open_device(VIRTIO_ID_RNG, "virtio-rng", 0, &q);
    uint8_t *buffer = dma_alloc(RNG_MAX, PAGE_SIZE);
    if (!d || !buffer || bytes == 0 || bytes > RNG_MAX)
        return TESTOS_EXIT_FAILURE;
    uint64_t have = 0;
    /* The device may return fewer bytes than asked (5.4.6.1): ask again for the rest. */
    for (unsigned round = 0; have < bytes && round < 1000; round++) {
        struct vbuf rest = { buffer + have, (uint32_t)(bytes - have), true };
        int head = virtq_add(&q, &rest, 1);
        virtq_kick(&q);
        uint32_t used = 0;
        if (head < 0 || !virtq_wait(&q, head, TIMEOUT_NS, &used))
            break;
        have += used <= bytes - have ? used : bytes - have;
    }
    uint32_t distinct = 0;
    bool seen[256] = { false };
    for (uint64_t i = 0; i < have; i++) {
        distinct += !seen[buffer[i]];
        seen[buffer[i]] = true;
    }
    kprintf("virtio-rng: %s: %lu of %lu bytes, %u distinct values, first %02x %02x %02x %02x\n", d->where, have, bytes,
        distinct, buffer[0], buffer[1], buffer[2], buffer[3]);
    bool ok = have == bytes && (bytes == 1 || distinct > 1);
    kprintf("virtio-rng: result=%s transport=%s bytes=%lu distinct=%u\n", ok ? "ok" : "failed", d->where, have, distinct);
    return ok ? TESTOS_EXIT_SUCCESS : TESTOS_EXIT_FAILURE;
}

/* SPDX-License-Identifier: Apache-2.0 */
/* The split virtqueue from the driver's side (virtio 1.2, 2.7): descriptors on a free list,
 * chains published through the available ring, completions collected from the used ring by
 * polling. x86 orders stores with stores and loads with loads, so compiler barriers suffice
 * except before reading used->flags after publishing, which needs a full barrier (2.7.13.4). */
#include "virtio.h"

#define MMIO_QUEUE_NOTIFY 0x050
#define BROKEN_CHECK_POLLS 4096u

static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
/* A locked read-modify-write of the stack top is a full barrier (SDM vol. 3, 9.2.2), as Linux's
 * smp_mb(); unlike mfence it is surely within KVM's instruction emulator, which runs ring 0 on
 * the PVM hosts. */
static inline void full_fence(void) { __asm__ volatile("lock orq $0, (%%rsp)" ::: "memory", "cc"); }

int virtq_add(struct virtq *q, struct vbuf const *buffers, unsigned count)
{
    if (count == 0 || count > q->free_count)
        return -1;
    uint16_t head = q->free_head;
    uint16_t index = head;
    for (unsigned i = 0; i < count; i++) {
        struct virtq_desc volatile *desc = &q->desc[index];
        desc->addr = dma_addr(buffers[i].data);
        desc->len = buffers[i].length;
        desc->flags = (uint16_t)((buffers[i].device_writes ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < count ? VIRTQ_DESC_F_NEXT : 0));
        index = desc->next;
    }
    q->free_head = index;
    q->free_count = (uint16_t)(q->free_count - count);
    q->avail->ring[q->avail->idx % q->size] = head;
    barrier(); /* the entry before the index (2.7.13.2) */
    q->avail->idx = (uint16_t)(q->avail->idx + 1);
    return head;
}

void virtq_kick(struct virtq *q)
{
    full_fence(); /* publish avail->idx before looking at the device's flags */
    if (q->used->flags & VIRTQ_USED_F_NO_NOTIFY)
        return;
    if (q->device->transport == VIRTIO_PCI)
        *q->notify = q->index;
    else
        *(uint32_t volatile *)(q->device->mmio + MMIO_QUEUE_NOTIFY) = q->index;
}

/* Returns the chain of head to the free list (walking at most size descriptors). */
static void free_chain(struct virtq *q, uint16_t head)
{
    uint16_t index = head;
    uint16_t count = 1;
    while ((q->desc[index].flags & VIRTQ_DESC_F_NEXT) && count < q->size) {
        index = q->desc[index].next;
        count++;
    }
    q->desc[index].next = q->free_head;
    q->free_head = head;
    q->free_count = (uint16_t)(q->free_count + count);
}

int virtq_get(struct virtq *q, uint32_t *length)
{
    if (q->used->idx == q->last_used)
        return -1;
    barrier(); /* read the element after the index (2.7.14) */
    struct virtq_used_elem volatile *elem = &q->used->ring[q->last_used % q->size];
    uint32_t id = elem->id;
    uint32_t len = elem->len;
    q->last_used = (uint16_t)(q->last_used + 1);
    if (id >= q->size) {
        kprintf("virtio: %s: queue %u: device returned descriptor %u of %u\n", q->device->where, q->index, id, q->size);
        return -1;
    }
    free_chain(q, (uint16_t)id);
    if (length)
        *length = len;
    return (int)id;
}

bool virtq_wait(struct virtq *q, int head, uint64_t timeout_ns, uint32_t *length)
{
    uint64_t deadline = time_ns() + timeout_ns;
    for (uint32_t polls = 1;; polls++) {
        int got = virtq_get(q, length);
        if (got == head)
            return true;
        if (got >= 0)
            continue;
        if (polls % BROKEN_CHECK_POLLS == 0 && virtio_device_broken(q->device))
            return false;
        if (time_ns() > deadline) {
            kprintf("virtio: %s: queue %u: no completion within %lu ms\n", q->device->where, q->index, timeout_ns / 1000000);
            virtio_device_broken(q->device);
            return false;
        }
        cpu_relax();
    }
}

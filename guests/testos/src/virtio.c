/* SPDX-License-Identifier: Apache-2.0 */
/* The transport-independent virtio driver steps over both transports: the device status
 * sequence (virtio 1.2, 3.1.1), feature negotiation with VIRTIO_F_VERSION_1 required, queue
 * set-up (4.1.5.1.3 for PCI, 4.2.3.2 for MMIO) and device configuration reads with the
 * generation check (2.5.1). */
#include "virtio.h"

/* Common configuration (4.1.4.3). */
#define PCI_DEVICE_FEATURE_SELECT 0x00
#define PCI_DEVICE_FEATURE 0x04
#define PCI_DRIVER_FEATURE_SELECT 0x08
#define PCI_DRIVER_FEATURE 0x0c
#define PCI_MSIX_CONFIG 0x10
#define PCI_NUM_QUEUES 0x12
#define PCI_DEVICE_STATUS 0x14
#define PCI_CONFIG_GENERATION 0x15
#define PCI_QUEUE_SELECT 0x16
#define PCI_QUEUE_SIZE 0x18
#define PCI_QUEUE_MSIX_VECTOR 0x1a
#define PCI_QUEUE_ENABLE 0x1c
#define PCI_QUEUE_NOTIFY_OFF 0x1e
#define PCI_QUEUE_DESC 0x20
#define PCI_QUEUE_DRIVER 0x28
#define PCI_QUEUE_DEVICE 0x30
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* MMIO registers (4.2.2). */
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SEL 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SEL 0x024
#define MMIO_QUEUE_SEL 0x030
#define MMIO_QUEUE_NUM_MAX 0x034
#define MMIO_QUEUE_NUM 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_INTERRUPT_STATUS 0x060
#define MMIO_INTERRUPT_ACK 0x064
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESC 0x080
#define MMIO_QUEUE_DRIVER 0x090
#define MMIO_QUEUE_DEVICE 0x0a0
#define MMIO_CONFIG_GENERATION 0x0fc
#define MMIO_CONFIG 0x100

#define RESET_TIMEOUT_NS (1000ull * 1000 * 1000)

uint32_t virtio_pci_discover(struct virtio_device **devices);
uint32_t virtio_mmio_discover(struct virtio_device **devices);

static struct virtio_device *pci_list, *mmio_list;
static uint32_t pci_count, mmio_count;

static inline void w32(uint8_t volatile *base, uint32_t offset, uint32_t v) { *(uint32_t volatile *)(base + offset) = v; }
static inline uint32_t r32(uint8_t volatile *base, uint32_t offset) { return *(uint32_t volatile *)(base + offset); }
static inline void w16(uint8_t volatile *base, uint32_t offset, uint16_t v) { *(uint16_t volatile *)(base + offset) = v; }
static inline uint16_t r16(uint8_t volatile *base, uint32_t offset) { return *(uint16_t volatile *)(base + offset); }
/* 64-bit fields as two 32-bit halves, low first (4.1.3.1 allows it). */
static inline void w64(uint8_t volatile *base, uint32_t offset, uint64_t v)
{
    w32(base, offset, (uint32_t)v);
    w32(base, offset + 4, (uint32_t)(v >> 32));
}

void virtio_discover(void)
{
    pci_count = virtio_pci_discover(&pci_list);
    mmio_count = virtio_mmio_discover(&mmio_list);
    kprintf("virtio: %u PCI and %u MMIO devices\n", pci_count, mmio_count);
}

struct virtio_device *virtio_find(uint32_t device_id)
{
    for (uint32_t i = 0; i < pci_count + mmio_count; i++) {
        struct virtio_device *d = i < pci_count ? &pci_list[i] : &mmio_list[i - pci_count];
        if (d->device_id == device_id && !d->claimed) {
            d->claimed = true;
            return d;
        }
    }
    return NULL;
}

uint8_t virtio_status(struct virtio_device *d)
{
    if (d->transport == VIRTIO_PCI)
        return d->common[PCI_DEVICE_STATUS];
    return (uint8_t)r32(d->mmio, MMIO_STATUS);
}

void virtio_set_status(struct virtio_device *d, uint8_t status)
{
    if (d->transport == VIRTIO_PCI)
        d->common[PCI_DEVICE_STATUS] = status;
    else
        w32(d->mmio, MMIO_STATUS, status);
}

/* Writing 0 resets; the PCI transport says to wait until the status reads back 0 (4.1.4.3.2). */
void virtio_reset(struct virtio_device *d)
{
    virtio_set_status(d, 0);
    uint64_t deadline = time_ns() + RESET_TIMEOUT_NS;
    while (virtio_status(d) != 0 && time_ns() < deadline)
        cpu_relax();
}

void virtio_fail(struct virtio_device *d, char const *why)
{
    kprintf("virtio: %s: %s; setting FAILED\n", d->where, why);
    virtio_set_status(d, virtio_status(d) | VIRTIO_STATUS_FAILED);
}

static uint64_t device_features(struct virtio_device *d)
{
    uint64_t features = 0;
    for (uint32_t word = 0; word < 2; word++) {
        uint32_t value;
        if (d->transport == VIRTIO_PCI) {
            w32(d->common, PCI_DEVICE_FEATURE_SELECT, word);
            value = r32(d->common, PCI_DEVICE_FEATURE);
        } else {
            w32(d->mmio, MMIO_DEVICE_FEATURES_SEL, word);
            value = r32(d->mmio, MMIO_DEVICE_FEATURES);
        }
        features |= (uint64_t)value << (32 * word);
    }
    return features;
}

static void set_driver_features(struct virtio_device *d, uint64_t features)
{
    for (uint32_t word = 0; word < 2; word++) {
        uint32_t value = (uint32_t)(features >> (32 * word));
        if (d->transport == VIRTIO_PCI) {
            w32(d->common, PCI_DRIVER_FEATURE_SELECT, word);
            w32(d->common, PCI_DRIVER_FEATURE, value);
        } else {
            w32(d->mmio, MMIO_DRIVER_FEATURES_SEL, word);
            w32(d->mmio, MMIO_DRIVER_FEATURES, value);
        }
    }
}

/* 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK and its read-back. */
bool virtio_begin(struct virtio_device *d, uint64_t wanted, uint64_t *accepted)
{
    virtio_reset(d);
    if (virtio_status(d) != 0) {
        kprintf("virtio: %s: status %x after reset, not 0\n", d->where, virtio_status(d));
        return false;
    }
    virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = device_features(d);
    if (!(offered & VIRTIO_F_VERSION_1)) {
        virtio_fail(d, "device does not offer VIRTIO_F_VERSION_1");
        return false;
    }
    *accepted = offered & (wanted | VIRTIO_F_VERSION_1);
    set_driver_features(d, *accepted);
    virtio_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (!(virtio_status(d) & VIRTIO_STATUS_FEATURES_OK)) {
        virtio_fail(d, "device refused our features (FEATURES_OK not kept)");
        return false;
    }
    kprintf("virtio: %s: features offered %lx, accepted %lx\n", d->where, offered, *accepted);
    return true;
}

void virtio_driver_ok(struct virtio_device *d)
{
    virtio_set_status(d, virtio_status(d) | VIRTIO_STATUS_DRIVER_OK);
}

static uint16_t power_of_two_at_most(uint32_t limit)
{
    uint16_t size = 1;
    while ((uint32_t)size * 2 <= limit && size < VIRTQ_MAX_SIZE)
        size = (uint16_t)(size * 2);
    return size;
}

static bool pci_queue_setup(struct virtio_device *d, struct virtq *q, uint64_t base)
{
    w16(d->common, PCI_QUEUE_SELECT, q->index);
    uint16_t max = r16(d->common, PCI_QUEUE_SIZE);
    if (max == 0 || r16(d->common, PCI_QUEUE_ENABLE) != 0)
        return false;
    q->size = power_of_two_at_most(q->size < max ? q->size : max);
    w16(d->common, PCI_QUEUE_SIZE, q->size);
    w16(d->common, PCI_QUEUE_MSIX_VECTOR, VIRTIO_MSI_NO_VECTOR);
    w64(d->common, PCI_QUEUE_DESC, base);
    w64(d->common, PCI_QUEUE_DRIVER, base + VIRTQ_AVAIL_OFFSET);
    w64(d->common, PCI_QUEUE_DEVICE, base + VIRTQ_USED_OFFSET);
    uint64_t offset = (uint64_t)r16(d->common, PCI_QUEUE_NOTIFY_OFF) * d->notify_multiplier;
    if (offset + 2 > d->notify_length) {
        kprintf("virtio: %s: queue %u notify offset %lx outside the notify structure (%lx bytes)\n", d->where, q->index, offset, d->notify_length);
        return false;
    }
    q->notify = (uint16_t volatile *)(d->notify + offset);
    w16(d->common, PCI_QUEUE_ENABLE, 1);
    return true;
}

static bool mmio_queue_setup(struct virtio_device *d, struct virtq *q, uint64_t base)
{
    w32(d->mmio, MMIO_QUEUE_SEL, q->index);
    uint32_t max = r32(d->mmio, MMIO_QUEUE_NUM_MAX);
    if (max == 0 || r32(d->mmio, MMIO_QUEUE_READY) != 0)
        return false;
    q->size = power_of_two_at_most(q->size < max ? q->size : max);
    w32(d->mmio, MMIO_QUEUE_NUM, q->size);
    w64(d->mmio, MMIO_QUEUE_DESC, base);
    w64(d->mmio, MMIO_QUEUE_DRIVER, base + VIRTQ_AVAIL_OFFSET);
    w64(d->mmio, MMIO_QUEUE_DEVICE, base + VIRTQ_USED_OFFSET);
    w32(d->mmio, MMIO_QUEUE_READY, 1);
    return true;
}

/* memory: VIRTQ_BYTES, page-aligned, zeroed (dma_alloc). The queue is polled: the driver area
 * asks for no interrupts (2.7.7). */
bool virtio_queue_setup(struct virtio_device *d, struct virtq *q, uint16_t index, uint16_t max_size, void *memory)
{
    memset(q, 0, sizeof(*q));
    memset(memory, 0, VIRTQ_BYTES); /* after a reset too: both indexes start at 0 (2.7.6, 2.7.8) */
    q->device = d;
    q->index = index;
    q->size = max_size ? max_size : VIRTQ_MAX_SIZE;
    uint64_t base = dma_addr(memory);
    bool ok = d->transport == VIRTIO_PCI ? pci_queue_setup(d, q, base) : mmio_queue_setup(d, q, base);
    if (!ok) {
        kprintf("virtio: %s: queue %u is not available\n", d->where, index);
        return false;
    }
    q->desc = memory;
    q->avail = (struct virtq_avail volatile *)((uint8_t *)memory + VIRTQ_AVAIL_OFFSET);
    q->used = (struct virtq_used volatile *)((uint8_t *)memory + VIRTQ_USED_OFFSET);
    q->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    for (uint16_t i = 0; i < q->size; i++)
        q->desc[i].next = (uint16_t)(i + 1);
    q->free_head = 0;
    q->free_count = q->size;
    return true;
}

static uint8_t generation(struct virtio_device *d)
{
    return d->transport == VIRTIO_PCI ? d->common[PCI_CONFIG_GENERATION] : (uint8_t)r32(d->mmio, MMIO_CONFIG_GENERATION);
}

/* One naturally aligned field of the device configuration; reads again if the generation
 * changed meanwhile. Out-of-range reads return 0. */
uint32_t virtio_config_read(struct virtio_device *d, uint32_t offset, unsigned width)
{
    uint8_t volatile *base = d->transport == VIRTIO_PCI ? d->device_config : d->mmio + MMIO_CONFIG;
    uint64_t limit = d->transport == VIRTIO_PCI ? d->device_config_length : 0x100;
    if (!base || offset + width > limit)
        return 0;
    uint32_t value = 0;
    for (unsigned attempt = 0; attempt < 100; attempt++) { /* a device changing it forever: give up */
        uint8_t before = generation(d);
        value = width == 1 ? base[offset] : width == 2 ? *(uint16_t volatile *)(base + offset)
            : *(uint32_t volatile *)(base + offset);
        if (generation(d) == before)
            break;
    }
    return value;
}

uint8_t virtio_read_isr(struct virtio_device *d)
{
    if (d->transport == VIRTIO_PCI)
        return *d->isr; /* reading clears it (4.1.4.5) */
    uint32_t status = r32(d->mmio, MMIO_INTERRUPT_STATUS);
    w32(d->mmio, MMIO_INTERRUPT_ACK, status);
    return (uint8_t)status;
}

bool virtio_device_broken(struct virtio_device *d)
{
    uint8_t status = virtio_status(d);
    if (status & VIRTIO_STATUS_NEEDS_RESET) {
        kprintf("virtio: %s: device set NEEDS_RESET (status %x)\n", d->where, status);
        return true;
    }
    if (status & VIRTIO_STATUS_FAILED) {
        kprintf("virtio: %s: status FAILED (%x)\n", d->where, status);
        return true;
    }
    return false;
}

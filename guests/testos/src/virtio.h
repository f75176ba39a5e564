/* SPDX-License-Identifier: Apache-2.0 */
/* testos's ring-0 virtio drivers: PCI enumeration, the two transports (virtio-pci modern and
 * virtio-mmio version 2), the split virtqueue, and the device workloads (docs/testos.md,
 * "Virtio workloads"). Everything polls: no interrupt is enabled or needed. */
#ifndef TESTOS_VIRTIO_H
#define TESTOS_VIRTIO_H

#include "kernel.h"
#include "user/virtio_ring.h"

/* virtio 1.2, 5: device IDs. */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_VSOCK 19

/* 2.1: device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED 0x80

#define VIRTIO_F_VERSION_1 (1ull << 32)

/* dma.c: physically contiguous, identity-mapped memory for rings and buffers, and MMIO. */
void *dma_alloc(uint64_t size, uint64_t align); /* zeroed; NULL when the pool is exhausted */
void *io_map(uint64_t paddr, uint64_t size);    /* uncached kernel mapping; NULL if impossible */
static inline uint64_t dma_addr(void const *p) { return (uint64_t)(uintptr_t)p; } /* identity map */

/* acpi.c: what the virtio drivers need from the firmware tables. */
#define MAX_MMIO_TRANSPORTS 32u
struct firmware_devices {
    uint64_t ecam_base;          /* MCFG segment 0; 0 when there is no MCFG */
    uint8_t ecam_bus_start, ecam_bus_end;
    uint32_t mmio_count;         /* virtio-mmio transports the DSDT describes (LNRO0005) */
    uint64_t mmio_base[MAX_MMIO_TRANSPORTS];
};
extern struct firmware_devices firmware_devices;

/* pci.c */
struct pci_function {
    uint8_t bus, device, function;
    uint16_t vendor, device_id, subsystem_id;
};
uint32_t pci_read32(struct pci_function const *f, uint16_t offset);
void pci_write32(struct pci_function const *f, uint16_t offset, uint32_t value);
uint16_t pci_read16(struct pci_function const *f, uint16_t offset);
void pci_write16(struct pci_function const *f, uint16_t offset, uint16_t value);
uint8_t pci_read8(struct pci_function const *f, uint16_t offset);
/* Calls visit for every function found (bus 0 and the buses behind bridges). */
void pci_enumerate(void (*visit)(struct pci_function const *f));
/* BAR index's address and size (sized by the all-ones write with decoding off); false when the
 * BAR is absent, an I/O BAR, or unassigned. */
bool pci_bar(struct pci_function const *f, unsigned index, uint64_t *address, uint64_t *size);
char const *pci_access_method(void); /* "ECAM" or "ports 0xcf8/0xcfc" */

/* A virtio device on either transport. */
enum virtio_transport { VIRTIO_PCI, VIRTIO_MMIO };
struct virtio_device {
    enum virtio_transport transport;
    uint32_t device_id;
    char where[32];
    /* PCI: the structures the vendor capabilities point at (virtio 1.2, 4.1.4). */
    struct pci_function pci;
    uint8_t volatile *common, *isr, *device_config, *notify;
    uint64_t notify_length, device_config_length, isr_paddr, notify_paddr;
    uint32_t notify_multiplier;
    /* MMIO: the register block (4.2.2). */
    uint8_t volatile *mmio;
    uint64_t mmio_paddr;
    bool claimed;
};

struct virtq {
    struct virtio_device *device;
    uint16_t index, size;
    struct virtq_desc volatile *desc;
    struct virtq_avail volatile *avail;
    struct virtq_used volatile *used;
    uint16_t volatile *notify; /* PCI; MMIO kicks through QueueNotify */
    uint16_t free_head, free_count, last_used;
};

/* virtio.c: discovery and the device status sequence (3.1.1). */
void virtio_discover(void);
struct virtio_device *virtio_find(uint32_t device_id); /* first unclaimed device of that type */
uint8_t virtio_status(struct virtio_device *d);
void virtio_set_status(struct virtio_device *d, uint8_t status);
bool virtio_begin(struct virtio_device *d, uint64_t wanted, uint64_t *accepted); /* reset .. FEATURES_OK */
bool virtio_queue_setup(struct virtio_device *d, struct virtq *q, uint16_t index, uint16_t max_size, void *memory);
void virtio_driver_ok(struct virtio_device *d);
void virtio_fail(struct virtio_device *d, char const *why); /* sets FAILED, logs */
void virtio_reset(struct virtio_device *d);
uint32_t virtio_config_read(struct virtio_device *d, uint32_t offset, unsigned width);
uint8_t virtio_read_isr(struct virtio_device *d); /* also acknowledges */

/* virtq.c: a queue driven by ring 0, polled. */
struct vbuf {
    void const *data;
    uint32_t length;
    bool device_writes;
};
int virtq_add(struct virtq *q, struct vbuf const *buffers, unsigned count); /* head, or -1 when full */
void virtq_kick(struct virtq *q);
int virtq_get(struct virtq *q, uint32_t *length); /* a used head (chain freed), or -1 */
/* Polls until head is used (returns true, *length written) or timeout_ns passes or the device
 * sets NEEDS_RESET/FAILED (false, said on the console). Other heads completing meanwhile are
 * dropped. */
bool virtq_wait(struct virtq *q, int head, uint64_t timeout_ns, uint32_t *length);
bool virtio_device_broken(struct virtio_device *d); /* NEEDS_RESET or FAILED, logged */

/* virtio_blk.c: the request path, shared with the garbage workload. */
#define VIRTIO_BLK_F_RO (1ull << 5)
#define VIRTIO_BLK_F_FLUSH (1ull << 9)
struct blk {
    struct virtio_device *device;
    struct virtq queue;
    void *ring;
    struct virtio_blk_req_header *header;
    uint8_t *status;
};
bool blk_open(struct blk *b, uint64_t *features);
uint64_t blk_capacity(struct virtio_device *d);
int blk_request(struct blk *b, uint32_t type, uint64_t sector, struct vbuf const *data, unsigned data_count); /* status or -1 */
bool blk_write_pattern(struct blk *b, uint8_t *data, uint64_t seed); /* sectors 8-23, DATA_BYTES at data */

/* The workloads: each returns the guest's exit status. */
int virtio_blk_run(void);
int virtio_blk_garbage_run(void);
int virtio_blk_bench_start(uint64_t seconds); /* creates the ring-3 task; -1 on failure */
int virtio_console_run(void);
int virtio_rng_run(uint64_t bytes);
int virtio_net_run(void);
int virtio_vsock_run(void);
int virtio_vsock_bench_run(uint64_t rounds); /* 1..10000 ping-pong rounds, then the bulk transfer */
uint64_t virtio_seed(void); /* testos.seed=, default 1 */

#endif

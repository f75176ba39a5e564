/* SPDX-License-Identifier: Apache-2.0 */
/* virtio over PCI, modern interface only (virtio 1.2, 4.1): the device is vendor 0x1af4, ID
 * 0x1040 + type (or a transitional 0x1000-0x103f whose subsystem ID is the type), and its
 * vendor-specific capabilities (cap ID 0x09) locate the common configuration, notification, ISR
 * and device configuration structures inside its memory BARs. Each one is bounds-checked
 * against the BAR's size. MSI-X stays disabled (its enable bit is never set) and INTx is
 * masked: the drivers poll the used rings. */
#include "virtio.h"

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAPABILITIES 0x10
#define PCI_CAPABILITIES 0x34
#define PCI_CAP_VENDOR 0x09

#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR 3
#define VIRTIO_PCI_CAP_DEVICE 4

#define MAX_PCI_VIRTIO 16u
static struct virtio_device pci_devices[MAX_PCI_VIRTIO];
static uint32_t pci_device_count;

struct found_structure {
    bool present;
    uint64_t paddr, length;
};

/* struct virtio_pci_cap (4.1.4): vndr, next, len, cfg_type, bar, id, padding[2], offset, length. */
static void read_structure(struct pci_function const *f, uint8_t cap, struct found_structure *out)
{
    uint8_t bar = pci_read8(f, (uint16_t)(cap + 4));
    uint32_t offset = pci_read32(f, (uint16_t)(cap + 8));
    uint32_t length = pci_read32(f, (uint16_t)(cap + 12));
    uint64_t base, size;
    if (out->present || bar > 5 || !pci_bar(f, bar, &base, &size))
        return;
    if (length == 0 || offset > size || length > size - offset) {
        kprintf("virtio: pci %02x:%02x.%x: capability at %x overruns BAR%u (offset %x length %x, BAR size %lx)\n",
            f->bus, f->device, f->function, cap, bar, offset, length, size);
        return;
    }
    out->present = true;
    out->paddr = base + offset;
    out->length = length;
}

static uint32_t virtio_type(struct pci_function const *f)
{
    if (f->vendor != PCI_VENDOR_VIRTIO)
        return 0;
    if (f->device_id >= 0x1040 && f->device_id <= 0x107f)
        return f->device_id - 0x1040u;
    if (f->device_id >= 0x1000 && f->device_id <= 0x103f)
        return f->subsystem_id; /* transitional: the modern capabilities must be there too */
    return 0;
}

static void visit(struct pci_function const *f)
{
    uint32_t type = virtio_type(f);
    if (type == 0 || pci_device_count == MAX_PCI_VIRTIO)
        return;
    struct found_structure found[5] = { 0 };
    uint32_t multiplier = 0;
    uint8_t notify_cap = 0;
    if (pci_read16(f, PCI_STATUS) & PCI_STATUS_CAPABILITIES) {
        uint8_t cap = pci_read8(f, PCI_CAPABILITIES) & 0xfc;
        for (unsigned n = 0; cap >= 0x40 && n < 48; n++) { /* 48: at most (256 - 64) / 4 */
            uint8_t type_byte = pci_read8(f, (uint16_t)(cap + 3));
            if (pci_read8(f, cap) == PCI_CAP_VENDOR && type_byte >= 1 && type_byte <= 4) {
                read_structure(f, cap, &found[type_byte]);
                if (type_byte == VIRTIO_PCI_CAP_NOTIFY && !notify_cap)
                    notify_cap = cap;
            }
            cap = pci_read8(f, (uint16_t)(cap + 1)) & 0xfc;
        }
    }
    if (notify_cap)
        multiplier = pci_read32(f, (uint16_t)(notify_cap + 16));
    if (!found[VIRTIO_PCI_CAP_COMMON].present || !found[VIRTIO_PCI_CAP_NOTIFY].present || !found[VIRTIO_PCI_CAP_ISR].present
        || found[VIRTIO_PCI_CAP_COMMON].length < 0x38) {
        kprintf("virtio: pci %02x:%02x.%x: type %u without the modern capabilities, skipped\n", f->bus, f->device, f->function, type);
        return;
    }
    struct virtio_device *d = &pci_devices[pci_device_count];
    memset(d, 0, sizeof(*d));
    d->transport = VIRTIO_PCI;
    d->device_id = type;
    d->pci = *f;
    d->common = io_map(found[VIRTIO_PCI_CAP_COMMON].paddr, found[VIRTIO_PCI_CAP_COMMON].length);
    d->notify = io_map(found[VIRTIO_PCI_CAP_NOTIFY].paddr, found[VIRTIO_PCI_CAP_NOTIFY].length);
    d->isr = io_map(found[VIRTIO_PCI_CAP_ISR].paddr, 1);
    d->notify_paddr = found[VIRTIO_PCI_CAP_NOTIFY].paddr;
    d->notify_length = found[VIRTIO_PCI_CAP_NOTIFY].length;
    d->isr_paddr = found[VIRTIO_PCI_CAP_ISR].paddr;
    d->notify_multiplier = multiplier;
    if (found[VIRTIO_PCI_CAP_DEVICE].present) {
        d->device_config = io_map(found[VIRTIO_PCI_CAP_DEVICE].paddr, found[VIRTIO_PCI_CAP_DEVICE].length);
        d->device_config_length = d->device_config ? found[VIRTIO_PCI_CAP_DEVICE].length : 0;
    }
    if (!d->common || !d->notify || !d->isr)
        return;
    /* Memory decoding and bus mastering on (the device DMAs the rings), INTx off: we poll. */
    uint16_t command = pci_read16(f, PCI_COMMAND);
    pci_write16(f, PCI_COMMAND, command | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
    char const hex[] = "0123456789abcdef";
    char *w = d->where;
    memcpy(w, "pci 00:00.0", 12);
    w[4] = hex[f->bus >> 4], w[5] = hex[f->bus & 15], w[7] = hex[f->device >> 4], w[8] = hex[f->device & 15];
    w[10] = hex[f->function & 7];
    kprintf("virtio: %s: type %u, common cfg at %lx, notify at %lx (multiplier %u), ISR at %lx\n", d->where, type,
        found[VIRTIO_PCI_CAP_COMMON].paddr, d->notify_paddr, multiplier, d->isr_paddr);
    pci_device_count++;
}

/* Finds the virtio-pci devices; returns them through *devices. */
uint32_t virtio_pci_discover(struct virtio_device **devices)
{
    pci_enumerate(visit);
    *devices = pci_devices;
    return pci_device_count;
}

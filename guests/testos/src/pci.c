/* SPDX-License-Identifier: Apache-2.0 */
/* PCI configuration space (PCI Local Bus 3.0, chapter 6; PCI Express Base 4.0, 7.2.2): through
 * ECAM when ACPI's MCFG announces it, else through configuration mechanism #1 (ports 0xcf8 and
 * 0xcfc). Enumeration walks bus 0 and the buses behind PCI-to-PCI bridges; BARs are sized by
 * the all-ones write with memory decoding switched off meanwhile. */
#include "virtio.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_HEADER_TYPE 0x0e
#define PCI_SECONDARY_BUS 0x19
#define PCI_MAX_DEPTH 8

static uint8_t volatile *ecam;

static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port) { uint32_t v; __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline void outw_port(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }

/* ECAM: 4 KiB per function, bus << 20 | device << 15 | function << 12. */
static uint8_t volatile *ecam_address(struct pci_function const *f, uint16_t offset)
{
    return ecam + ((uint64_t)(f->bus - firmware_devices.ecam_bus_start) << 20) + ((uint64_t)f->device << 15)
        + ((uint64_t)f->function << 12) + (offset & 0xfff);
}

static bool use_ecam(struct pci_function const *f)
{
    if (!ecam && firmware_devices.ecam_base) {
        uint64_t buses = (uint64_t)firmware_devices.ecam_bus_end - firmware_devices.ecam_bus_start + 1;
        ecam = io_map(firmware_devices.ecam_base, buses << 20);
        if (!ecam)
            firmware_devices.ecam_base = 0;
    }
    return ecam && f->bus >= firmware_devices.ecam_bus_start && f->bus <= firmware_devices.ecam_bus_end;
}

char const *pci_access_method(void) { return firmware_devices.ecam_base ? "ECAM" : "ports 0xcf8/0xcfc"; }

static void select_port(struct pci_function const *f, uint16_t offset)
{
    outl(PCI_CONFIG_ADDRESS, 0x80000000u | (uint32_t)f->bus << 16 | (uint32_t)f->device << 11
        | (uint32_t)f->function << 8 | (offset & 0xfc));
}

uint32_t pci_read32(struct pci_function const *f, uint16_t offset)
{
    if (use_ecam(f))
        return *(uint32_t volatile *)ecam_address(f, offset & ~3);
    select_port(f, offset);
    return inl(PCI_CONFIG_DATA);
}

void pci_write32(struct pci_function const *f, uint16_t offset, uint32_t value)
{
    if (use_ecam(f)) {
        *(uint32_t volatile *)ecam_address(f, offset & ~3) = value;
        return;
    }
    select_port(f, offset);
    outl(PCI_CONFIG_DATA, value);
}

uint16_t pci_read16(struct pci_function const *f, uint16_t offset) { return (uint16_t)(pci_read32(f, offset) >> ((offset & 2) * 8)); }
uint8_t pci_read8(struct pci_function const *f, uint16_t offset) { return (uint8_t)(pci_read32(f, offset) >> ((offset & 3) * 8)); }

/* A 16-bit write of its own (a 32-bit one would also write the status register's RW1C bits). */
void pci_write16(struct pci_function const *f, uint16_t offset, uint16_t value)
{
    if (use_ecam(f)) {
        *(uint16_t volatile *)ecam_address(f, offset & ~1) = value;
        return;
    }
    select_port(f, offset);
    outw_port((uint16_t)(PCI_CONFIG_DATA + (offset & 2)), value);
}

bool pci_bar(struct pci_function const *f, unsigned index, uint64_t *address, uint64_t *size)
{
    if (index > 5)
        return false;
    uint16_t offset = (uint16_t)(0x10 + 4 * index);
    uint32_t low = pci_read32(f, offset);
    if (low & 1)
        return false; /* an I/O BAR */
    bool is64 = (low & 6) == 4;
    if (is64 && index == 5)
        return false;
    uint32_t high = is64 ? pci_read32(f, offset + 4) : 0;
    uint16_t command = pci_read16(f, PCI_COMMAND);
    pci_write16(f, PCI_COMMAND, command & ~PCI_COMMAND_MEMORY);
    pci_write32(f, offset, 0xffffffffu);
    uint64_t mask = pci_read32(f, offset) & ~0xfull;
    pci_write32(f, offset, low);
    if (is64) {
        pci_write32(f, offset + 4, 0xffffffffu);
        mask |= (uint64_t)pci_read32(f, offset + 4) << 32;
        pci_write32(f, offset + 4, high);
    } else {
        mask |= 0xffffffff00000000ull;
    }
    pci_write16(f, PCI_COMMAND, command);
    *address = ((uint64_t)high << 32 | low) & ~0xfull;
    *size = ~mask + 1;
    return mask != 0 && *address != 0;
}

static void scan_bus(uint8_t bus, unsigned depth, void (*visit)(struct pci_function const *f))
{
    for (uint8_t device = 0; device < 32; device++) {
        for (uint8_t function = 0; function < 8; function++) {
            struct pci_function f = { .bus = bus, .device = device, .function = function };
            uint32_t id = pci_read32(&f, 0);
            if ((id & 0xffff) == 0xffff || (id & 0xffff) == 0) {
                if (function == 0)
                    break;
                continue;
            }
            f.vendor = (uint16_t)id;
            f.device_id = (uint16_t)(id >> 16);
            uint8_t header = pci_read8(&f, PCI_HEADER_TYPE);
            if ((header & 0x7f) == 0)
                f.subsystem_id = pci_read16(&f, 0x2e);
            visit(&f);
            if ((header & 0x7f) == 1 && depth < PCI_MAX_DEPTH) { /* PCI-to-PCI bridge */
                uint8_t secondary = pci_read8(&f, PCI_SECONDARY_BUS);
                if (secondary > bus)
                    scan_bus(secondary, depth + 1, visit);
            }
            if (function == 0 && !(header & 0x80))
                break; /* not multi-function */
        }
    }
}

void pci_enumerate(void (*visit)(struct pci_function const *f))
{
    kprintf("virtio: PCI configuration through %s\n", pci_access_method());
    scan_bus(0, 0, visit);
}

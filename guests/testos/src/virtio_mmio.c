/* SPDX-License-Identifier: Apache-2.0 */
/* virtio over MMIO, version 2 only (virtio 1.2, 4.2.2). Where transports are found, in order:
 * the kernel command line's `virtio_mmio.device=SIZE@BASE:IRQ` words (Linux's syntax; QEMU
 * microvm with acpi=off and Firecracker-style VMMs pass them), then the DSDT's LNRO0005 devices
 * (QEMU microvm with ACPI, acpi.c). Each base is probed for the magic "virt" and version 2; a
 * transport with device ID 0 has no device behind it. */
#include "virtio.h"

#define MMIO_MAGIC 0x74726976u /* "virt" */
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_REGISTERS_SIZE 0x200u

static struct virtio_device mmio_devices[MAX_MMIO_TRANSPORTS];
static uint32_t mmio_device_count;

static uint32_t mmio_read32(uint8_t volatile *base, uint32_t offset) { return *(uint32_t volatile *)(base + offset); }

static bool parse_hex(char const *s, size_t length, uint64_t *out)
{
    if (length < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || length > 18)
        return false;
    uint64_t value = 0;
    for (size_t i = 2; i < length; i++) {
        char c = s[i];
        unsigned digit = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
            : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10) : 16u;
        if (digit == 16)
            return false;
        value = value << 4 | digit;
    }
    *out = value;
    return true;
}

static void add_transport(uint64_t base, char const *source)
{
    for (uint32_t i = 0; i < mmio_device_count; i++) {
        if (mmio_devices[i].mmio_paddr == base)
            return;
    }
    if (mmio_device_count == MAX_MMIO_TRANSPORTS || (base & 3))
        return;
    uint8_t volatile *regs = io_map(base, MMIO_REGISTERS_SIZE);
    if (!regs)
        return;
    uint32_t magic = mmio_read32(regs, 0), version = mmio_read32(regs, MMIO_VERSION);
    uint32_t id = mmio_read32(regs, MMIO_DEVICE_ID);
    if (magic != MMIO_MAGIC) {
        kprintf("virtio: mmio %lx (%s): no virtio magic (%x)\n", base, source, magic);
        return;
    }
    if (id == 0)
        return; /* an empty transport slot */
    if (version != 2) {
        kprintf("virtio: mmio %lx (%s): type %u is version %u (legacy), skipped: only version 2 is driven\n", base, source, id, version);
        return;
    }
    struct virtio_device *d = &mmio_devices[mmio_device_count++];
    memset(d, 0, sizeof(*d));
    d->transport = VIRTIO_MMIO;
    d->device_id = id;
    d->mmio = regs;
    d->mmio_paddr = base;
    char const hex[] = "0123456789abcdef";
    memcpy(d->where, "mmio 0x", 8);
    int digits = 1;
    while (digits < 16 && (base >> (4 * digits)))
        digits++;
    for (int i = 0; i < digits; i++)
        d->where[7 + i] = hex[(base >> (4 * (digits - 1 - i))) & 15];
    d->where[7 + digits] = 0;
    kprintf("virtio: %s: type %u (from %s)\n", d->where, id, source);
}

/* `virtio_mmio.device=SIZE@BASE:IRQ[:ID]`: SIZE decimal with an optional K/M suffix or hex. */
static void parse_cmdline(void)
{
    static char const key[] = "virtio_mmio.device=";
    char const *p = boot_info.cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        char const *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) > sizeof(key) - 1 && memcmp(p, key, sizeof(key) - 1) == 0) {
            char const *at = p + sizeof(key) - 1;
            while (at < end && *at != '@')
                at++;
            char const *colon = at;
            while (colon < end && *colon != ':')
                colon++;
            uint64_t base;
            if (at < end && parse_hex(at + 1, (size_t)(colon - at - 1), &base))
                add_transport(base, "command line");
            else
                kprintf("virtio: cannot parse a virtio_mmio.device= word (want SIZE@0xBASE:IRQ)\n");
        }
        p = end;
    }
}

uint32_t virtio_mmio_discover(struct virtio_device **devices)
{
    parse_cmdline();
    for (uint32_t i = 0; i < firmware_devices.mmio_count; i++)
        add_transport(firmware_devices.mmio_base[i], "ACPI DSDT");
    *devices = mmio_devices;
    return mmio_device_count;
}

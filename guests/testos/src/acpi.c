/* SPDX-License-Identifier: Apache-2.0 */
/* Finding the CPUs and the power-off register: ACPI (RSDP -> XSDT or RSDT -> MADT, FADT and the
 * DSDT's \_S5 package; ACPI 6.4 sections 5.2.5-5.2.12), or the MP table (Intel MP spec 1.4,
 * chapter 4) when there is no RSDP. Every table is checksummed and bounds-checked first. For
 * the virtio drivers: the MCFG's ECAM window and the DSDT's virtio-mmio devices. */
#include "virtio.h"

struct platform platform;
struct firmware_devices firmware_devices;

struct sdt_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

static bool mapped(uint64_t paddr, uint64_t length)
{
    return paddr != 0 && paddr < (4ull << 30) && length <= (4ull << 30) - paddr;
}

static bool checksum_ok(void const *p, uint64_t length)
{
    uint8_t sum = 0;
    for (uint64_t i = 0; i < length; i++)
        sum += ((uint8_t const *)p)[i];
    return sum == 0;
}

/* A table at paddr with the given signature, or NULL if it is missing or broken. */
static struct sdt_header const *table_at(uint64_t paddr, char const *signature)
{
    if (!mapped(paddr, sizeof(struct sdt_header)))
        return NULL;
    struct sdt_header const *h = (void const *)(uintptr_t)paddr;
    if (memcmp(h->signature, signature, 4) != 0 || h->length < sizeof(*h) || h->length > (1u << 20)
        || !mapped(paddr, h->length) || !checksum_ok(h, h->length))
        return NULL;
    return h;
}

static void add_cpu(uint32_t apic_id)
{
    if (apic_id >= 0xff)
        return; /* xAPIC destinations are 8-bit; 0xff is broadcast */
    for (uint32_t i = 0; i < platform.cpu_count; i++) {
        if (platform.apic_ids[i] == apic_id)
            return;
    }
    if (platform.cpu_count < MAX_CPUS)
        platform.apic_ids[platform.cpu_count++] = (uint8_t)apic_id;
    else
        kprintf("testos: more than %u CPUs, ignoring APIC ID %u\n", MAX_CPUS, apic_id);
}

static void parse_madt(struct sdt_header const *madt)
{
    uint8_t const *p = (uint8_t const *)madt + sizeof(*madt) + 8; /* local APIC address, flags */
    uint8_t const *end = (uint8_t const *)madt + madt->length;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == 0 && p[1] >= 8) { /* Processor Local APIC: enabled (bit 0) or online capable (bit 1) */
            uint32_t flags = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
            if (flags & 3)
                add_cpu(p[3]);
        } else if (p[0] == 9 && p[1] >= 16) { /* Processor Local x2APIC */
            uint32_t id = p[4] | p[5] << 8 | p[6] << 16 | (uint32_t)p[7] << 24;
            uint32_t flags = p[8] | p[9] << 8 | p[10] << 16 | (uint32_t)p[11] << 24;
            if (flags & 3)
                add_cpu(id);
        }
        p += p[1];
    }
}

/* \_S5: NameOp '_S5_' PackageOp PkgLength NumElements then SLP_TYPa as a byte constant. */
static void find_s5(struct sdt_header const *dsdt)
{
    uint8_t const *p = (uint8_t const *)dsdt + sizeof(*dsdt);
    uint8_t const *end = (uint8_t const *)dsdt + dsdt->length;
    for (; p + 10 <= end; p++) {
        if (p[0] != '_' || memcmp(p, "_S5_", 4) != 0 || p[4] != 0x12)
            continue;
        uint8_t const *q = p + 5;
        q += 1 + (*q >> 6); /* PkgLength: lead byte plus 0-3 more */
        q += 1;             /* NumElements */
        if (q + 2 > end)
            return;
        if (*q == 0x0a) /* BytePrefix */
            platform.s5_slp_typ = q[1];
        else if (*q == 0x00 || *q == 0x01) /* ZeroOp, OneOp */
            platform.s5_slp_typ = *q;
        else
            return;
        platform.have_s5 = true;
        return;
    }
}

/* MCFG (PCI Firmware 3.2, 4.1.2): 8 reserved bytes, then 16-byte allocations; segment 0's. */
static void parse_mcfg(struct sdt_header const *mcfg)
{
    uint8_t const *b = (uint8_t const *)mcfg;
    for (uint32_t at = sizeof(*mcfg) + 8; at + 16 <= mcfg->length; at += 16) {
        uint64_t base;
        uint16_t segment;
        memcpy(&base, b + at, 8);
        memcpy(&segment, b + at + 8, 2);
        if (segment != 0 || b[at + 11] < b[at + 10] || (base & 0xfffff))
            continue;
        firmware_devices.ecam_base = base + ((uint64_t)b[at + 10] << 20);
        firmware_devices.ecam_bus_start = b[at + 10];
        firmware_devices.ecam_bus_end = b[at + 11];
        kprintf("testos: ACPI MCFG: ECAM at %lx, buses %u-%u\n", firmware_devices.ecam_base,
            firmware_devices.ecam_bus_start, firmware_devices.ecam_bus_end);
        return;
    }
}

/* virtio-mmio devices in the DSDT, as QEMU's microvm describes them (Linux's
 * drivers/virtio/virtio_mmio.c matches _HID "LNRO0005"): after each such _HID string, the first
 * Memory32Fixed descriptor (ACPI 6.4, 6.4.3.4: 0x86, length 9, then read/write, base, size)
 * before the next one is the register block. A pattern scan rather than an AML interpreter:
 * the base is probed for the virtio magic before use. */
static void find_virtio_mmio(struct sdt_header const *dsdt)
{
    uint8_t const *start = (uint8_t const *)dsdt + sizeof(*dsdt);
    uint8_t const *end = (uint8_t const *)dsdt + dsdt->length;
    bool in_device = false;
    for (uint8_t const *p = start; p + 12 <= end; p++) {
        if (memcmp(p, "LNRO0005", 8) == 0) {
            in_device = true;
            p += 7;
        } else if (in_device && p[0] == 0x86 && p[1] == 0x09 && p[2] == 0x00) {
            uint32_t base, size;
            memcpy(&base, p + 4, 4);
            memcpy(&size, p + 8, 4);
            in_device = false;
            if (size >= 0x200 && firmware_devices.mmio_count < MAX_MMIO_TRANSPORTS)
                firmware_devices.mmio_base[firmware_devices.mmio_count++] = base;
        }
    }
}

static void parse_fadt(struct sdt_header const *fadt)
{
    uint8_t const *b = (uint8_t const *)fadt;
    if (fadt->length < 68)
        return;
    uint32_t pm1a_cnt, dsdt32;
    memcpy(&pm1a_cnt, b + 64, 4);
    memcpy(&dsdt32, b + 40, 4);
    uint64_t dsdt = dsdt32;
    if (fadt->length >= 148) {
        uint64_t x_dsdt;
        memcpy(&x_dsdt, b + 140, 8);
        if (x_dsdt)
            dsdt = x_dsdt;
    }
    if (pm1a_cnt && pm1a_cnt < 0x10000)
        platform.pm1a_cnt = (uint16_t)pm1a_cnt;
    /* Hardware-reduced ACPI (microvm): SLEEP_CONTROL_REG, a Generic Address at offset 244. */
    if (fadt->length >= 256 && b[244] <= 1) {
        uint64_t address;
        memcpy(&address, b + 248, 8);
        if (address && (b[244] == 1 ? address < 0x10000 : mapped(address, 1))) {
            platform.sleep_control = address;
            platform.sleep_control_is_io = b[244] == 1;
        }
    }
    struct sdt_header const *d = table_at(dsdt, "DSDT");
    if (d) {
        find_s5(d);
        find_virtio_mmio(d);
    }
}

static uint64_t find_rsdp_in_bios(void)
{
    for (uint64_t a = 0xe0000; a < 0x100000; a += 16) {
        if (memcmp((void const *)(uintptr_t)a, "RSD PTR ", 8) == 0 && checksum_ok((void const *)(uintptr_t)a, 20))
            return a;
    }
    return 0;
}

static bool parse_acpi(uint64_t rsdp_paddr)
{
    if (!mapped(rsdp_paddr, 36))
        return false;
    uint8_t const *rsdp = (void const *)(uintptr_t)rsdp_paddr;
    if (memcmp(rsdp, "RSD PTR ", 8) != 0 || !checksum_ok(rsdp, 20)) {
        kprintf("testos: bad RSDP at %lx\n", rsdp_paddr);
        return false;
    }
    uint32_t rsdt;
    uint64_t xsdt = 0;
    memcpy(&rsdt, rsdp + 16, 4);
    if (rsdp[15] >= 2 && checksum_ok(rsdp, 36))
        memcpy(&xsdt, rsdp + 24, 8);
    struct sdt_header const *root = xsdt ? table_at(xsdt, "XSDT") : NULL;
    unsigned entry_size = 8;
    if (!root) {
        root = table_at(rsdt, "RSDT");
        entry_size = 4;
    }
    if (!root)
        return false;
    kprintf("testos: ACPI RSDP at %lx, %s at %lx\n", rsdp_paddr, entry_size == 8 ? "XSDT" : "RSDT", (uint64_t)(uintptr_t)root);
    uint8_t const *entries = (uint8_t const *)root + sizeof(*root);
    uint32_t count = (root->length - sizeof(*root)) / entry_size;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t paddr = 0;
        memcpy(&paddr, entries + i * entry_size, entry_size);
        struct sdt_header const *t;
        if ((t = table_at(paddr, "APIC")))
            parse_madt(t);
        else if ((t = table_at(paddr, "FACP")))
            parse_fadt(t);
        else if ((t = table_at(paddr, "MCFG")))
            parse_mcfg(t);
    }
    return platform.cpu_count > 0;
}

static uint8_t const *find_mp_floating(uint64_t base, uint64_t length)
{
    for (uint64_t a = base; a + 16 <= base + length; a += 16) {
        uint8_t const *p = (void const *)(uintptr_t)a;
        if (memcmp(p, "_MP_", 4) == 0 && p[8] == 1 && checksum_ok(p, 16))
            return p;
    }
    return NULL;
}

static bool parse_mp_table(void)
{
    uint16_t ebda_segment;
    memcpy(&ebda_segment, (void const *)0x40e, 2);
    uint8_t const *fp = NULL;
    if (ebda_segment)
        fp = find_mp_floating((uint64_t)ebda_segment << 4, 1024);
    if (!fp)
        fp = find_mp_floating(0x9fc00, 1024);
    if (!fp)
        fp = find_mp_floating(0xf0000, 0x10000);
    if (!fp)
        return false;
    uint32_t config;
    memcpy(&config, fp + 4, 4);
    if (!mapped(config, 44))
        return false;
    uint8_t const *c = (void const *)(uintptr_t)config;
    uint16_t length;
    memcpy(&length, c + 4, 2);
    if (memcmp(c, "PCMP", 4) != 0 || length < 44 || !checksum_ok(c, length))
        return false;
    kprintf("testos: MP table at %x (no ACPI)\n", config);
    /* Walk by the base table length, as Linux does: some firmware (qboot) leaves the entry
     * count at 0. Types 1-4 (bus, I/O APIC, interrupt assignments) are 8 bytes. */
    uint8_t const *p = c + 44, *end = c + length;
    while (p < end && p[0] <= 4) {
        if (p[0] == 0) { /* processor entry, 20 bytes; flags bit 0: enabled */
            if (p + 20 > end)
                break;
            if (p[3] & 1)
                add_cpu(p[1]);
            p += 20;
        } else {
            p += 8;
        }
    }
    return platform.cpu_count > 0;
}

void platform_discover(void)
{
    uint64_t rsdp = boot_info.rsdp ? boot_info.rsdp : find_rsdp_in_bios();
    if (!(rsdp && parse_acpi(rsdp)) && !parse_mp_table()) {
        kprintf("testos: no ACPI MADT and no MP table: running on the boot CPU only\n");
        platform.cpu_count = 0;
        add_cpu(lapic_id());
    }
    kprintf("testos: %u CPUs found (APIC IDs", platform.cpu_count);
    for (uint32_t i = 0; i < platform.cpu_count; i++)
        kprintf(" %u", platform.apic_ids[i]);
    kprintf(")\n");
}

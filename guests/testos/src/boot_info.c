/* SPDX-License-Identifier: Apache-2.0 */
/* Reading the PVH start_info (Xen public/arch-x86/hvm/start_info.h): validated, then copied
 * into kernel memory (the command line, the RSDP address, the memory map) before anything
 * else may reuse the low memory it lives in. */
#include "kernel.h"

#define START_INFO_MAGIC 0x336ec578u
#define MEMMAP_MAX_ENTRIES 128u

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;        /* 0: no memory map fields; 1: memmap_paddr/entries valid */
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;           /* E820 types: 1 RAM, 2 reserved, 3 ACPI, ... */
    uint32_t reserved;
};

struct boot_info boot_info;

/* Everything start_info points at must lie in the identity map (below 4 GiB). */
static bool addressable(uint64_t paddr, uint64_t length)
{
    return paddr != 0 && paddr < (4ull << 30) && length <= (4ull << 30) - paddr;
}

static void read_cmdline(uint64_t paddr)
{
    boot_info.cmdline[0] = 0;
    if (!addressable(paddr, CMDLINE_MAX))
        return;
    char const *src = (char const *)(uintptr_t)paddr;
    size_t i = 0;
    for (; i + 1 < CMDLINE_MAX && src[i]; i++)
        boot_info.cmdline[i] = src[i];
    boot_info.cmdline[i] = 0;
}

static void read_memmap(uint64_t paddr, uint32_t entries)
{
    if (entries > MEMMAP_MAX_ENTRIES || !addressable(paddr, entries * sizeof(struct hvm_memmap_table_entry)))
        return;
    struct hvm_memmap_table_entry const *e = (void const *)(uintptr_t)paddr;
    for (uint32_t i = 0; i < entries && boot_info.range_count < MAX_MEM_RANGES; i++) {
        if (e[i].size == 0 || e[i].addr + e[i].size < e[i].addr)
            continue; /* empty or wrapping: ignore */
        boot_info.ranges[boot_info.range_count++] = (struct mem_range) { e[i].addr, e[i].size, e[i].type };
    }
}

bool boot_info_read(uint64_t start_info_paddr)
{
    if (!addressable(start_info_paddr, sizeof(struct hvm_start_info))) {
        kprintf("testos: start_info address %lx is not usable\n", start_info_paddr);
        return false;
    }
    struct hvm_start_info const *si = (void const *)(uintptr_t)start_info_paddr;
    if (si->magic != START_INFO_MAGIC) {
        kprintf("testos: bad start_info magic %x (want %x)\n", si->magic, START_INFO_MAGIC);
        return false;
    }
    read_cmdline(si->cmdline_paddr);
    boot_info.rsdp = si->rsdp_paddr;
    if (si->version >= 1)
        read_memmap(si->memmap_paddr, si->memmap_entries);
    kprintf("testos: start_info version %u, command line \"%s\"\n", si->version, boot_info.cmdline);
    for (uint32_t i = 0; i < boot_info.range_count; i++) {
        struct mem_range const *r = &boot_info.ranges[i];
        kprintf("testos: memory %016lx-%016lx type %u\n", r->base, r->base + r->size - 1, r->type);
    }
    if (boot_info.range_count == 0)
        kprintf("testos: no memory map in start_info (version %u)\n", si->version);
    return true;
}

/* Whether [base, base+size) is inside one RAM (type 1) range of the memory map. */
bool ram_contains(uint64_t base, uint64_t size)
{
    for (uint32_t i = 0; i < boot_info.range_count; i++) {
        struct mem_range const *r = &boot_info.ranges[i];
        if (r->type == 1 && base >= r->base && base - r->base <= r->size && size <= r->size - (base - r->base))
            return true;
    }
    return false;
}

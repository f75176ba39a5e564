// SPDX-License-Identifier: Apache-2.0
// Boot GDT, IDT and identity page tables (Intel SDM vol. 3A, 3.4.5 descriptors; 4.5 4-level
// paging: PML4E/PDPTE point to the next table, a PDE with PS=1 maps a 2 MiB page).
#include "vmm/arch/boot_tables.h"

#include "vmm/memory/layout.h"

namespace monarch::vmm::arch {

namespace {

constexpr uint64_t PAGE_PRESENT = 1u << 0;
constexpr uint64_t PAGE_WRITABLE = 1u << 1;
constexpr uint64_t PAGE_SIZE_2M = 1u << 7; // PS in a PDE
constexpr uint64_t PAGE_TABLE_ENTRIES = 512;
constexpr uint64_t PAGE_DIRECTORIES = 4; // 4 x 1 GiB

// type 0xb: execute/read, accessed; S=1; P=1. 0xa0 in the high nibble: G=1, L=1.
constexpr uint16_t CODE64_FLAGS = 0xa09b;
// D/B=1, G=1: 32-bit flat code.
constexpr uint16_t CODE32_FLAGS = 0xc09b;
// type 0x3: read/write, accessed; D/B=1, G=1.
constexpr uint16_t DATA_FLAGS = 0xc093;
// type 0xb: busy 32/64-bit TSS; S=0; P=1; byte granular.
constexpr uint16_t TSS_FLAGS = 0x008b;
constexpr uint32_t TSS_LIMIT = 0x67;

Result<void> write_gdt_and_idt(GuestMemory& memory, std::array<uint64_t, BOOT_GDT_ENTRIES> const& gdt)
{
    static_assert(layout::BOOT_GDT_START + sizeof(uint64_t) * BOOT_GDT_ENTRIES <= layout::BOOT_IDT_START);
    TRY_VOID(memory.write_obj(GuestPhysAddr { layout::BOOT_GDT_START }, gdt));
    return memory.write_obj(GuestPhysAddr { layout::BOOT_IDT_START }, uint64_t { 0 });
}

} // namespace

kvm_segment segment_from_descriptor(uint64_t descriptor, uint16_t selector)
{
    kvm_segment segment {};
    segment.base = ((descriptor >> 16) & 0x00ffffff) | ((descriptor >> 32) & 0xff000000);
    uint32_t limit = static_cast<uint32_t>((descriptor & 0xffff) | ((descriptor >> 32) & 0x000f0000));
    segment.g = (descriptor >> 55) & 1;
    segment.limit = segment.g ? (limit << 12) | 0xfff : limit;
    segment.selector = selector;
    segment.type = (descriptor >> 40) & 0xf;
    segment.s = (descriptor >> 44) & 1;
    segment.dpl = (descriptor >> 45) & 3;
    segment.present = (descriptor >> 47) & 1;
    segment.avl = (descriptor >> 52) & 1;
    segment.l = (descriptor >> 53) & 1;
    segment.db = (descriptor >> 54) & 1;
    segment.unusable = segment.present ? 0 : 1;
    return segment;
}

std::array<uint64_t, BOOT_GDT_ENTRIES> linux64_gdt()
{
    return { 0, gdt_entry(CODE64_FLAGS, 0, 0xfffff), gdt_entry(DATA_FLAGS, 0, 0xfffff), gdt_entry(TSS_FLAGS, 0, TSS_LIMIT) };
}

std::array<uint64_t, BOOT_GDT_ENTRIES> pvh_gdt()
{
    return { 0, gdt_entry(CODE32_FLAGS, 0, 0xfffff), gdt_entry(DATA_FLAGS, 0, 0xfffff), gdt_entry(TSS_FLAGS, 0, TSS_LIMIT) };
}

Result<void> write_pvh_gdt(GuestMemory& memory) { return write_gdt_and_idt(memory, pvh_gdt()); }

Result<void> write_linux64_gdt_and_page_tables(GuestMemory& memory)
{
    TRY_VOID(write_gdt_and_idt(memory, linux64_gdt()));

    std::array<uint64_t, PAGE_TABLE_ENTRIES> table {};
    table[0] = layout::PDPTE_START | PAGE_PRESENT | PAGE_WRITABLE;
    TRY_VOID(memory.write_obj(GuestPhysAddr { layout::PML4_START }, table));

    table = {};
    for (uint64_t i = 0; i < PAGE_DIRECTORIES; ++i)
        table[i] = (layout::PDE_START + i * 0x1000) | PAGE_PRESENT | PAGE_WRITABLE;
    TRY_VOID(memory.write_obj(GuestPhysAddr { layout::PDPTE_START }, table));

    for (uint64_t directory = 0; directory < PAGE_DIRECTORIES; ++directory) {
        for (uint64_t i = 0; i < PAGE_TABLE_ENTRIES; ++i) {
            uint64_t page = (directory * PAGE_TABLE_ENTRIES + i) * (2 * layout::MiB);
            table[i] = page | PAGE_PRESENT | PAGE_WRITABLE | PAGE_SIZE_2M;
        }
        TRY_VOID(memory.write_obj(GuestPhysAddr { layout::PDE_START + directory * 0x1000 }, table));
    }
    return {};
}

} // namespace monarch::vmm::arch

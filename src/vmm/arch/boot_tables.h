// SPDX-License-Identifier: Apache-2.0
// The in-memory structures a vCPU needs at its first instruction: the boot GDT, an empty IDT,
// and (64-bit entry) page tables that identity-map the first 4 GiB.
#pragma once

#include "vmm/memory/guest_memory.h"

#include "vmm/kvm/kvm_uapi.h"

#include <array>
#include <cstdint>

namespace monarch::vmm::arch {

// Selectors of the boot GDT (index * 8, TI = 0, RPL = 0).
inline constexpr uint16_t BOOT_CODE_SELECTOR = 0x08;
inline constexpr uint16_t BOOT_DATA_SELECTOR = 0x10;
inline constexpr uint16_t BOOT_TSS_SELECTOR = 0x18;
inline constexpr size_t BOOT_GDT_ENTRIES = 4;
inline constexpr uint16_t BOOT_GDT_LIMIT = BOOT_GDT_ENTRIES * 8 - 1;
inline constexpr uint16_t BOOT_IDT_LIMIT = 7; // one null gate: any interrupt triple-faults, as intended before the kernel's IDT

// A segment descriptor (Intel SDM vol. 3A, 3.4.5). `flags` holds bits 8-15 (type, S, DPL, P)
// in its low byte and bits 20-23 (AVL, L, D/B, G) in bits 12-15, as Linux's GDT_ENTRY does.
[[nodiscard]] constexpr uint64_t gdt_entry(uint16_t flags, uint32_t base, uint32_t limit)
{
    return ((uint64_t(base) & 0xff000000) << 32) | ((uint64_t(flags) & 0xf0ff) << 40)
        | ((uint64_t(limit) & 0x000f0000) << 32) | ((uint64_t(base) & 0x00ffffff) << 16)
        | (uint64_t(limit) & 0x0000ffff);
}

// The KVM segment register that loading `descriptor` with `selector` would produce (the limit
// expanded to bytes when G is set).
[[nodiscard]] kvm_segment segment_from_descriptor(uint64_t descriptor, uint16_t selector);

// null, 64-bit code (L=1), flat data, TSS (base 0, limit 0x67).
[[nodiscard]] std::array<uint64_t, BOOT_GDT_ENTRIES> linux64_gdt();
// null, flat 32-bit code, flat data, TSS: the PVH entry state (Xen's PVH ABI: 32-bit protected mode).
[[nodiscard]] std::array<uint64_t, BOOT_GDT_ENTRIES> pvh_gdt();

// GDT at layout::BOOT_GDT_START (linux64_gdt), an empty IDT at BOOT_IDT_START, and the
// identity map of [0, 4 GiB) with 2 MiB pages: PML4 at PML4_START -> one PDPT at PDPTE_START
// -> four page directories at PDE_START. OutOfRange when that low memory is not RAM.
[[nodiscard]] Result<void> write_linux64_gdt_and_page_tables(GuestMemory&);

// The PVH GDT at BOOT_GDT_START and the empty IDT, for pvh_boot_sregs.
[[nodiscard]] Result<void> write_pvh_gdt(GuestMemory&);

} // namespace monarch::vmm::arch

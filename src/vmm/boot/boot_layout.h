// SPDX-License-Identifier: Apache-2.0
// Placement of the boot structures that layout.h leaves to the loader: the PVH module list and
// the size limits of the e820 tables. Inside the page at PVH_START_INFO_START, below the zero page.
#pragma once

#include "vmm/memory/layout.h"

#include <cstdint>

namespace monarch::vmm::boot {

// hvm_start_info (56 bytes) sits at 0x6000 and its memory map at 0x6040 (layout.h); the one
// module entry (the initrd, 32 bytes) goes at the end of that page, clear of the memory map.
inline constexpr uint64_t PVH_MODLIST_START = 0x6f00;
inline constexpr uint64_t PVH_MEMMAP_ENTRY_SIZE = 24;
inline constexpr uint64_t PVH_MEMMAP_MAX_ENTRIES = (PVH_MODLIST_START - layout::PVH_MEMMAP_START) / PVH_MEMMAP_ENTRY_SIZE;
static_assert(layout::PVH_MEMMAP_START >= layout::PVH_START_INFO_START + 56);
static_assert(PVH_MODLIST_START + 32 <= layout::ZERO_PAGE_START);

// zero-page.rst: boot_params.e820_table holds at most 128 entries (E820_MAX_ENTRIES_ZEROPAGE).
inline constexpr uint64_t ZERO_PAGE_E820_MAX_ENTRIES = 128;

// The initrd starts on a page boundary, as GRUB and QEMU place it (the kernel reserves and frees
// it in whole pages).
inline constexpr uint64_t INITRD_ALIGNMENT = 4096;

} // namespace monarch::vmm::boot

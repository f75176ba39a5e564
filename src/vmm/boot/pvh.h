// SPDX-License-Identifier: Apache-2.0
// The PVH boot information: hvm_start_info version 1, its memory map and module list (Xen
// public/arch-x86/hvm/start_info.h), written at the addresses of layout.h and boot_layout.h.
#pragma once

#include "common/result.h"
#include "vmm/boot/boot_loader.h"

#include <optional>
#include <vector>

namespace monarch::vmm::boot {

inline constexpr uint32_t XEN_HVM_START_MAGIC_VALUE = 0x336ec578; // "xEn3" with 0x80 set in 'E'

struct HvmStartInfo {
    uint32_t magic;
    uint32_t version;        // 1: memmap_paddr and memmap_entries are present
    uint32_t flags;          // SIF_xxx: none for an unprivileged HVM guest
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;  // NUL-terminated; 0 = none
    uint64_t rsdp_paddr;     // 0 = none (the kernel then scans the BIOS area)
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(HvmStartInfo) == 56);

struct HvmModlistEntry {
    uint64_t paddr;
    uint64_t size;
    uint64_t cmdline_paddr;
    uint64_t reserved;
};
static_assert(sizeof(HvmModlistEntry) == 32);

struct HvmMemmapEntry {
    uint64_t addr;
    uint64_t size;
    uint32_t type; // the e820 types
    uint32_t reserved;
};
static_assert(sizeof(HvmMemmapEntry) == 24);

struct PvhBootData {
    std::optional<GuestPhysAddr> cmdline;
    std::optional<LoadedRegion> initrd;
    std::optional<GuestPhysAddr> rsdp;
};

// Writes the start info at PVH_START_INFO_START, build_e820's map at PVH_MEMMAP_START and, when
// there is an initrd, one module at PVH_MODLIST_START. Returns the start info's address.
[[nodiscard]] Result<GuestPhysAddr> write_pvh_start_info(GuestMemory& memory, PvhBootData const& data,
    std::vector<LoadedRegion>& loaded);

} // namespace monarch::vmm::boot

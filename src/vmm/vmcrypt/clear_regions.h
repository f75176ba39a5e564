// SPDX-License-Identifier: Apache-2.0
// ClearRegions: the guest-physical ranges whose contents the management plane supplied itself
// (kernel, initrd, command line, boot information, firmware tables), as the VMM loaded them.
// They are reported by name and size; their bytes are never handed out again (docs/vmcrypt.md).
#pragma once

#include "common/strong_int.h"
#include "vmm/boot/boot_loader.h"

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::vmcrypt {

struct ClearRegion {
    std::string_view name; // a static literal: "kernel", "initrd", "cmdline", "firmware tables", ...
    GuestPhysAddr base;
    uint64_t size { 0 };
    [[nodiscard]] uint64_t end() const { return base.raw() + size; } // exclusive
};

class ClearRegions {
public:
    ClearRegions() = default;
    // From what the VMM recorded while building (Vmm::supplied_regions()). Empty regions are
    // dropped; the list is sorted by address. Overlaps are kept as given (they are reported,
    // not merged, so that each name keeps its size).
    explicit ClearRegions(std::span<boot::LoadedRegion const> loaded);

    [[nodiscard]] std::span<ClearRegion const> list() const { return m_regions; }
    [[nodiscard]] uint64_t total_size() const;
    // True when the 4 KiB page at `page` lies wholly inside one region.
    [[nodiscard]] bool page_is_clear(GuestPhysAddr page) const;

private:
    std::vector<ClearRegion> m_regions;
};

// What VmBuilder records, in the order it loads things: the firmware-table windows, then
// every region the kernel loader reports. Tests call this on the same results.
[[nodiscard]] std::vector<boot::LoadedRegion> supplied_regions(
    std::span<std::pair<GuestPhysAddr, uint64_t> const> firmware_windows, std::span<boot::LoadedRegion const> boot_loaded);

} // namespace monarch::vmm::vmcrypt

// SPDX-License-Identifier: Apache-2.0
// The pieces both boot protocols pass the same way: the command line (NUL-terminated at
// CMDLINE_START) and the initrd (page-aligned, as high as allowed in the RAM below the hole).
#pragma once

#include "common/result.h"
#include "vmm/boot/boot_loader.h"

#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::boot {

// Writes `cmdline` and its NUL at CMDLINE_START. InvalidArgument if it holds a NUL, is longer
// than `kernel_limit` bytes (the kernel's cmdline_size, without the NUL) or does not fit in
// CMDLINE_MAX_SIZE.
[[nodiscard]] Result<GuestPhysAddr> write_cmdline(GuestMemory& memory, std::string_view cmdline,
    uint64_t kernel_limit, std::vector<LoadedRegion>& loaded);

// Where an initrd of `size` bytes goes: the highest page-aligned address in the RAM range that
// holds HIGH_RAM_START such that it ends at or below `limit` (exclusive) and starts at or above
// `lowest` (the end of the kernel). OutOfRange with `why_not` (a static literal) otherwise.
[[nodiscard]] Result<GuestPhysAddr> place_initrd(GuestMemory const& memory, uint64_t size, uint64_t lowest,
    uint64_t limit, std::string_view why_not);

// place_initrd, then the copy. Appends the "initrd" region and returns it.
[[nodiscard]] Result<LoadedRegion> load_initrd(GuestMemory& memory, std::span<std::byte const> initrd,
    uint64_t lowest, uint64_t limit, std::string_view why_not, std::vector<LoadedRegion>& loaded);

} // namespace monarch::vmm::boot

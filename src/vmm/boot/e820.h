// SPDX-License-Identifier: Apache-2.0
// The guest's e820 memory map, built from the RAM ranges and layout.h. The bzImage loader
// (boot_params.e820_table) and the PVH loader (hvm_memmap_table_entry[]) both use it, so the
// two boot paths report the same map.
#pragma once

#include "vmm/memory/guest_memory.h"

#include <cstdint>
#include <vector>

namespace monarch::vmm::boot {

// ACPI spec, "Address Range Types" (the e820 types Linux and Xen's hvm_memmap use alike).
inline constexpr uint32_t E820_RAM = 1;
inline constexpr uint32_t E820_RESERVED = 2;
inline constexpr uint32_t E820_ACPI = 3;

struct E820Entry {
    uint64_t addr { 0 };
    uint64_t size { 0 };
    uint32_t type { 0 };
    friend bool operator==(E820Entry const&, E820Entry const&) = default;
};

// RAM [0, EBDA_START), reserved [EBDA_START, LOW_RAM_END), reserved
// [ACPI_TABLES_START, ACPI_TABLES_END), then every RAM range from HIGH_RAM_START up (the RAM
// below the MMIO hole, and the RAM above 4 GiB), sorted by address.
[[nodiscard]] std::vector<E820Entry> build_e820(GuestMemory const& memory);

} // namespace monarch::vmm::boot

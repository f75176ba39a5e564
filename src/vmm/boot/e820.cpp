// SPDX-License-Identifier: Apache-2.0
// build_e820: the guest's memory map from its RAM ranges and the fixed low-memory layout.
#include "vmm/boot/e820.h"

#include "vmm/memory/layout.h"

#include <algorithm>

namespace monarch::vmm::boot {

namespace {

// Appends the part of every RAM range that lies inside [first, last) as usable RAM.
void add_ram_clipped(std::vector<E820Entry>& map, GuestMemory const& memory, uint64_t first, uint64_t last)
{
    for (auto const& range : memory.ranges()) {
        uint64_t begin = std::max(range.base.raw(), first);
        uint64_t end = std::min(range.end(), last);
        if (begin < end)
            map.push_back({ begin, end - begin, E820_RAM });
    }
}

// Adjacent RAM ranges of the provider (a low range split in two, say) become one entry.
std::vector<E820Entry> merge_adjacent(std::vector<E820Entry> const& sorted)
{
    std::vector<E820Entry> merged;
    for (auto const& entry : sorted) {
        if (!merged.empty()) {
            auto& last = merged.back();
            if (last.type == entry.type && last.addr + last.size == entry.addr) {
                last.size += entry.size;
                continue;
            }
        }
        merged.push_back(entry);
    }
    return merged;
}

} // namespace

std::vector<E820Entry> build_e820(GuestMemory const& memory)
{
    using namespace layout;
    std::vector<E820Entry> map;
    // Conventional memory below the EBDA (boot structures, command line, trampolines).
    add_ram_clipped(map, memory, 0, EBDA_START);
    // The EBDA holds the MP tables; the BIOS area holds the RSDP and the ACPI tables. Both are
    // reserved so that the kernel neither allocates them nor stops finding the tables.
    map.push_back({ EBDA_START, LOW_RAM_END - EBDA_START, E820_RESERVED });
    map.push_back({ ACPI_TABLES_START, ACPI_TABLES_END - ACPI_TABLES_START, E820_RESERVED });
    // Everything from 1 MiB up: the RAM below the MMIO hole and the RAM above 4 GiB.
    add_ram_clipped(map, memory, HIGH_RAM_START, UINT64_MAX);
    std::ranges::sort(map, {}, &E820Entry::addr);
    return merge_adjacent(map);
}

} // namespace monarch::vmm::boot

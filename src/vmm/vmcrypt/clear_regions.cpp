// SPDX-License-Identifier: Apache-2.0
// The clear-region registry: building it from the loader's records and classifying pages.
#include "vmm/vmcrypt/clear_regions.h"

#include <algorithm>

namespace monarch::vmm::vmcrypt {

namespace {
constexpr uint64_t PAGE_SIZE = 4096;
}

ClearRegions::ClearRegions(std::span<boot::LoadedRegion const> loaded)
{
    for (auto const& region : loaded) {
        if (region.size == 0)
            continue;
        // A region that wraps the address space cannot be a loaded one: clamp it to the top.
        uint64_t const room = UINT64_MAX - region.base.raw();
        m_regions.push_back({ region.what, region.base, std::min(region.size, room) });
    }
    std::stable_sort(m_regions.begin(), m_regions.end(),
        [](ClearRegion const& a, ClearRegion const& b) { return a.base < b.base; });
}

uint64_t ClearRegions::total_size() const
{
    uint64_t total = 0;
    for (auto const& region : m_regions)
        total += region.size;
    return total;
}

bool ClearRegions::page_is_clear(GuestPhysAddr page) const
{
    uint64_t const start = page.raw();
    if (start > UINT64_MAX - PAGE_SIZE)
        return false;
    return std::ranges::any_of(m_regions, [&](ClearRegion const& region) {
        return start >= region.base.raw() && start + PAGE_SIZE <= region.end();
    });
}

std::vector<boot::LoadedRegion> supplied_regions(
    std::span<std::pair<GuestPhysAddr, uint64_t> const> firmware_windows, std::span<boot::LoadedRegion const> boot_loaded)
{
    std::vector<boot::LoadedRegion> regions;
    for (auto const& [base, size] : firmware_windows)
        regions.push_back({ base, size, "firmware tables" });
    regions.insert(regions.end(), boot_loaded.begin(), boot_loaded.end());
    return regions;
}

} // namespace monarch::vmm::vmcrypt

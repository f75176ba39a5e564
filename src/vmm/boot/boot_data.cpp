// SPDX-License-Identifier: Apache-2.0
// Command line and initrd placement, shared by the PVH and the bzImage paths.
#include "vmm/boot/boot_data.h"

#include "vmm/boot/boot_layout.h"
#include "common/byte_access.h"
#include "vmm/memory/layout.h"

#include <algorithm>

namespace monarch::vmm::boot {

Result<GuestPhysAddr> write_cmdline(GuestMemory& memory, std::string_view cmdline, uint64_t kernel_limit,
    std::vector<LoadedRegion>& loaded)
{
    if (cmdline.find('\0') != std::string_view::npos)
        return fail(Errc::InvalidArgument, "command line contains a NUL byte");
    if (cmdline.size() >= layout::CMDLINE_MAX_SIZE)
        return fail(Errc::InvalidArgument, "command line longer than the VMM's command line area (64 KiB)");
    if (cmdline.size() > kernel_limit)
        return fail(Errc::InvalidArgument, "command line longer than the kernel accepts (cmdline_size)");
    GuestPhysAddr base { layout::CMDLINE_START };
    auto target = TRY(memory.span(base, cmdline.size() + 1));
    std::ranges::copy(std::as_bytes(std::span { cmdline }), target.begin());
    target.back() = std::byte { 0 };
    loaded.push_back({ base, target.size(), "cmdline" });
    return base;
}

Result<GuestPhysAddr> place_initrd(GuestMemory const& memory, uint64_t size, uint64_t lowest, uint64_t limit,
    std::string_view why_not)
{
    auto ranges = memory.ranges();
    auto low = std::ranges::find_if(ranges, [](GuestRamRange const& range) {
        return range.base.raw() <= layout::HIGH_RAM_START && layout::HIGH_RAM_START < range.end();
    });
    if (low == ranges.end())
        return fail(Errc::OutOfRange, "initrd: no RAM at 1 MiB");
    uint64_t top = std::min(low->end(), limit);
    uint64_t bottom = std::max(align_up(lowest, INITRD_ALIGNMENT), low->base.raw());
    if (size > top || align_down(top - size, INITRD_ALIGNMENT) < bottom)
        return fail(Errc::OutOfRange, why_not);
    return GuestPhysAddr { align_down(top - size, INITRD_ALIGNMENT) };
}

Result<LoadedRegion> load_initrd(GuestMemory& memory, std::span<std::byte const> initrd, uint64_t lowest,
    uint64_t limit, std::string_view why_not, std::vector<LoadedRegion>& loaded)
{
    auto base = TRY(place_initrd(memory, initrd.size(), lowest, limit, why_not));
    TRY_VOID(memory.write(base, initrd));
    LoadedRegion region { base, initrd.size(), "initrd" };
    loaded.push_back(region);
    return region;
}

} // namespace monarch::vmm::boot

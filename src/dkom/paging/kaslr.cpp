// SPDX-License-Identifier: Apache-2.0
// The candidate scan described in kaslr.h. A read of a non-present candidate costs at most
// five page-table reads, so the whole scan reads a few thousand words of guest memory.
#include "dkom/paging/kaslr.h"

#include <algorithm>
#include <vector>

namespace monarch::dkom {

Result<KernelSlide> find_kernel_slide(PageWalker const& walker, AddressSpace const& kernel_space,
    uint64_t anchor_link_address, std::span<std::byte const> anchor_bytes)
{
    if (anchor_bytes.empty() || anchor_bytes.size() > 4096)
        return fail(Errc::InvalidArgument, "KASLR anchor: bad length");
    if (anchor_link_address < kernel_image_window_start || anchor_link_address >= kernel_image_window_end)
        return fail(Errc::InvalidArgument, "KASLR anchor: link address outside the kernel image window");
    std::vector<std::byte> seen(anchor_bytes.size());
    for (uint64_t slide = 0; anchor_link_address + slide + anchor_bytes.size() <= kernel_image_window_end; slide += kaslr_alignment) {
        GuestVirtAddr const candidate { anchor_link_address + slide };
        if (!walker.read_virtual(kernel_space, candidate, seen))
            continue;
        if (!std::ranges::equal(seen, anchor_bytes))
            continue;
        auto const hit = TRY(walker.translate(kernel_space, candidate));
        return KernelSlide { static_cast<int64_t>(slide), hit.gpa };
    }
    return fail(Errc::NotFound, "KASLR: kernel image not found (profile does not match this guest?)");
}

} // namespace monarch::dkom

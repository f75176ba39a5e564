// SPDX-License-Identifier: Apache-2.0
#include "vmm/memory/guest_memory_mmap.h"

#include "vmm/memory/layout.h"
#include "vmm/memory/memory_size.h"

#include <algorithm>
#include <sys/mman.h>
#include <unistd.h>

namespace monarch::vmm {

GuestMemoryMmap::Split GuestMemoryMmap::split_around_hole(uint64_t size)
{
    Split split;
    uint64_t low = std::min(size, layout::MMIO_HOLE_START);
    if (low > 0)
        split.ranges[split.count++] = GuestRamRange { GuestPhysAddr { 0 }, low };
    if (size > low)
        split.ranges[split.count++] = GuestRamRange { GuestPhysAddr { layout::RAM_ABOVE_4G_START }, size - low };
    return split;
}

Result<GuestMemoryMmap> GuestMemoryMmap::create(uint64_t size, uint64_t host_total)
{
    TRY_VOID(check_guest_memory_size(size, host_total));
    // memfd_create(2): anonymous shmem with a name (shows in /proc/PID/maps); no reservation is
    // charged until pages are touched, so a large guest costs nothing up front.
    UniqueFd memfd { ::memfd_create("monarch-guest-ram", MFD_CLOEXEC) };
    if (!memfd)
        return fail_errno("memfd_create");
    if (::ftruncate(memfd.get(), static_cast<off_t>(size)) < 0)
        return fail_errno("ftruncate guest memory");
    auto mapping = TRY(Mapping::map_shared(memfd.get(), size));
    // Guest RAM (and with it any key material a guest holds) never lands in a core file.
    // SAFETY: advice on a mapping we own and that covers exactly these bytes.
    if (::madvise(mapping.data(), mapping.size(), MADV_DONTDUMP) < 0)
        return fail_errno("madvise(MADV_DONTDUMP) guest memory");
    return GuestMemoryMmap { std::move(memfd), std::move(mapping), split_around_hole(size) };
}

GuestMemoryMmap::GuestMemoryMmap(UniqueFd memfd, Mapping mapping, Split split)
    : m_memfd(std::move(memfd))
    , m_mapping(std::move(mapping))
    , m_ranges(split.ranges)
    , m_count(split.count)
{
    uint64_t offset = 0;
    for (size_t i = 0; i < m_count; ++i) {
        m_regions[i] = GuestMemoryRegion { m_ranges[i], offset, m_mapping.bytes().data() + offset };
        m_dirty[i] = DirtyBitmap(m_ranges[i].size / DIRTY_PAGE_SIZE);
        offset += m_ranges[i].size;
    }
}

Result<std::span<std::byte>> GuestMemoryMmap::span(GuestPhysAddr gpa, uint64_t length)
{
    auto hit = TRY(find_range(ranges(), gpa, length));
    m_dirty[hit.index].mark_bytes(hit.offset, length);
    return std::span<std::byte>(m_regions[hit.index].host + hit.offset, length);
}

Result<std::span<std::byte>> UntrackedGuestMemory::span(GuestPhysAddr gpa, uint64_t length)
{
    auto hit = TRY(find_range(ranges(), gpa, length));
    return std::span<std::byte>(m_memory.regions()[hit.index].host + hit.offset, length);
}

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// GuestMemoryMmap: guest RAM in one memfd ("monarch-guest-ram"), mapped once, shared, and cut
// into RAM ranges around the MMIO hole. The memfd is exposed so that snapshots and sealed views
// (VMCrypt) can map the same pages; each range becomes one KVM memory slot.
#pragma once

#include "common/mapping.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/memory/guest_memory.h"

#include <array>
#include <cstdint>
#include <span>

namespace monarch::vmm {

// One RAM range with where it lives in the memfd and in this process.
struct GuestMemoryRegion {
    GuestRamRange range;
    uint64_t memfd_offset { 0 };
    std::byte* host { nullptr };
};

class GuestMemoryMmap final : public GuestMemory {
public:
    // `size` bytes of RAM: [0, min(size, MMIO_HOLE_START)) and the rest from RAM_ABOVE_4G_START.
    // The size is checked with check_guest_memory_size(size, host_total) first (host_total 0:
    // not compared). memfd pages are charged only when touched (memfd_create sets VM_NORESERVE
    // and a shared mapping is not committed), so a large guest costs nothing up front. The
    // mapping is excluded from core dumps.
    [[nodiscard]] static Result<GuestMemoryMmap> create(uint64_t size, uint64_t host_total);

    GuestMemoryMmap(GuestMemoryMmap&&) = default;
    GuestMemoryMmap& operator=(GuestMemoryMmap&&) = default;

    [[nodiscard]] std::span<GuestRamRange const> ranges() const override { return { m_ranges.data(), m_count }; }
    [[nodiscard]] Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) override;

    // For KVM memory slots and for later views of the same pages.
    [[nodiscard]] std::span<GuestMemoryRegion const> regions() const { return { m_regions.data(), m_count }; }
    [[nodiscard]] int memfd() const { return m_memfd.get(); }

    // Where `size` bytes of RAM go in the guest-physical map (pure; tested on its own).
    struct Split {
        std::array<GuestRamRange, 2> ranges {};
        size_t count { 0 };
    };
    [[nodiscard]] static Split split_around_hole(uint64_t size);

private:
    GuestMemoryMmap(UniqueFd memfd, Mapping mapping, Split split);

    UniqueFd m_memfd;
    Mapping m_mapping;
    std::array<GuestRamRange, 2> m_ranges {};
    std::array<GuestMemoryRegion, 2> m_regions {};
    size_t m_count { 0 };
};

} // namespace monarch::vmm

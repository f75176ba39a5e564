// SPDX-License-Identifier: Apache-2.0
// GuestMemoryMmap: guest RAM in one memfd ("monarch-guest-ram"), mapped once, shared, and cut
// into RAM ranges around the MMIO hole. The memfd is exposed so that snapshots and sealed views
// (VMCrypt) can map the same pages; each range becomes one KVM memory slot. Every span handed
// out marks its pages in the range's DirtyBitmap (incremental snapshots).
#pragma once

#include "common/mapping.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/memory/dirty_bitmap.h"
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
    // Marks the pages of the span dirty (see dirty()).
    [[nodiscard]] Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) override;

    // One DirtyBitmap per RAM range (index as ranges()): the pages this process may have
    // written since the last clear. Every access by the VMM itself (virtio devices filling
    // buffers and used rings, boot loaders, restores) goes through span(), which is the one
    // way to a writable pointer into guest RAM, so marking there cannot miss a VMM write; it
    // also marks pages the VMM only read this way (descriptor tables), which costs a
    // few extra pages in an increment, never a lost one. The guest's own writes are in KVM's
    // dirty log instead (KVM_MEM_LOG_DIRTY_PAGES), merged in with DirtyBitmap::merge_words.
    [[nodiscard]] std::span<DirtyBitmap> dirty() { return { m_dirty.data(), m_count }; }

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
    std::array<DirtyBitmap, 2> m_dirty {};
    size_t m_count { 0 };
};

// The RAM of a GuestMemoryMmap without dirty marking: for code that only reads it (the
// snapshot writer, sealed views), so that sealing every page does not make every page dirty
// for the next incremental snapshot. Valid while the GuestMemoryMmap lives and is not moved.
class UntrackedGuestMemory final : public GuestMemory {
public:
    explicit UntrackedGuestMemory(GuestMemoryMmap& memory) : m_memory(memory) {}
    [[nodiscard]] std::span<GuestRamRange const> ranges() const override { return m_memory.ranges(); }
    [[nodiscard]] Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) override;

private:
    GuestMemoryMmap& m_memory;
};

} // namespace monarch::vmm

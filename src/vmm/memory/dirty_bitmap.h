// SPDX-License-Identifier: Apache-2.0
// DirtyBitmap: one bit per 4 KiB page of a RAM range, set by whoever wrote the page (the VMM's
// own writes through GuestMemoryMmap, and KVM's dirty log merged in), read and cleared when an
// incremental snapshot is written.
#pragma once

#include "common/result.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

namespace monarch::vmm {

inline constexpr uint64_t DIRTY_PAGE_SIZE = 4096;

// A run of dirty pages, in page numbers relative to the bitmap's range.
struct DirtyRun {
    uint64_t first { 0 };
    uint64_t count { 0 };
};

class DirtyBitmap {
public:
    DirtyBitmap() = default;
    explicit DirtyBitmap(uint64_t pages);

    DirtyBitmap(DirtyBitmap&&) = default;
    DirtyBitmap& operator=(DirtyBitmap&&) = default;

    [[nodiscard]] uint64_t pages() const { return m_pages; }
    // The number of u64 words KVM_GET_DIRTY_LOG fills for this many pages.
    [[nodiscard]] uint64_t words() const { return (m_pages + 63) / 64; }

    // Marks the pages that bytes [offset, offset + length) of the range touch. Safe from any
    // thread at once (vCPU threads and the event loop write guest memory concurrently): each
    // word is set with an atomic OR. Bytes past the end are ignored (the caller checked them).
    void mark_bytes(uint64_t offset, uint64_t length);
    void mark_pages(uint64_t first, uint64_t count);
    // ORs in KVM's dirty log for the slot of this range (api.rst 4.8: bit i of the log is page
    // i of the slot, little-endian u64 words). InvalidArgument when the sizes differ, or a bit
    // past the last page is set.
    [[nodiscard]] Result<void> merge_words(std::span<uint64_t const> log);

    [[nodiscard]] bool test(uint64_t page) const;
    [[nodiscard]] uint64_t count() const;
    // The dirty pages as maximal runs, lowest first.
    [[nodiscard]] std::vector<DirtyRun> runs() const;
    // runs() and clear() at once, word by word with an atomic exchange: a page marked while
    // this runs is either in the result or still marked afterwards, never lost.
    [[nodiscard]] std::vector<DirtyRun> take_runs();
    // Forgets every mark.
    void clear();

private:
    std::unique_ptr<std::atomic<uint64_t>[]> m_words;
    uint64_t m_pages { 0 };
};

} // namespace monarch::vmm

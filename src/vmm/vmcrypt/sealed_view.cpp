// SPDX-License-Identifier: Apache-2.0
// Sealed views: which pages a range covers, and sealing them into a stream.
#include "vmm/vmcrypt/sealed_view.h"

#include "common/byte_access.h"

#include <algorithm>
#include <cstdio>
#include <string>

namespace monarch::vmm::vmcrypt {

Progress stderr_progress(std::string_view label)
{
    return [label = std::string(label), last = -1](uint64_t done, uint64_t total) mutable {
        if (total == 0)
            return;
        int const tenth = static_cast<int>(done * 10 / total);
        if (tenth == last)
            return;
        last = tenth;
        std::fprintf(stderr, "%s: %d %% (%llu/%llu MiB)\n", label.c_str(), tenth * 10,
            static_cast<unsigned long long>(done * PAGE_SIZE >> 20), static_cast<unsigned long long>(total * PAGE_SIZE >> 20));
    };
}

Result<std::vector<GuestRamRange>> view_pieces(GuestMemory const& memory, std::optional<ViewRange> range)
{
    uint64_t first = 0;
    uint64_t last = UINT64_MAX; // exclusive, page aligned below
    if (range) {
        if (range->length == 0)
            return fail(Errc::OutOfRange, "memory view: empty range");
        uint64_t end = 0;
        if (__builtin_add_overflow(range->gpa.raw(), range->length, &end) || end > UINT64_MAX - PAGE_SIZE)
            return fail(Errc::OutOfRange, "memory view: range overflows");
        first = align_down(range->gpa.raw(), PAGE_SIZE);
        last = align_up(end, PAGE_SIZE);
    }
    std::vector<GuestRamRange> pieces;
    for (auto const& ram : memory.ranges()) {
        uint64_t const start = std::max(first, align_up(ram.base.raw(), PAGE_SIZE));
        uint64_t const stop = std::min(last, align_down(ram.end(), PAGE_SIZE));
        if (start < stop)
            pieces.push_back({ GuestPhysAddr { start }, stop - start });
    }
    if (pieces.empty())
        return fail(Errc::OutOfRange, "memory view: the range holds no guest RAM");
    return pieces;
}

Result<uint64_t> append_memory(GuestMemory& memory, std::span<GuestRamRange const> pieces, crypt::StreamWriter& writer,
    Progress const& progress)
{
    uint64_t total = 0;
    for (auto const& piece : pieces)
        total += piece.size / PAGE_SIZE;
    // One record's worth at a time, so that progress moves and the host view is short-lived.
    constexpr uint64_t chunk = crypt::format::max_pages_per_record * PAGE_SIZE;
    uint64_t done = 0;
    for (auto const& piece : pieces) {
        for (uint64_t offset = 0; offset < piece.size; offset += chunk) {
            uint64_t const length = std::min(chunk, piece.size - offset);
            GuestPhysAddr const gpa { piece.base.raw() + offset };
            auto pages = TRY(memory.span(gpa, length));
            TRY_VOID(writer.append_pages(gpa, pages));
            done += length / PAGE_SIZE;
            if (progress)
                progress(done, total);
        }
    }
    return done;
}

Result<std::vector<std::byte>> seal_memory_view(GuestMemory& memory, VmSealing& sealing, std::optional<ViewRange> range)
{
    auto pieces = TRY(view_pieces(memory, range));
    std::vector<std::byte> out;
    auto sink = [&out](std::span<std::byte const> bytes) -> Result<void> {
        out.insert(out.end(), bytes.begin(), bytes.end());
        return {};
    };
    auto writer = TRY(crypt::StreamWriter::create(sink, sealing.keys(), sealing.next_generation()));
    TRY(append_memory(memory, pieces, writer));
    TRY_VOID(writer.finish());
    return out;
}

} // namespace monarch::vmm::vmcrypt

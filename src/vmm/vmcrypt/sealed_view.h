// SPDX-License-Identifier: Apache-2.0
// Sealed views of guest memory: the only way guest RAM leaves monarch-vmm for the management
// plane. Every RAM page of the requested range goes into a crypt::StreamWriter, pages inside
// clear regions included: the clear part of a view is the ClearRegions list alone.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "crypt/stream_writer.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace monarch::vmm::vmcrypt {

inline constexpr uint64_t PAGE_SIZE = 4096;

// A byte range of guest-physical memory; widened to whole pages before sealing.
struct ViewRange {
    GuestPhysAddr gpa;
    uint64_t length { 0 };
};

// Called with the pages sealed so far and the total, after every record.
using Progress = std::function<void(uint64_t done_pages, uint64_t total_pages)>;

// A Progress that prints "LABEL: N % (done/total MiB)" to stderr at every 10 %.
[[nodiscard]] Progress stderr_progress(std::string_view label);

// The RAM pages of `range` (all RAM when absent), as page-aligned pieces each inside one RAM
// range. OutOfRange when the range is empty, overflows, or holds no RAM at all.
[[nodiscard]] Result<std::vector<GuestRamRange>> view_pieces(GuestMemory const&, std::optional<ViewRange> range);

// Appends the pages of `pieces` to `writer` (records of at most 256 pages). Returns the
// number of pages written.
[[nodiscard]] Result<uint64_t> append_memory(GuestMemory&, std::span<GuestRamRange const> pieces,
    crypt::StreamWriter& writer, Progress const& progress = {});

// A whole sealed stream (header, the pages, end record) of `range` under the next generation
// of `sealing`, in memory: what GET /api/v1/monarch/memory returns.
[[nodiscard]] Result<std::vector<std::byte>> seal_memory_view(GuestMemory&, VmSealing&, std::optional<ViewRange> range);

} // namespace monarch::vmm::vmcrypt

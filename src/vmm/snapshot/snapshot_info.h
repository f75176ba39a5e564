// SPDX-License-Identifier: Apache-2.0
// The "snapshot.info" record (kind "SNAP"): the RAM ranges the snapshot covers and its vCPU
// count, checked on restore before any page is written. Version 1: a full snapshot. Version 2
// adds the parent (its stream id and generation) of an incremental snapshot, sealed with the
// rest so that the chain of increments is authenticated; a full snapshot is still written as
// version 1 (older readers refuse version 2 as an unknown version rather than misread it).
#pragma once

#include "common/result.h"
#include "crypt/types.h"
#include "vmm/memory/guest_memory.h"

#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

// The snapshot an increment's pages apply on top of.
struct ParentRef {
    crypt::StreamId stream;
    crypt::Generation generation;
    auto operator<=>(ParentRef const&) const = default;
};

struct SnapshotInfo {
    std::vector<GuestRamRange> ram;
    uint32_t vcpu_count { 0 };
    std::optional<ParentRef> parent; // set: an incremental snapshot (version 2)
};

[[nodiscard]] std::vector<std::byte> encode_info(SnapshotInfo const&);
[[nodiscard]] Result<SnapshotInfo> decode_info(std::span<std::byte const>);

} // namespace monarch::vmm::snapshot

// SPDX-License-Identifier: Apache-2.0
// The "snapshot.info" record (kind "SNAP", version 1): the RAM ranges the snapshot covers and
// its vCPU count, checked on restore before any page is written.
#pragma once

#include "common/result.h"
#include "vmm/memory/guest_memory.h"

#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

struct SnapshotInfo {
    std::vector<GuestRamRange> ram;
    uint32_t vcpu_count { 0 };
};

[[nodiscard]] std::vector<std::byte> encode_info(SnapshotInfo const&);
[[nodiscard]] Result<SnapshotInfo> decode_info(std::span<std::byte const>);

} // namespace monarch::vmm::snapshot

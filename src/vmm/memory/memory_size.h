// SPDX-License-Identifier: Apache-2.0
// Guest RAM size policy: the smallest and largest sizes monarch-vmm accepts, and the host's
// total memory to compare with. Kept apart from the provider so the CLI can check a size
// (and name both numbers) before anything is allocated.
#pragma once

#include "common/result.h"
#include "vmm/memory/layout.h"

#include <cstdint>

namespace monarch::vmm {

// Below 16 MiB neither testos (page tables, stacks, tasks) nor a Linux kernel plus the
// low-memory boot structures fit; documented in docs/monarch-vmm.md.
inline constexpr uint64_t GUEST_MEMORY_MIN = 16 * layout::MiB;
inline constexpr uint64_t GUEST_MEMORY_ALIGNMENT = 4 * layout::KiB;

// Checks a requested guest RAM size: 0, below GUEST_MEMORY_MIN or not a multiple of 4 KiB is
// InvalidArgument; more than `host_total` (bytes; 0 = unknown, not checked) is OutOfRange.
[[nodiscard]] Result<void> check_guest_memory_size(uint64_t size, uint64_t host_total);

// MemTotal from /proc/meminfo, in bytes.
[[nodiscard]] Result<uint64_t> host_memory_total();

} // namespace monarch::vmm

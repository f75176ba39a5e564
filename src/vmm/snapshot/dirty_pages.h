// SPDX-License-Identifier: Apache-2.0
// The pages an incremental snapshot takes: the VMM's own writes (GuestMemoryMmap's dirty
// bitmaps) and the guest's (KVM's dirty log of each memory slot), merged and taken at once.
#pragma once

#include "common/result.h"
#include "vmm/kvm/vm_fd.h"
#include "vmm/memory/guest_memory_mmap.h"

#include <vector>

namespace monarch::vmm::snapshot {

// Takes (and clears) the pages marked dirty in `memory`, as page-aligned pieces each inside
// one RAM range, lowest first: what write_incremental_snapshot writes.
[[nodiscard]] std::vector<GuestRamRange> take_dirty_pieces(GuestMemoryMmap& memory);

// Slot i of the VM is RAM range i of `memory` (VmBuilder::create_vm registers them so).
// Turns KVM's dirty logging on for every slot (KVM_MEM_LOG_DIRTY_PAGES), after a full
// snapshot; from then on the guest's writes are logged.
[[nodiscard]] Result<void> start_kvm_dirty_log(kvm::VmFd const&, GuestMemoryMmap& memory);
// Copies (and clears) KVM's log of every slot into `memory`'s dirty bitmaps; before
// take_dirty_pieces, with the vCPUs paused.
[[nodiscard]] Result<void> merge_kvm_dirty_log(kvm::VmFd const&, GuestMemoryMmap& memory);

} // namespace monarch::vmm::snapshot

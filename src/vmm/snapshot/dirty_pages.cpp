// SPDX-License-Identifier: Apache-2.0
// Dirty pages of guest RAM for incremental snapshots.
#include "vmm/snapshot/dirty_pages.h"

namespace monarch::vmm::snapshot {

std::vector<GuestRamRange> take_dirty_pieces(GuestMemoryMmap& memory)
{
    std::vector<GuestRamRange> pieces;
    auto dirty = memory.dirty();
    for (size_t i = 0; i < dirty.size(); ++i) {
        auto const base = memory.ranges()[i].base.raw();
        for (auto const& run : dirty[i].take_runs())
            pieces.push_back(GuestRamRange { GuestPhysAddr { base + run.first * DIRTY_PAGE_SIZE }, run.count * DIRTY_PAGE_SIZE });
    }
    return pieces;
}

Result<void> start_kvm_dirty_log(kvm::VmFd const& vm, GuestMemoryMmap& memory)
{
    uint32_t slot = 0;
    for (auto const& region : memory.regions())
        TRY_VOID(vm.set_user_memory_region(MemSlot { slot++ }, region.range.base, region.range.size, region.host, true));
    // Whatever KVM logged before is already in the full snapshot: start from an empty log.
    for (slot = 0; slot < memory.regions().size(); ++slot)
        TRY(vm.get_dirty_log(MemSlot { slot }, memory.dirty()[slot].pages()));
    return {};
}

Result<void> merge_kvm_dirty_log(kvm::VmFd const& vm, GuestMemoryMmap& memory)
{
    auto dirty = memory.dirty();
    for (uint32_t slot = 0; slot < dirty.size(); ++slot) {
        auto log = TRY(vm.get_dirty_log(MemSlot { slot }, dirty[slot].pages()));
        TRY_VOID(dirty[slot].merge_words(log));
    }
    return {};
}

} // namespace monarch::vmm::snapshot

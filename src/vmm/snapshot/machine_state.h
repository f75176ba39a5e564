// SPDX-License-Identifier: Apache-2.0
// The VM's state besides RAM, as the named records of a snapshot: every vCPU ("vcpu0"...),
// the VM-wide KVM state, the legacy devices ("uart.com1"...) and the virtio devices
// ("virtio.<slot>", VirtioWiring::save_state). What vm.snapshot seals and a restore applies.
#pragma once

#include "common/named_state.h"
#include "common/result.h"
#include "vmm/machine/vmm.h"

#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

// Every record of the VM. The vCPUs must be paused (Vmm::pause() returned) and the devices
// quiesced; fails rather than return a partial set.
[[nodiscard]] Result<std::vector<NamedState>> capture_machine_state(machine::Vmm&);

// Writes `records` into a VM built from the snapshot's config whose vCPUs have not started.
// A record that is missing, unknown or undecodable refuses the whole restore (Errc::Corrupt),
// naming the record; nothing of the VM may run after a failure.
[[nodiscard]] Result<void> apply_machine_state(machine::Vmm&, std::span<NamedState const> records);

} // namespace monarch::vmm::snapshot

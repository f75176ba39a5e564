// SPDX-License-Identifier: Apache-2.0
// What the VM does when its guest reports on the pvpanic device (devices/pci/pvpanic.h), as
// QEMU reacts to pvpanic events: a panic ends the VM with exit_status::GuestPanicked through the
// ExitLatch, before the guest's own panic= timer can reset it; a loaded crash kernel is logged
// and the VM keeps running, since that kernel (kdump) takes over.
#pragma once

#include "vmm/devices/pci/pvpanic.h"
#include "vmm/machine/exit_latch.h"

namespace monarch::vmm::machine {

// The callbacks to give the device. `exit` outlives it (the Vmm owns both).
[[nodiscard]] pci::PvPanic::Events pvpanic_events(ExitLatch& exit);

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// The GSI routing of the legacy interrupt lines over KVM's in-kernel PIC pair and IOAPIC, as
// the MADT and MP table announce it: ISA IRQ 0 (the PIT) reaches IOAPIC pin 2 (the interrupt
// source override every PC has), every other ISA IRQ its own pin, IRQ 2 is the PIC cascade.
#pragma once

#include "vmm/kvm/kvm_uapi.h"
#include <vector>

namespace monarch::vmm::machine {

inline constexpr unsigned IOAPIC_PINS = 24;

// GSI 0-15 to the PICs (master 0-7 except the cascade 2, slave 8-15), GSI 0 to IOAPIC pin 2
// and GSI 1-23 (except 2) to pin GSI. KVM's default table maps GSI 0 to pin 0, which disagrees
// with the override, so the VMM installs this one (as QEMU and kvmtool do).
[[nodiscard]] std::vector<kvm_irq_routing_entry> legacy_gsi_routing();

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// The VM-wide KVM state of a snapshot: the in-kernel irqchip (PIC master, PIC slave, IOAPIC;
// record "vm.irqchip", kind "IRQC"), the PIT ("vm.pit", kind "PIT2") and kvmclock ("vm.clock",
// kind "CLCK"), all version 1, encoded field by field (api.rst 4.26-4.27 KVM_GET/SET_IRQCHIP,
// 4.70-4.71 KVM_GET/SET_PIT2, 4.29-4.30 KVM_GET/SET_CLOCK).
#pragma once

#include "common/result.h"
#include "vmm/kvm/vm_fd.h"

#include "vmm/kvm/kvm_uapi.h"
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

struct IrqchipState {
    kvm_pic_state pic_master {};
    kvm_pic_state pic_slave {};
    kvm_ioapic_state ioapic {};
};

// Equal field by field (padding ignored); for PIT2, count_load_time is ignored too: it is
// the host time a count was loaded, and KVM_SET_PIT2 reloads every count at the time of the call.
[[nodiscard]] bool same_irqchip(IrqchipState const&, IrqchipState const&);
[[nodiscard]] bool same_pit(kvm_pit_state2 const&, kvm_pit_state2 const&);

// Decoders refuse (Errc::Corrupt) a wrong kind, an unknown version, short input, trailing
// bytes, an IOAPIC anywhere but layout::IOAPIC_START and flags KVM does not define.
[[nodiscard]] std::vector<std::byte> encode_irqchip(IrqchipState const&);
[[nodiscard]] Result<IrqchipState> decode_irqchip(std::span<std::byte const>);
[[nodiscard]] std::vector<std::byte> encode_pit(kvm_pit_state2 const&);
[[nodiscard]] Result<kvm_pit_state2> decode_pit(std::span<std::byte const>);
// The clock record keeps the guest's kvmclock and, for the record, the flags, host realtime and
// host TSC KVM_GET_CLOCK reported with it.
[[nodiscard]] std::vector<std::byte> encode_clock(kvm_clock_data const&);
[[nodiscard]] Result<kvm_clock_data> decode_clock(std::span<std::byte const>);

[[nodiscard]] Result<IrqchipState> capture_irqchip(kvm::VmFd const&);
[[nodiscard]] Result<void> apply_irqchip(kvm::VmFd const&, IrqchipState const&);
// KVM_SET_CLOCK of the saved kvmclock value with no flags: without KVM_CLOCK_REALTIME KVM does
// not advance the clock by the host time that passed since the save (api.rst, KVM_SET_CLOCK),
// so the guest's clock goes on from where it stopped, as its TSC does from the saved MSR.
[[nodiscard]] Result<void> apply_clock(kvm::VmFd const&, kvm_clock_data const&);

} // namespace monarch::vmm::snapshot

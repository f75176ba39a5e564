// SPDX-License-Identifier: Apache-2.0
// One vCPU's architectural state as KVM reports it (KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_FPU,
// KVM_GET_LAPIC, KVM_GET_MP_STATE; api.rst section 4), encoded field by field (kind "VCPU").
// FIXME: XSAVE, the MSR list (KVM_GET_MSR_INDEX_LIST), vcpu events and the VM's irqchip, PIT2
// and clock need kvm/ wrappers that do not exist yet (docs/vmcrypt.md, "Not done").
#pragma once

#include "common/result.h"
#include "vmm/kvm/vcpu_fd.h"

#include <linux/kvm.h>
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

struct VcpuState {
    kvm_regs regs {};
    kvm_sregs sregs {};
    kvm_fpu fpu {};
    kvm_lapic_state lapic {};
    kvm_mp_state mp_state {};
};

// Equal field by field (padding ignored).
[[nodiscard]] bool same_vcpu_state(VcpuState const&, VcpuState const&);

[[nodiscard]] std::vector<std::byte> encode_vcpu(VcpuState const&);
[[nodiscard]] Result<VcpuState> decode_vcpu(std::span<std::byte const>);

// Reads the state of a vCPU that is not in KVM_RUN (paused or not yet started).
[[nodiscard]] Result<VcpuState> capture_vcpu(kvm::VcpuFd const&);
// Writes regs, sregs, FPU and LAPIC back (MP state: FIXME, VcpuFd has no set_mp_state yet).
[[nodiscard]] Result<void> apply_vcpu(kvm::VcpuFd const&, VcpuState const&);

} // namespace monarch::vmm::snapshot

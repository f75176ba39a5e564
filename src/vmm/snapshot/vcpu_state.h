// SPDX-License-Identifier: Apache-2.0
// One vCPU's architectural state as KVM reports it (api.rst section 4: KVM_GET_REGS, _SREGS,
// _XSAVE/_XSAVE2 or _FPU, _XCRS, _LAPIC, _MSRS, _VCPU_EVENTS, _DEBUGREGS, _MP_STATE), encoded
// field by field (kind "VCPU", version 2), and captured and applied in the order KVM needs.
#pragma once

#include "common/result.h"
#include "vmm/kvm/vcpu_fd.h"

#include "vmm/kvm/kvm_uapi.h"
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

// Bounds a decoder enforces: KVM's largest XSAVE area is far below 1 MiB (AMX makes it about
// 11 KiB), and KVM lists a few hundred MSRs at most.
inline constexpr size_t MAX_XSAVE_SIZE = size_t { 1 } << 20;
inline constexpr size_t MAX_VCPU_MSRS = 2048;

struct VcpuState {
    kvm_regs regs {};
    kvm_sregs sregs {};
    // With KVM_CAP_XSAVE the x87/SSE/AVX state is the XSAVE area (KVM's layout, at least
    // sizeof(kvm_xsave) bytes) and `fpu` is not used; an empty `xsave` means `fpu` holds it.
    std::vector<std::byte> xsave;
    kvm_fpu fpu {};
    std::optional<kvm_xcrs> xcrs; // with KVM_CAP_XCRS
    kvm_lapic_state lapic {};
    std::vector<kvm_msr_entry> msrs; // distinct indices
    kvm_vcpu_events events {};
    kvm_debugregs debugregs {};
    kvm_mp_state mp_state {};
};

// Equal field by field (padding ignored).
[[nodiscard]] bool same_vcpu_state(VcpuState const&, VcpuState const&);

[[nodiscard]] std::vector<std::byte> encode_vcpu(VcpuState const&);
// Errc::Corrupt for a malformed record (sizes, counts, flags, MP state, duplicate MSRs);
// Errc::Unsupported for a version-1 record, which lacks XSAVE, MSRs and events and so cannot
// resume a guest.
[[nodiscard]] Result<VcpuState> decode_vcpu(std::span<std::byte const>);

// What to read, decided once per VM (machine_state.cpp): the XSAVE area size (0 without
// KVM_CAP_XSAVE: KVM_GET_FPU instead), whether KVM_CAP_XCRS is there, and the MSRs to try
// (msrs_to_save()).
struct VcpuCapture {
    size_t xsave_size { 0 };
    bool xcrs { false };
    std::span<uint32_t const> msrs;
};

// Reads the state of a vCPU that is not in KVM_RUN (paused or not yet started).
[[nodiscard]] Result<VcpuState> capture_vcpu(kvm::VcpuFd const&, VcpuCapture const&);
// Writes it all back into a vCPU that has not run, MP state last. `xsave_size` is the target
// VM's KVM_CAP_XSAVE2 size (0 when absent): KVM_SET_XSAVE reads that many bytes.
[[nodiscard]] Result<void> apply_vcpu(kvm::VcpuFd const&, VcpuState const&, size_t xsave_size);

} // namespace monarch::vmm::snapshot

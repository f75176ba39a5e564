// SPDX-License-Identifier: Apache-2.0
// Capturing and applying a vCPU's state through VcpuFd, in the order KVM's ioctls need.
#include "vmm/snapshot/msr_list.h"
#include "vmm/snapshot/vcpu_state.h"

#include <algorithm>

namespace monarch::vmm::snapshot {

namespace {

Result<void> set_msrs(kvm::VcpuFd const& vcpu, std::span<kvm_msr_entry const> msrs)
{
    // KVM_SET_MSRS takes fewer than MAX_IO_MSRS entries per call (x86.c, msr_io).
    for (size_t position = 0; position < msrs.size(); position += MAX_MSRS_PER_CALL)
        TRY_VOID(vcpu.set_msrs(msrs.subspan(position, std::min(MAX_MSRS_PER_CALL, msrs.size() - position))));
    return {};
}

Result<void> set_xsave(kvm::VcpuFd const& vcpu, std::span<std::byte const> area, size_t xsave_size)
{
    // KVM_SET_XSAVE copies as many bytes as the vCPU's XSAVE buffer has (KVM_CAP_XSAVE2's size,
    // api.rst): hand it at least that many. Components past the saved area are absent from its
    // XSTATE_BV header, so the zeros are never loaded as state.
    if (area.size() >= xsave_size)
        return vcpu.set_xsave(area);
    std::vector<std::byte> padded(xsave_size, std::byte { 0 });
    std::ranges::copy(area, padded.begin());
    return vcpu.set_xsave(padded);
}

} // namespace

Result<VcpuState> capture_vcpu(kvm::VcpuFd const& vcpu, VcpuCapture const& what)
{
    VcpuState state;
    // KVM_GET_MP_STATE first: it makes the LAPIC accept pending INIT/SIPI events
    // (kvm_apic_accept_events), which changes registers and LAPIC state read after it.
    // Firecracker's save_state orders it so for that reason.
    state.mp_state = TRY(vcpu.get_mp_state());
    state.regs = TRY(vcpu.get_regs());
    state.sregs = TRY(vcpu.get_sregs());
    if (what.xsave_size > 0)
        state.xsave = TRY(vcpu.get_xsave(what.xsave_size));
    else
        state.fpu = TRY(vcpu.get_fpu());
    if (what.xcrs)
        state.xcrs = TRY(vcpu.get_xcrs());
    state.debugregs = TRY(vcpu.get_debugregs());
    state.lapic = TRY(vcpu.get_lapic());
    state.msrs = TRY(read_msrs(what.msrs, [&](std::span<kvm_msr_entry> entries) { return vcpu.get_msrs(entries); }));
    // Pending exceptions and interrupts last: the reads above may still queue one.
    state.events = TRY(vcpu.get_vcpu_events());
    return state;
}

// The order follows QEMU's kvm_arch_put_registers (target/i386/kvm/kvm.c) and the ordering
// notes of Firecracker's restore_state:
// - sregs first: they carry the APIC base and EFER, which the LAPIC and MSR writes depend on;
// - KVM_SET_REGS drops a pending exception, so it precedes KVM_SET_VCPU_EVENTS;
// - the LAPIC after sregs (APIC base) and before the MSRs: KVM ignores a write to
//   IA32_TSC_DEADLINE unless the LAPIC timer is already in TSC-deadline mode;
// - vcpu events after the LAPIC and MSRs; MP state last: KVM_SET_MP_STATE refuses
//   INIT_RECEIVED/SIPI_RECEIVED while an INIT is latched or an SMI pending, which the events set.
Result<void> apply_vcpu(kvm::VcpuFd const& vcpu, VcpuState const& state, size_t xsave_size)
{
    TRY_VOID(vcpu.set_sregs(state.sregs));
    TRY_VOID(vcpu.set_regs(state.regs));
    if (state.xsave.empty())
        TRY_VOID(vcpu.set_fpu(state.fpu));
    else
        TRY_VOID(set_xsave(vcpu, state.xsave, xsave_size));
    if (state.xcrs)
        TRY_VOID(vcpu.set_xcrs(*state.xcrs));
    TRY_VOID(vcpu.set_debugregs(state.debugregs));
    TRY_VOID(vcpu.set_lapic(state.lapic));
    TRY_VOID(set_msrs(vcpu, state.msrs));
    TRY_VOID(vcpu.set_vcpu_events(state.events));
    TRY_VOID(vcpu.set_mp_state(state.mp_state));
    return {};
}

} // namespace monarch::vmm::snapshot

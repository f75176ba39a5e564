// SPDX-License-Identifier: Apache-2.0
// VcpuFd: one vCPU (the fd KVM_CREATE_VCPU returns) and its kvm_run mapping: register
// state, CPUID, MSRs, LAPIC, XSAVE/XCRs, pending events, debug registers, guest debugging, and
// KVM_RUN decoded into a VcpuExit. Every state call needs the vCPU out of KVM_RUN (KVM holds
// the vCPU mutex through KVM_RUN, so a call from another thread would wait for the next exit).
#pragma once

#include "common/mapping.h"
#include "common/result.h"
#include "common/strong_int.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vcpu_exit.h"

#include "vmm/kvm/kvm_uapi.h"
#include <cstddef>
#include <span>
#include <vector>

namespace monarch::vmm::kvm {

class VcpuFd {
public:
    VcpuFd(VcpuId id, UniqueFd fd, Mapping run) : m_id(id), m_fd(std::move(fd)), m_run(std::move(run)) {}

    [[nodiscard]] VcpuId id() const { return m_id; }

    [[nodiscard]] Result<void> set_cpuid(std::span<kvm_cpuid_entry2 const>) const;
    // KVM_SET_MSRS; fails unless KVM accepted every entry (it stops at the first it refuses).
    [[nodiscard]] Result<void> set_msrs(std::span<kvm_msr_entry const>) const;

    [[nodiscard]] Result<kvm_regs> get_regs() const;
    [[nodiscard]] Result<void> set_regs(kvm_regs const&) const;
    [[nodiscard]] Result<kvm_sregs> get_sregs() const;
    [[nodiscard]] Result<void> set_sregs(kvm_sregs const&) const;
    [[nodiscard]] Result<kvm_fpu> get_fpu() const;
    [[nodiscard]] Result<void> set_fpu(kvm_fpu const&) const;
    [[nodiscard]] Result<kvm_lapic_state> get_lapic() const;
    [[nodiscard]] Result<void> set_lapic(kvm_lapic_state const&) const;
    [[nodiscard]] Result<kvm_mp_state> get_mp_state() const;
    [[nodiscard]] Result<void> set_mp_state(kvm_mp_state const&) const;
    // KVM_GET_MSRS of the indices in `entries` (values are overwritten). Returns how many KVM
    // read: it stops at the first MSR it does not know, so the caller decides what a short
    // read means.
    [[nodiscard]] Result<size_t> get_msrs(std::span<kvm_msr_entry> entries) const;
    // The XSAVE area as KVM lays it out (api.rst, KVM_GET_XSAVE/KVM_GET_XSAVE2): `size` bytes,
    // the VM's KVM_CHECK_EXTENSION(KVM_CAP_XSAVE2) or sizeof(kvm_xsave) without that capability.
    [[nodiscard]] Result<std::vector<std::byte>> get_xsave(size_t size) const;
    // KVM_SET_XSAVE of an area from get_xsave (at least sizeof(kvm_xsave) bytes).
    [[nodiscard]] Result<void> set_xsave(std::span<std::byte const> area) const;
    [[nodiscard]] Result<kvm_xcrs> get_xcrs() const;
    [[nodiscard]] Result<void> set_xcrs(kvm_xcrs const&) const;
    // Pending exceptions, interrupts, NMIs and SMM state (KVM_GET/SET_VCPU_EVENTS).
    [[nodiscard]] Result<kvm_vcpu_events> get_vcpu_events() const;
    [[nodiscard]] Result<void> set_vcpu_events(kvm_vcpu_events const&) const;
    [[nodiscard]] Result<kvm_debugregs> get_debugregs() const;
    [[nodiscard]] Result<void> set_debugregs(kvm_debugregs const&) const;
    // KVM_SET_GUEST_DEBUG: hardware breakpoints and single-step for the VMM (api.rst 4.59);
    // a hit exits to user space with KVM_EXIT_DEBUG.
    [[nodiscard]] Result<void> set_guest_debug(kvm_guest_debug const&) const;
    // KVM_TRANSLATE: the vCPU's current page tables turn a linear address into a GPA.
    [[nodiscard]] Result<kvm_translation> translate(uint64_t linear_address) const;

    // KVM_RUN until the next exit to user space. EINTR and EAGAIN come back as
    // exit::Interrupted (a kick, or INIT/SIPI waking an AP): the caller checks its requests
    // and runs again.
    [[nodiscard]] Result<VcpuExit> run();

    // kvm_run.immediate_exit: while set, KVM_RUN returns EINTR at once. Another thread sets it
    // before kicking this vCPU with a signal; the vCPU thread clears it after seeing EINTR.
    void set_immediate_exit(bool) const;

private:
    [[nodiscard]] kvm_run& run_struct() const;

    VcpuId m_id;
    UniqueFd m_fd;
    Mapping m_run;
};

} // namespace monarch::vmm::kvm

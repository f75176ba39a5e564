// SPDX-License-Identifier: Apache-2.0
// VcpuFd: one vCPU (the fd KVM_CREATE_VCPU returns) and its kvm_run mapping: register
// state, CPUID, MSRs, LAPIC, and KVM_RUN decoded into a VcpuExit.
#pragma once

#include "common/mapping.h"
#include "common/result.h"
#include "common/strong_int.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vcpu_exit.h"

#include <linux/kvm.h>
#include <span>

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

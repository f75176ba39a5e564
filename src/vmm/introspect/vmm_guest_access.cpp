// SPDX-License-Identifier: Apache-2.0
// VmmGuestAccess. Every register and guest-debug call needs the vCPU outside KVM_RUN, so each
// one checks that VcpuRunner holds the VM paused (KVM would otherwise block the call until
// the vCPU's next exit). A debug exit parks the whole VM inside VcpuRunner, which is what
// run_until_breakpoint waits for.
#include "vmm/introspect/vmm_guest_access.h"

#include "vmm/introspect/guest_debug.h"

#include <algorithm>

namespace monarch::vmm::introspect {

Result<void> VmmGuestAccess::pause()
{
    m_vcpus.pause();
    return {};
}

Result<void> VmmGuestAccess::resume()
{
    m_vcpus.resume();
    return {};
}

Result<kvm::VcpuFd const*> VmmGuestAccess::paused_vcpu(VcpuId vcpu)
{
    if (vcpu.raw() >= m_vcpus.vcpu_count())
        return fail(Errc::OutOfRange, "introspection: no such vCPU");
    if (!m_vcpus.pause_requested())
        return fail(Errc::Busy, "introspection: the VM must be paused for register access");
    return &m_vcpus.vcpu(vcpu.raw());
}

Result<dkom::Registers> VmmGuestAccess::read_registers(VcpuId id)
{
    auto const* vcpu = TRY(paused_vcpu(id));
    auto const regs = TRY(vcpu->get_regs());
    auto const sregs = TRY(vcpu->get_sregs());
    kvm_msr_entry msr {};
    msr.index = MSR_KERNEL_GS_BASE;
    if (TRY(vcpu->get_msrs(std::span(&msr, 1))) != 1)
        return fail(Errc::Unsupported, "KVM_GET_MSRS: MSR_KERNEL_GS_BASE not readable");
    dkom::Registers out;
    out.rax = regs.rax, out.rbx = regs.rbx, out.rcx = regs.rcx, out.rdx = regs.rdx;
    out.rsi = regs.rsi, out.rdi = regs.rdi, out.rbp = regs.rbp, out.rsp = regs.rsp;
    out.r8 = regs.r8, out.r9 = regs.r9, out.r10 = regs.r10, out.r11 = regs.r11;
    out.r12 = regs.r12, out.r13 = regs.r13, out.r14 = regs.r14, out.r15 = regs.r15;
    out.rip = regs.rip, out.rflags = regs.rflags;
    out.cs = sregs.cs.selector, out.ss = sregs.ss.selector;
    out.has_system = true;
    out.cr0 = sregs.cr0, out.cr2 = sregs.cr2, out.cr3 = sregs.cr3, out.cr4 = sregs.cr4, out.efer = sregs.efer;
    out.fs_base = sregs.fs.base, out.gs_base = sregs.gs.base, out.kernel_gs_base = msr.data;
    return out;
}

// General registers always; the system registers only when one of them changed, so that an
// injected call (which changes none) never rewrites segment state KVM holds.
Result<void> VmmGuestAccess::write_registers(VcpuId id, dkom::Registers const& in)
{
    auto const* vcpu = TRY(paused_vcpu(id));
    auto regs = TRY(vcpu->get_regs());
    regs.rax = in.rax, regs.rbx = in.rbx, regs.rcx = in.rcx, regs.rdx = in.rdx;
    regs.rsi = in.rsi, regs.rdi = in.rdi, regs.rbp = in.rbp, regs.rsp = in.rsp;
    regs.r8 = in.r8, regs.r9 = in.r9, regs.r10 = in.r10, regs.r11 = in.r11;
    regs.r12 = in.r12, regs.r13 = in.r13, regs.r14 = in.r14, regs.r15 = in.r15;
    regs.rip = in.rip, regs.rflags = in.rflags;
    TRY_VOID(vcpu->set_regs(regs));
    if (!in.has_system)
        return {};
    auto sregs = TRY(vcpu->get_sregs());
    bool const changed = sregs.cr0 != in.cr0 || sregs.cr3 != in.cr3 || sregs.cr4 != in.cr4 || sregs.efer != in.efer
        || sregs.fs.base != in.fs_base || sregs.gs.base != in.gs_base;
    if (changed) {
        sregs.cr0 = in.cr0, sregs.cr3 = in.cr3, sregs.cr4 = in.cr4, sregs.efer = in.efer;
        sregs.fs.base = in.fs_base, sregs.gs.base = in.gs_base;
        TRY_VOID(vcpu->set_sregs(sregs));
    }
    kvm_msr_entry msr {};
    msr.index = MSR_KERNEL_GS_BASE;
    if (TRY(vcpu->get_msrs(std::span(&msr, 1))) == 1 && msr.data != in.kernel_gs_base) {
        msr.data = in.kernel_gs_base;
        TRY_VOID(vcpu->set_msrs(std::span(&msr, 1)));
    }
    return {};
}

Result<void> VmmGuestAccess::apply_debug(std::optional<size_t> stepping)
{
    if (!m_vcpus.pause_requested())
        return fail(Errc::Busy, "introspection: the VM must be paused to change breakpoints");
    for (size_t index = 0; index < m_vcpus.vcpu_count(); ++index) {
        bool const step = stepping == index;
        auto debug = TRY(make_guest_debug(m_breakpoints, step, step && m_block_irq));
        auto set = m_vcpus.vcpu(index).set_guest_debug(debug);
        if (!set && step && m_block_irq && set.error().sys_errno == EINVAL) {
            m_block_irq = false; // a KVM without KVM_CAP_SET_GUEST_DEBUG2's BLOCKIRQ
            debug = TRY(make_guest_debug(m_breakpoints, true, false));
            set = m_vcpus.vcpu(index).set_guest_debug(debug);
        }
        TRY_VOID(set);
    }
    m_vcpus.attach_debugger(!m_breakpoints.empty() || stepping.has_value());
    return {};
}

Result<void> VmmGuestAccess::set_breakpoint(GuestVirtAddr address)
{
    if (std::ranges::find(m_breakpoints, address.raw()) != m_breakpoints.end())
        return {};
    if (m_breakpoints.size() >= MAX_HW_BREAKPOINTS)
        return fail(Errc::Busy, "hardware breakpoints: all four debug registers are in use");
    auto const pause = TRY(dkom::PauseScope::create(*this));
    m_breakpoints.push_back(address.raw());
    if (auto applied = apply_debug(std::nullopt); !applied) {
        m_breakpoints.pop_back();
        return applied;
    }
    return {};
}

Result<void> VmmGuestAccess::clear_breakpoint(GuestVirtAddr address)
{
    auto const found = std::ranges::find(m_breakpoints, address.raw());
    if (found == m_breakpoints.end())
        return {};
    auto const pause = TRY(dkom::PauseScope::create(*this));
    m_breakpoints.erase(found);
    return apply_debug(std::nullopt);
}

// On timeout the VM is paused again (GuestAccess's contract). A stop recorded between the
// timeout and that pause is dropped: its vCPU re-executes the instruction and stops again
// the next time it runs with the breakpoint set.
Result<VcpuId> VmmGuestAccess::wait_for_stop(std::chrono::milliseconds timeout)
{
    auto const stop = m_vcpus.wait_for_debug_stop(timeout);
    if (!stop) {
        m_vcpus.pause();
        return fail(Errc::Timeout, "introspection: no vCPU stopped in time");
    }
    return VcpuId { static_cast<uint32_t>(stop->vcpu) };
}

Result<VcpuId> VmmGuestAccess::run_until_breakpoint(std::chrono::milliseconds timeout)
{
    if (m_breakpoints.empty())
        return fail(Errc::InvalidArgument, "introspection: no breakpoint set");
    m_vcpus.attach_debugger(true);
    m_vcpus.resume();
    return wait_for_stop(timeout);
}

Result<VcpuId> VmmGuestAccess::run_vcpu_until_breakpoint(VcpuId vcpu, std::chrono::milliseconds timeout)
{
    if (vcpu.raw() >= m_vcpus.vcpu_count())
        return fail(Errc::OutOfRange, "introspection: no such vCPU");
    if (m_breakpoints.empty())
        return fail(Errc::InvalidArgument, "introspection: no breakpoint set");
    m_vcpus.attach_debugger(true);
    m_vcpus.resume_only(vcpu.raw());
    return wait_for_stop(timeout);
}

Result<void> VmmGuestAccess::step(VcpuId vcpu)
{
    (void)TRY(paused_vcpu(vcpu));
    TRY_VOID(apply_debug(vcpu.raw()));
    m_vcpus.resume_only(vcpu.raw());
    auto const stopped = wait_for_stop(m_timeout);
    // Single-stepping off again whatever happened; the VM is paused in both cases.
    TRY_VOID(apply_debug(std::nullopt));
    if (!stopped)
        return Failure(stopped.error());
    if (stopped->raw() != vcpu.raw())
        return fail(Errc::Corrupt, "introspection: another vCPU stopped during a single step");
    return {};
}

} // namespace monarch::vmm::introspect

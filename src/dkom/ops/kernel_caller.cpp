// SPDX-License-Identifier: Apache-2.0
// Injected calls of guest-kernel functions.
//
// SAFETY ARGUMENT (why the guest kernel stays consistent):
// 1. Where: the vCPU is stopped by a hardware breakpoint on the first instruction of a
//    system-call handler (__x64_sys_*). There the task is in process context, executing its
//    own system call: IRQs are enabled (checked: RFLAGS.IF), preemption is enabled, and it
//    holds no lock (the syscall entry path takes none before calling the handler,
//    arch/x86/entry/common.c: do_syscall_64). A function that may be called from such a
//    context (send_sig_info, set_user_nice, __rcu_read_lock) may be called there.
// 2. How: we emulate a `call` from that point: push the handler's own address as the return
//    address 16 bytes below the current stack pointer (the kernel has no red zone:
//    -mno-red-zone; 16 keeps the stack's alignment as it was at the breakpoint), load the
//    arguments into rdi/rsi/rdx/rcx and rip. The function returns to the handler's entry,
//    where the breakpoint traps again; we recognise our own return by the stack pointer
//    (return_rsp, unique to this task's kernel stack), on whatever vCPU the task then runs.
//    Then every general-purpose register, rip, rflags and rsp are put back as saved, so the
//    interrupted handler starts as if nothing happened. The 16 bytes below rsp that we used
//    are dead stack space.
// 3. Other vCPUs: a call that takes locks runs with all vCPUs running (CallScope::AllVcpus),
//    so a lock held by another CPU is released normally; a vCPU of another task that hits the
//    safe point meanwhile is stepped over it. A call that takes no lock may run alone
//    (ThisVcpuOnly), so nothing else in the guest advances during it.
// 4. Failure: until the first register write nothing in the guest has changed; a failure
//    there resumes the guest untouched. If an injected call does not return in time the
//    guest is left running it (it cannot be undone) and Errc::Timeout is reported.
#include "dkom/ops/kernel_caller.h"

#include "common/log.h"

#include <algorithm>

namespace monarch::dkom {

namespace {
constexpr uint64_t rflags_if = 1 << 9; // SDM vol. 1, 3.4.3.3: interrupt enable flag
}

KernelCaller::KernelCaller(KernelCaller&& other) noexcept
    : m_kernel(other.m_kernel), m_vcpu(other.m_vcpu), m_saved(other.m_saved), m_trap(other.m_trap), m_done(other.m_done)
{
    other.m_done = true;
}

KernelCaller::~KernelCaller()
{
    if (m_done)
        return;
    if (auto finished = finish(); !finished)
        log::warn("dkom: cannot release the guest after a call: {}", to_string(finished.error()));
}

Result<KernelCaller> KernelCaller::stop_at_safe_point(LinuxKernel& kernel, std::span<uint64_t const> safe_points,
    std::chrono::milliseconds timeout)
{
    auto& access = kernel.access();
    TRY_VOID(access.pause());
    std::vector<uint64_t> points;
    for (uint64_t const point : safe_points)
        points.push_back(kernel.runtime_address(point));
    auto const remove_all = [&] {
        for (uint64_t const point : points)
            (void)access.clear_breakpoint(GuestVirtAddr { point });
    };
    for (uint64_t const point : points) {
        if (auto set = access.set_breakpoint(GuestVirtAddr { point }); !set) {
            remove_all();
            (void)access.resume();
            return Failure(set.error());
        }
    }
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        auto const hit = left.count() > 0 ? access.run_until_breakpoint(left) : Result<VcpuId>(fail(Errc::Timeout, "dkom: no vCPU reached a safe point in time"));
        if (!hit) {
            remove_all();
            (void)access.resume();
            return Failure(hit.error());
        }
        auto const regs = TRY(access.read_registers(*hit));
        bool const at_point = std::ranges::find(points, regs.rip) != points.end();
        if (at_point && regs.in_kernel_mode() && (regs.rflags & rflags_if) != 0) {
            remove_all();
            return KernelCaller { kernel, *hit, regs, regs.rip };
        }
        // Not usable (interrupts off, or a stop of another kind): step past and wait again.
        if (at_point) {
            (void)access.clear_breakpoint(GuestVirtAddr { regs.rip });
            TRY_VOID(access.step(*hit));
            TRY_VOID(access.set_breakpoint(GuestVirtAddr { regs.rip }));
        }
    }
}

Result<void> KernelCaller::step_over_trap(VcpuId vcpu)
{
    auto& access = m_kernel->access();
    TRY_VOID(access.clear_breakpoint(GuestVirtAddr { m_trap }));
    TRY_VOID(access.step(vcpu));
    return access.set_breakpoint(GuestVirtAddr { m_trap });
}

Result<uint64_t> KernelCaller::call(uint64_t function, std::array<uint64_t, 4> args, CallScope scope, std::chrono::milliseconds timeout)
{
    if (m_done)
        return fail(Errc::Busy, "dkom: the caller has finished");
    auto& access = m_kernel->access();
    if (!is_kernel_pointer(function, m_kernel->kernel_space().levels))
        return fail(Errc::InvalidArgument, "dkom: call target is not a kernel address");
    uint64_t const call_rsp = m_saved.rsp - 16;
    // Push the return address on the task's own kernel stack, through its own page tables.
    PageWalker const walker { access };
    auto const space = AddressSpace::from_registers(m_saved);
    TRY_VOID(walker.write_virtual(space, GuestVirtAddr { call_rsp }, std::as_bytes(std::span(&m_trap, 1))));
    Registers regs = m_saved;
    regs.rip = function;
    regs.rsp = call_rsp;
    regs.rdi = args[0];
    regs.rsi = args[1];
    regs.rdx = args[2];
    regs.rcx = args[3];
    TRY_VOID(access.set_breakpoint(GuestVirtAddr { m_trap }));
    if (auto written = access.write_registers(m_vcpu, regs); !written) {
        (void)access.write_registers(m_vcpu, m_saved);
        (void)access.clear_breakpoint(GuestVirtAddr { m_trap });
        return Failure(written.error());
    }
    auto const result = wait_for_return(call_rsp + 8, scope, timeout);
    if (!result) {
        (void)access.clear_breakpoint(GuestVirtAddr { m_trap });
        m_done = true; // the call is still running in the guest: nothing can be restored
        (void)access.resume();
        return result;
    }
    TRY_VOID(access.clear_breakpoint(GuestVirtAddr { m_trap }));
    // Put the interrupted context back on the vCPU that runs the task now.
    TRY_VOID(access.write_registers(m_vcpu, m_saved));
    return result;
}

Result<uint64_t> KernelCaller::wait_for_return(uint64_t return_rsp, CallScope scope, std::chrono::milliseconds timeout)
{
    auto& access = m_kernel->access();
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            return fail(Errc::Timeout, "dkom: the injected call did not return in time");
        auto const hit = scope == CallScope::ThisVcpuOnly ? TRY(access.run_vcpu_until_breakpoint(m_vcpu, left))
                                                          : TRY(access.run_until_breakpoint(left));
        auto const regs = TRY(access.read_registers(hit));
        if (regs.rip == m_trap && regs.rsp == return_rsp) {
            m_vcpu = hit; // the task may have migrated during an all-vCPU call
            return regs.rax;
        }
        if (regs.rip == m_trap)
            TRY_VOID(step_over_trap(hit)); // another task entered the safe point
    }
}

Result<void> KernelCaller::finish()
{
    if (m_done)
        return {};
    m_done = true;
    return m_kernel->access().resume();
}

} // namespace monarch::dkom

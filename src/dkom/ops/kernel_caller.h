// SPDX-License-Identifier: Apache-2.0
// KernelCaller: makes the guest kernel call one of its own functions on a vCPU that was
// stopped at a safe point (a hardware breakpoint on a system-call handler's entry), traps the
// return, and puts every register back as it was. The safety argument is in kernel_caller.cpp.
#pragma once

#include "dkom/linux/linux_kernel.h"

#include <array>
#include <chrono>
#include <span>

namespace monarch::dkom {

enum class CallScope : uint8_t {
    ThisVcpuOnly, // only the vCPU making the call runs: for functions that take no lock
    AllVcpus,     // every vCPU runs: for functions that take locks other CPUs may hold
};

class KernelCaller {
public:
    // Lets the guest run until a vCPU enters one of `safe_points` (link-time addresses of
    // kernel functions that run in process context with interrupts enabled and no lock held),
    // then holds the VM paused there. Errc::Timeout when none is reached in time; the guest
    // then runs on untouched.
    [[nodiscard]] static Result<KernelCaller> stop_at_safe_point(LinuxKernel&, std::span<uint64_t const> safe_points,
        std::chrono::milliseconds timeout);
    KernelCaller(KernelCaller&&) noexcept;
    KernelCaller(KernelCaller const&) = delete;
    KernelCaller& operator=(KernelCaller const&) = delete;
    KernelCaller& operator=(KernelCaller&&) = delete;
    ~KernelCaller(); // finish() if not done

    // Calls `function` (runtime address) with up to four integer arguments (System V AMD64
    // ABI: rdi, rsi, rdx, rcx) and returns rax. Afterwards the VM is paused again with the
    // interrupted context restored exactly.
    [[nodiscard]] Result<uint64_t> call(uint64_t function, std::array<uint64_t, 4> args, CallScope, std::chrono::milliseconds timeout);

    // Restores the context (already restored after each call), removes breakpoints and lets
    // the VM run.
    [[nodiscard]] Result<void> finish();

    [[nodiscard]] VcpuId vcpu() const { return m_vcpu; }

private:
    KernelCaller(LinuxKernel& kernel, VcpuId vcpu, Registers saved, uint64_t trap)
        : m_kernel(&kernel), m_vcpu(vcpu), m_saved(saved), m_trap(trap) {}
    Result<uint64_t> wait_for_return(uint64_t return_rsp, CallScope, std::chrono::milliseconds timeout);
    Result<void> step_over_trap(VcpuId);

    LinuxKernel* m_kernel;
    VcpuId m_vcpu;        // the vCPU that runs the interrupted task now
    Registers m_saved;    // the interrupted context
    uint64_t m_trap;      // the safe point: where the task was stopped, and where calls return
    bool m_done { false };
};

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// TaskControl: the DKOM operations Monarch needs on a Linux guest, done by the guest kernel
// itself through injected calls: suspend (SIGSTOP), resume (SIGCONT), set nice.
#pragma once

#include "dkom/ops/kernel_caller.h"

namespace monarch::dkom {

struct ControlSymbols {
    uint64_t send_sig_info { 0 };
    uint64_t set_user_nice { 0 };
    uint64_t rcu_read_lock { 0 };   // __rcu_read_lock (preemptible RCU), 0 when absent
    uint64_t rcu_read_unlock { 0 };
    std::vector<uint64_t> safe_points; // __x64_sys_{write,read,openat,close}: at most 4 (x86 has 4 debug registers)

    [[nodiscard]] static Result<ControlSymbols> from_profile(Profile const&);
};

class TaskControl {
public:
    TaskControl(LinuxKernel& kernel, ControlSymbols symbols) : m_kernel(kernel), m_symbols(std::move(symbols)) {}

    [[nodiscard]] Result<void> suspend(int32_t pid);
    [[nodiscard]] Result<void> resume(int32_t pid);
    // nice in [-20, 19].
    [[nodiscard]] Result<void> set_nice(int32_t pid, int32_t nice);

    std::chrono::milliseconds timeout { std::chrono::seconds(10) };

private:
    Result<void> send_signal(int32_t pid, int signal);
    // Stops at a safe point, re-finds the task there (all vCPUs paused) and pins it with an
    // RCU read-side critical section on the stopped task before any other vCPU runs.
    Result<uint64_t> locked_task(KernelCaller&, int32_t pid);
    Result<void> unlock(KernelCaller&);

    LinuxKernel& m_kernel;
    ControlSymbols m_symbols;
};

} // namespace monarch::dkom

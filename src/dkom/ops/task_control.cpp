// SPDX-License-Identifier: Apache-2.0
// Suspend, resume and nice through the guest kernel's own functions (kernel_caller.cpp has
// the general safety argument; what is specific to each operation is said here).
#include "dkom/ops/task_control.h"

namespace monarch::dkom {

namespace {

constexpr int sigcont = 18;  // include/uapi/asm-generic/signal.h (x86 uses the generic numbers)
constexpr int sigstop = 19;
constexpr uint64_t send_sig_priv = 1; // SEND_SIG_PRIV: (struct kernel_siginfo *)1, sent "by the kernel"
constexpr char const* safe_point_names[] = { "__x64_sys_write", "__x64_sys_read", "__x64_sys_openat", "__x64_sys_close" };

} // namespace

Result<ControlSymbols> ControlSymbols::from_profile(Profile const& profile)
{
    ControlSymbols symbols;
    auto const need = [&](char const* name, char const* missing) -> Result<uint64_t> {
        auto const address = profile.symbol_address(name);
        if (!address)
            return fail(Errc::NotFound, missing);
        return *address;
    };
    symbols.send_sig_info = TRY(need("send_sig_info", "profile: symbol send_sig_info missing"));
    symbols.set_user_nice = TRY(need("set_user_nice", "profile: symbol set_user_nice missing"));
    if (auto const lock = profile.symbol_address("__rcu_read_lock")) {
        symbols.rcu_read_lock = *lock;
        symbols.rcu_read_unlock = TRY(need("__rcu_read_unlock", "profile: symbol __rcu_read_unlock missing"));
    }
    for (char const* name : safe_point_names) {
        if (auto const address = profile.symbol_address(name))
            symbols.safe_points.push_back(*address);
    }
    if (symbols.safe_points.empty())
        return fail(Errc::NotFound, "profile: no system-call handler symbols for safe points");
    return symbols;
}

// Why the task pointer handed to the kernel is valid: it is looked up in the task list while
// every vCPU is paused at the safe point, so it has not been unhashed by release_task(); a
// task_struct is freed only by the RCU callback that release_task() queues
// (delayed_put_task_struct, kernel/exit.c), i.e. after a grace period that begins later.
// Before any other vCPU runs, the stopped task enters an RCU read-side critical section
// (__rcu_read_lock, called with only its vCPU running; it takes no lock), so that grace
// period cannot end until we call __rcu_read_unlock after the operation. Without preemptible
// RCU, the stopped task runs our calls without passing a quiescent state, to the same effect.
Result<uint64_t> TaskControl::locked_task(KernelCaller& caller, int32_t pid)
{
    auto const task = TRY(m_kernel.task_by_pid(pid));
    if (task.kernel_thread)
        return fail(Errc::InvalidArgument, "dkom: kernel threads cannot be controlled");
    if (pid <= 1)
        return fail(Errc::InvalidArgument, "dkom: refusing to control the idle task or init");
    if (m_symbols.rcu_read_lock != 0)
        TRY(caller.call(m_kernel.runtime_address(m_symbols.rcu_read_lock), {}, CallScope::ThisVcpuOnly, timeout));
    return task.address;
}

Result<void> TaskControl::unlock(KernelCaller& caller)
{
    if (m_symbols.rcu_read_unlock == 0)
        return {};
    // __rcu_read_unlock may report a quiescent state and take RCU's own locks: all vCPUs run.
    TRY(caller.call(m_kernel.runtime_address(m_symbols.rcu_read_unlock), {}, CallScope::AllVcpus, timeout));
    return {};
}

Result<void> TaskControl::send_signal(int32_t pid, int signal)
{
    auto caller = TRY(KernelCaller::stop_at_safe_point(m_kernel, m_symbols.safe_points, timeout));
    auto const task = TRY(locked_task(caller, pid));
    // send_sig_info(sig, SEND_SIG_PRIV, task) (kernel/signal.c) takes the task's siglock with
    // interrupts saved and may wake the task (an IPI, not waited for): callable from process
    // context with no locks held; all vCPUs run so a siglock held elsewhere is released.
    auto const sent = caller.call(m_kernel.runtime_address(m_symbols.send_sig_info),
        { static_cast<uint64_t>(signal), send_sig_priv, task, 0 }, CallScope::AllVcpus, timeout);
    TRY_VOID(unlock(caller));
    TRY_VOID(caller.finish());
    if (!sent)
        return Failure(sent.error());
    if (static_cast<int32_t>(*sent) != 0)
        return fail(Errc::NotFound, "dkom: the guest kernel refused the signal (task exiting?)");
    return {};
}

Result<void> TaskControl::suspend(int32_t pid) { return send_signal(pid, sigstop); }

Result<void> TaskControl::resume(int32_t pid) { return send_signal(pid, sigcont); }

Result<void> TaskControl::set_nice(int32_t pid, int32_t nice)
{
    if (nice < -20 || nice > 19)
        return fail(Errc::InvalidArgument, "nice must be in -20..19");
    auto caller = TRY(KernelCaller::stop_at_safe_point(m_kernel, m_symbols.safe_points, timeout));
    auto const task = TRY(locked_task(caller, pid));
    // set_user_nice(task, nice) (kernel/sched/core.c) takes the task's pi_lock and run-queue
    // lock (task_rq_lock) and requeues it with the new weight: process context, no locks held
    // on entry; all vCPUs run so those locks, if held elsewhere, are released.
    auto const done = caller.call(m_kernel.runtime_address(m_symbols.set_user_nice),
        { task, static_cast<uint64_t>(static_cast<int64_t>(nice)), 0, 0 }, CallScope::AllVcpus, timeout);
    TRY_VOID(unlock(caller));
    TRY_VOID(caller.finish());
    if (!done)
        return Failure(done.error());
    return {};
}

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// The sampling loop and the attribution of samples to tasks.
#include "dkom/linux/cpu_sampler.h"

#include <algorithm>
#include <map>
#include <thread>

namespace monarch::dkom {

namespace {

using Clock = std::chrono::steady_clock;

std::map<uint64_t, TaskInfo> by_address(std::vector<TaskInfo> const& tasks)
{
    std::map<uint64_t, TaskInfo> out;
    for (auto const& task : tasks)
        out.emplace(task.address, task);
    return out;
}

} // namespace

Result<CpuSampling> sample_cpu(LinuxKernel& kernel, double rate_hz, std::chrono::milliseconds duration)
{
    if (!(rate_hz >= 1 && rate_hz <= 10000))
        return fail(Errc::InvalidArgument, "sampling rate must be 1..10000 Hz");
    auto& access = kernel.access();
    auto const before = by_address(TRY(kernel.tasks()));
    std::map<uint64_t, uint64_t> counts;
    std::map<uint64_t, double> weights; // seconds of guest running time attributed to each task
    CpuSampling result;
    auto const period = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate_hz));
    auto const start = Clock::now();
    auto next = start;
    auto resumed_at = start;
    while (Clock::now() - start < duration) {
        TRY_VOID(access.pause());
        // The sample stands for the time the guest ran since the previous one: the time the
        // VM spends paused for sampling is nobody's CPU time (the guest's clock stops too).
        double const ran = std::chrono::duration<double>(Clock::now() - resumed_at).count();
        auto const current = kernel.current_task_addresses();
        TRY_VOID(access.resume());
        resumed_at = Clock::now();
        if (!current)
            return Failure(current.error());
        for (auto const& address : *current) {
            if (!address)
                continue;
            ++counts[*address];
            weights[*address] += ran;
        }
        ++result.samples;
        result.running_seconds += ran;
        next += period;
        std::this_thread::sleep_until(next);
    }
    result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    auto const after = by_address(TRY(kernel.tasks()));
    for (auto const& [address, samples] : counts) {
        auto const found = after.find(address);
        if (found == after.end())
            continue; // exited meanwhile
        auto const& task = found->second;
        if (task.pid == 0) {
            result.idle_samples += samples;
            continue;
        }
        CpuUsage usage { task.pid, task.tgid, task.comm, samples, weights[address], 0 };
        if (auto const earlier = before.find(address); earlier != before.end() && earlier->second.pid == task.pid)
            usage.guest_ns = task.sum_exec_runtime_ns - std::min(task.sum_exec_runtime_ns, earlier->second.sum_exec_runtime_ns);
        result.tasks.push_back(std::move(usage));
    }
    std::ranges::sort(result.tasks, [](CpuUsage const& a, CpuUsage const& b) { return a.samples > b.samples; });
    return result;
}

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// CPU time measured by the VMM (Monarch does not trust the guest's accounting): sample
// which task each vCPU runs at a fixed rate, and give per-task CPU time from the samples
// next to the guest's own figure (se.sum_exec_runtime) over the same interval.
#pragma once

#include "dkom/linux/linux_kernel.h"

#include <chrono>

namespace monarch::dkom {

struct CpuUsage {
    int32_t pid { 0 };
    int32_t tgid { 0 };
    std::string comm;
    uint64_t samples { 0 };       // samples in which a vCPU ran this task
    double sampled_seconds { 0 }; // the VMM's estimate of its CPU time: for each sample that found it
                                  // running, the time the guest ran since the previous sample
    uint64_t guest_ns { 0 };      // the guest's own sum_exec_runtime delta over the interval
};

struct CpuSampling {
    std::vector<CpuUsage> tasks;  // tasks seen running, most samples first
    uint64_t samples { 0 };       // sampling rounds taken (each covers every vCPU)
    uint64_t idle_samples { 0 };  // vCPU samples that found the idle task (pid 0)
    double seconds { 0 };         // wall time covered
    double running_seconds { 0 }; // of which the guest ran (not paused for sampling)
};

// Samples for `duration` at `rate_hz` (1..10000). Each round pauses the VM for a few
// gdbstub round trips, reads each vCPU's current task pointer, and resumes it.
[[nodiscard]] Result<CpuSampling> sample_cpu(LinuxKernel&, double rate_hz, std::chrono::milliseconds duration);

} // namespace monarch::dkom

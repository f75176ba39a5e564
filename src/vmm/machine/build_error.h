// SPDX-License-Identifier: Apache-2.0
// BuildError: which step of building the VM failed, and the Error it failed with. The step
// lets the CLI choose the exit status and name the input (path, size, count) in its message.
#pragma once

#include <string>
#include "common/result.h"

#include <cstdint>
#include <expected>

namespace monarch::vmm::machine {

enum class BuildStep {
    Memory,         // the guest RAM size or its allocation
    ReadKernel,     // reading the kernel file
    InitrdSize,     // the initrd is larger than guest RAM
    ReadInitrd,     // reading the initrd file
    FirmwareTables, // ACPI/MP tables
    LoadKernel,     // parsing and loading the kernel (and initrd, command line)
    SerialSpec,     // the --serial value does not parse
    OpenKvm,        // /dev/kvm: absent, no permission, missing capability
    CpuCount,       // more vCPUs than this host's KVM supports
    CreateVm,       // VM fd, memory slots, irqchip, PIT
    CreateVcpus,    // vCPU fds, CPUID, MSRs, registers, LAPIC
    VirtioDevices,  // a virtio device's back end (disk image, tap, vsock socket, console)
    Devices,        // bus registration, PCI, ioeventfd/irqfd wiring
    Serial,         // creating the serial back end (file, pty, socket)
    Start,          // signal handling, threads
};

struct BuildError {
    BuildStep step;
    Error error;
    uint64_t limit { 0 }; // the limit that was exceeded, where there is one (CpuCount: KVM's maximum)
    std::string subject {}; // VirtioDevices: the option that asked for the device ("--disk path=...")
};

template<typename T>
using BuildResult = std::expected<T, BuildError>;

// Tags an Error with the step it happened in.
#define TRY_STEP(step, expr) __extension__({                                               \
        auto try_step_result_ = (expr);                                                    \
        if (!try_step_result_)                                                             \
            return std::unexpected(::monarch::vmm::machine::BuildError {                   \
                (step), std::move(try_step_result_).error() });                            \
        std::move(try_step_result_).value();                                               \
    })

#define TRY_STEP_VOID(step, expr) do {                                                     \
        auto try_step_result_ = (expr);                                                    \
        if (!try_step_result_)                                                             \
            return std::unexpected(::monarch::vmm::machine::BuildError {                   \
                (step), std::move(try_step_result_).error() });                            \
    } while (0)

} // namespace monarch::vmm::machine

// Propagates a BuildResult<void> (already tagged with its step).
#define TRY_BUILD(expr) do {                                                               \
        auto try_build_result_ = (expr);                                                   \
        if (!try_build_result_)                                                            \
            return std::unexpected(std::move(try_build_result_).error());                  \
    } while (0)

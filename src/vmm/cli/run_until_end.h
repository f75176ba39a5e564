// SPDX-License-Identifier: Apache-2.0
// Running a VM from the command line until it ends for good: a guest reset boots a fresh VM
// from the same configuration in this process (memory, devices and vCPUs start over; the serial
// back end, and so a terminal, pty or socket client on it, stays), as Cloud Hypervisor does,
// unless the user chose --no-reboot.
#pragma once

#include "vmm/event/event_loop.h"
#include "vmm/machine/vm_config.h"
#include "vmm/machine/vmm.h"

#include <cstdint>
#include <memory>

namespace monarch::vmm::cli {

struct RebootPolicy {
    bool reboot_on_reset { true };
    uint64_t host_total { 0 }; // /proc/meminfo's MemTotal, for the error of a failed rebuild
};

// Runs `vmm` (built from `config` on `loop`) and its successors; returns the process exit status
// (never exit_status::GuestReset).
[[nodiscard]] int run_until_end(std::unique_ptr<machine::Vmm> vmm, machine::VmConfig const& config, event::EventLoop& loop,
    int signal_fd, RebootPolicy const& policy);

} // namespace monarch::vmm::cli

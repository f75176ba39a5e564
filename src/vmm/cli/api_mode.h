// SPDX-License-Identifier: Apache-2.0
// monarch-vmm with --api-socket: the event loop serves the REST API and, when the command line
// named a VM, creates and boots it at once; otherwise it waits for vm.create (as Cloud
// Hypervisor does). The process ends with vmm.shutdown (0), a signal (143) or the guest's end.
#pragma once

#include "vmm/api/vm_backend.h"
#include "vmm/cli/options.h"
#include "vmm/machine/vm_config.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <optional>

namespace monarch::vmm::cli {

// The --api-socket value checked before anything else: nullopt if it parses, else the exit.
[[nodiscard]] std::optional<CliExit> check_api_socket(std::string const& spec);

// `config`: the VM the command line describes (created and booted at once), or none.
// `signal_fd`: from block_termination_signals(). `host_total`: MemTotal for messages.
// `restore`: --restore with --api-socket: the VM is restored first (a refusal ends the
// process with its exit status before anything runs) and waits paused unless resume=on.
[[nodiscard]] int run_with_api(std::string const& api_socket, std::optional<machine::VmConfig> config, int signal_fd, bool reboot_on_reset,
                               uint64_t host_total, vmcrypt::VmSealing* sealing = nullptr,
                               std::optional<api::RestoreRequest> restore = std::nullopt,
                               std::optional<std::string> const& introspect_profile = std::nullopt);

} // namespace monarch::vmm::cli

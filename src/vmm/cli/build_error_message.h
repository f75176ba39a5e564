// SPDX-License-Identifier: Apache-2.0
// From a failed VM build to what the user sees: the exit status (exit_status.h) and one line
// naming the input (path, size, count) and, where obvious, what to do.
#pragma once

#include "vmm/cli/options.h"
#include "vmm/machine/build_error.h"
#include "vmm/machine/vm_config.h"

namespace monarch::vmm::cli {

// `host_total`: the host's MemTotal in bytes (0 if unknown).
[[nodiscard]] CliExit describe_build_error(machine::BuildError const&, machine::VmConfig const&, uint64_t host_total);

// "512 MiB", "4.5 GiB", "1000 KiB": for messages.
[[nodiscard]] std::string format_size(uint64_t bytes);

} // namespace monarch::vmm::cli

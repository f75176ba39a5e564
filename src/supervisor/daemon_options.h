// SPDX-License-Identifier: Apache-2.0
// monarchd's command line (CLI11, caught at its edge) and the defaults it resolves: the state
// directory, the management socket, the structured log and the monarch-vmm binary.
#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <vector>

namespace monarch::supervisor {

// monarchd's exit statuses (docs/monarchd.md).
namespace daemon_exit {
inline constexpr int Success = 0;     // stopped by SIGTERM/SIGINT (the VMs keep running)
inline constexpr int Usage = 64;      // bad command line
inline constexpr int NoVmm = 69;      // no monarch-vmm binary found
inline constexpr int CannotCreate = 73; // state directory, lock, log or socket could not be made
inline constexpr int AlreadyRunning = 75; // another monarchd holds the state directory's lock
} // namespace daemon_exit

struct DaemonOptions {
    std::string state_dir;          // resolved: never empty
    std::string socket;             // resolved: <state_dir>/monarchd.sock by default
    std::string event_log;          // resolved: <state_dir>/monarchd.log by default; "-" is stderr
    std::string vmm;                // resolved: an existing file
    std::string group { "monarch" };
    std::vector<std::string> vmm_arguments;
    std::chrono::milliseconds restart_delay { std::chrono::seconds(1) };
};

struct DaemonExit {
    int status { 0 };
    std::string text; // help/version for stdout, or an error line for stderr
};

[[nodiscard]] std::expected<DaemonOptions, DaemonExit> parse_daemon_options(int argc, char const* const* argv);

// --vmm's default: monarch-vmm beside this program, else the build tree's; empty if neither.
[[nodiscard]] std::string default_vmm_path();

} // namespace monarch::supervisor

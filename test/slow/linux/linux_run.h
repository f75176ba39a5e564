// SPDX-License-Identifier: Apache-2.0
// Running monarch-vmm on a Linux kernel with the console in a file, watching that file until
// the kernel has printed what a test needs (or a deadline passes), then stopping the VMM.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace monarch::test {

// The directory scripts/fetch-linux-kernel prints (vmlinuz, vmlinux, ...); skips if it fails.
[[nodiscard]] std::string linux_kernel_directory();

struct WatchedRun {
    std::string console;          // everything the guest wrote to COM1
    std::optional<int> exit_code; // set if monarch-vmm ended by itself
    bool satisfied { false };     // `done` returned true before the deadline
};

// Starts monarch-vmm with `args` plus --serial file:<scratch>, and polls the console file every
// 100 ms until done(console) or the deadline; then SIGTERM (if still running) and wait.
[[nodiscard]] WatchedRun run_until(std::vector<std::string> const& args, std::function<bool(std::string const&)> done,
    std::chrono::seconds deadline);

[[nodiscard]] std::string vmm_binary();
[[nodiscard]] std::string scratch_path(std::string const& name);

} // namespace monarch::test

// SPDX-License-Identifier: Apache-2.0
// Helpers for tests that run the built monarch-vmm: its path, the testos image, scratch files,
// and a minimal PVH guest generated here (so some runs need nothing but the VMM).
#pragma once

#include "support/subprocess.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace monarch::test {

[[nodiscard]] std::string vmm_path();
// The build tree's testos.elf, if it was built.
[[nodiscard]] std::optional<std::string> built_testos();

// Runs monarch-vmm with `args` (stdin /dev/null, 30 s timeout unless given).
[[nodiscard]] ProcessResult run_vmm(std::vector<std::string> const& args,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A file in a fresh per-test directory under /tmp, holding `bytes`.
[[nodiscard]] std::string scratch_file(std::string const& name, std::vector<uint8_t> const& bytes);
[[nodiscard]] std::string scratch_directory();

// An ELF64 executable with a PVH entry note whose 32-bit code writes `status` to the
// debug-exit port and halts: the smallest guest monarch-vmm can boot.
[[nodiscard]] std::vector<uint8_t> minimal_pvh_guest(uint8_t status);

// Lines of the output that start with "monarch-vmm: error: ".
[[nodiscard]] std::vector<std::string> error_lines(std::string const& output);

} // namespace monarch::test

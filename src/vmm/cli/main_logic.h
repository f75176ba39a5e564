// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's main logic: parse the command line, resolve the kernel (the built-in test guest
// when none is given), build the VM, run it, and turn every outcome into the exit status.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace monarch::vmm::cli {

[[nodiscard]] int run_monarch_vmm(int argc, char const* const* argv);

// Where the built-in test guest is looked for, in order: $MONARCH_TESTOS, testos.elf next to
// the program, the build tree's guests/testos/testos.elf, and <datadir>/monarch/testos.elf.
[[nodiscard]] std::vector<std::string> testos_candidates();
[[nodiscard]] std::optional<std::string> find_testos();

} // namespace monarch::vmm::cli

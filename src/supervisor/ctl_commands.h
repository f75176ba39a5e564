// SPDX-License-Identifier: Apache-2.0
// monarchctl's commands (docs/monarchctl.md): the CLI11 command line, one request (or a few)
// to monarchd per command, human or --json output, and the exit status.
#pragma once

namespace monarch::supervisor::ctl {

[[nodiscard]] int run_monarchctl(int argc, char const* const* argv);

} // namespace monarch::supervisor::ctl

// SPDX-License-Identifier: Apache-2.0
// monarchctl console: attaches the terminal to a VM's serial pty (raw mode, restored on
// exit) until the escape byte Ctrl-] (0x1d, as telnet and virsh console use) or the VM ends.
#pragma once

#include <string>

namespace monarch::supervisor::ctl {

inline constexpr char CONSOLE_ESCAPE = 0x1d; // Ctrl-]

// Returns true on a detach by the escape byte or the end of stdin, false (with `error`) when
// the pty cannot be opened or fails.
[[nodiscard]] bool attach_console(std::string const& pty_path, std::string& error);

} // namespace monarch::supervisor::ctl

// SPDX-License-Identifier: Apache-2.0
// StateDir: monarchd's state directory. One sub-directory per VM under vms/ holds the VM's
// definition.json and state.json (each replaced atomically: temporary file, fsync, rename,
// fsync of the directory), its VMM's API socket and its VMM's log.
#pragma once

#include "common/result.h"

#include <string>
#include <string_view>
#include <vector>

namespace monarch::supervisor {

// /var/lib/monarch for root; else $XDG_STATE_HOME/monarch, else ~/.local/state/monarch.
[[nodiscard]] std::string default_state_dir();

// Writes `contents` to `path` so that a crash leaves either the old or the new file, never a
// partial one: path.tmp is written and fsynced, renamed over path, and the directory fsynced.
[[nodiscard]] Result<void> write_file_atomically(std::string const& path, std::string_view contents);

// Reads a small file (a definition, a state file, /proc/PID/stat) whole; OutOfRange past `limit`.
[[nodiscard]] Result<std::string> read_text_file(std::string const& path, uint64_t limit = 1024 * 1024);

class StateDir {
public:
    // Creates the directory and vms/ (mode 0750) when missing.
    [[nodiscard]] static Result<StateDir> open(std::string root);

    [[nodiscard]] std::string const& root() const { return m_root; }
    [[nodiscard]] std::string vm_dir(std::string_view name) const;
    [[nodiscard]] std::string definition_path(std::string_view name) const { return vm_dir(name) + "/definition.json"; }
    [[nodiscard]] std::string state_path(std::string_view name) const { return vm_dir(name) + "/state.json"; }
    [[nodiscard]] std::string api_socket_path(std::string_view name) const { return vm_dir(name) + "/api.sock"; }
    [[nodiscard]] std::string log_path(std::string_view name) const { return vm_dir(name) + "/vmm.log"; }

    // The names of the VM directories present (valid VM names only).
    [[nodiscard]] Result<std::vector<std::string>> list_vms() const;
    [[nodiscard]] Result<void> create_vm_dir(std::string_view name) const;
    // Removes the VM's directory and everything in it (only files; it has no sub-directories).
    [[nodiscard]] Result<void> remove_vm_dir(std::string_view name) const;

private:
    explicit StateDir(std::string root) : m_root(std::move(root)) {}
    std::string m_root;
};

} // namespace monarch::supervisor

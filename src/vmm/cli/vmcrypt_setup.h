// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's VMCrypt start-up: with --owner-key, make the process non-dumpable, load the
// owner key and create the VM's sealing keys; with --restore (no API), restore and run the VM.
#pragma once

#include "vmm/api/machine_backend.h"
#include "vmm/cli/options.h"
#include "vmm/cli/owner_key_option.h"
#include "vmm/cli/run_until_end.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <expected>
#include <optional>

namespace monarch::vmm::cli {

// The exit status of a snapshot that --restore refuses: docs/vmcrypt.md, "Exit status".
inline constexpr int RESTORE_REFUSED = api::RESTORE_REFUSED;

// PR_SET_DUMPABLE 0 first, then the key: a failure is the exit to take (NoInput for a missing
// or unreadable key file, Usage for a refused one: permissions, owner, length). Seals for
// `uuid` (canonical text) when given, else for a random UUID.
[[nodiscard]] std::expected<vmcrypt::VmSealing, CliExit> set_up_sealing(OwnerKeySpec const&, std::optional<std::string> const& uuid);

// --restore's request from the command line: the URL's path (Usage for a URL that is not
// file:///...), --platform's UUID as the VM the snapshot must be of, --serial if given.
[[nodiscard]] std::expected<api::RestoreRequest, CliExit> restore_request(Options const&);

// --restore without --api-socket: restores the VM (api::restore_vm) and runs it until it ends.
// A refusal prints one line and returns its exit status (RESTORE_REFUSED for the snapshot
// itself) before any vCPU exists. `signal_fd`: from block_termination_signals().
// A guest reset after the restore boots the snapshot's configuration afresh (run_until_end).
[[nodiscard]] int run_restore(api::RestoreRequest const&, vmcrypt::VmSealing&, int signal_fd, RebootPolicy const& policy);

} // namespace monarch::vmm::cli

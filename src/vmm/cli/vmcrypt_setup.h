// SPDX-License-Identifier: Apache-2.0
// monarch-vmm's VMCrypt start-up: with --owner-key, make the process non-dumpable, load the
// owner key and create the VM's sealing keys; with --restore, verify and load a snapshot.
#pragma once

#include "vmm/cli/options.h"
#include "vmm/cli/owner_key_option.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <expected>
#include <optional>

namespace monarch::vmm::cli {

// The exit status of a snapshot that --restore refuses (tampered, truncated, spliced,
// replayed, wrong key): docs/vmcrypt.md, "Exit status".
inline constexpr int RESTORE_REFUSED = 76;

// PR_SET_DUMPABLE 0 first, then the key: a failure is the exit to take (NoInput for a missing
// or unreadable key file, Usage for a refused one: permissions, owner, length).
[[nodiscard]] std::expected<vmcrypt::VmSealing, CliExit> set_up_sealing(OwnerKeySpec const&);

// --restore: reads the snapshot's manifest, builds guest memory of its size, verifies and
// loads every record. Returns the exit status: RESTORE_REFUSED with one line on stderr when
// the snapshot is refused; starts no vCPU in any case (see docs/vmcrypt.md, "Not done").
[[nodiscard]] int run_restore(RestoreSpec const&, vmcrypt::VmSealing&, uint64_t host_total);

} // namespace monarch::vmm::cli

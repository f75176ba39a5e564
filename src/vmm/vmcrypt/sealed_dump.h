// SPDX-License-Identifier: Apache-2.0
// The encrypted memory dump (Cloud Hypervisor's vm.coredump, sealed): one sealed stream file,
// mode 0600, holding a "dump.info" state record, the vCPU state records that could be
// captured, and every page of guest RAM. Only the VM owner opens it (monarch-unseal).
#pragma once

#include "common/named_state.h"
#include "common/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/vmcrypt/clear_regions.h"
#include "vmm/vmcrypt/sealed_view.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <span>
#include <string>
#include <vector>

namespace monarch::vmm::vmcrypt {

// A named blob to seal beside the memory (e.g. "vcpu0"); see crypt::format::valid_state_name.
using monarch::NamedState;

struct DumpContents {
    ClearRegions const* clear_regions { nullptr }; // listed in dump.info; may be null
    uint32_t vcpu_count { 0 };
    // Why there are no vCPU records, when there are none ("no vCPUs are running", ...).
    std::string vcpu_state_note;
    std::span<NamedState const> states;            // captured vCPU (and other) state
};

// The text of the "dump.info" record (JSON): format, VM UUID, RAM ranges, clear regions,
// vCPU count and the note.
[[nodiscard]] std::string dump_info_json(GuestMemory const&, crypt::VmUuid const&, DumpContents const&);

// Writes the dump to `path` (a new file: an existing one is never replaced) and returns the
// generation it was sealed under. On any failure the file is removed.
[[nodiscard]] Result<crypt::Generation> write_sealed_dump(std::string const& path, GuestMemory&, VmSealing&,
    DumpContents const&, Progress const& progress = {});

} // namespace monarch::vmm::vmcrypt

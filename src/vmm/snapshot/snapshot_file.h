// SPDX-License-Identifier: Apache-2.0
// A snapshot directory (Cloud Hypervisor's vm.snapshot destination): "state.sealed", one sealed
// stream of the snapshot.info record, the vCPU and device state records and every RAM page;
// and "manifest.json", in the clear, with only what the management plane already had (the VM
// config it gave, the UUID, the generation and stream id that tie the manifest to its stream).
// An incremental snapshot is the same directory with only the pages dirtied since its parent;
// its manifest says where the parent lies and its sealed snapshot.info which stream it is.
#pragma once

#include "common/result.h"
#include "crypt/stream_reader.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/snapshot/snapshot_info.h"
#include "vmm/vmcrypt/sealed_dump.h"
#include "vmm/vmcrypt/sealed_view.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace monarch::vmm::snapshot {

inline constexpr std::string_view STATE_FILE = "state.sealed";
inline constexpr std::string_view MANIFEST_FILE = "manifest.json";
inline constexpr std::string_view MANIFEST_FORMAT = "monarch-snapshot/1";

struct SnapshotWritten {
    crypt::Generation generation;
    crypt::StreamId stream;
    uint64_t pages { 0 };
};

// The parent of an incremental snapshot: where its directory lies (written to the manifest as
// given: absolute, or relative to the increment's own directory) and which stream it is.
struct SnapshotLink {
    std::string directory;
    ParentRef ref;
};

// What an incremental snapshot holds beyond the state records: the pages written since the
// parent, as page-aligned pieces each inside one RAM range (take_dirty_pieces).
struct Increment {
    SnapshotLink parent;
    std::vector<GuestRamRange> pieces;
};

// The most links restore follows from an increment back to its full snapshot.
inline constexpr size_t MAX_CHAIN = 64;

// Writes both files into `directory` (created with mode 0700 if absent; an existing
// state.sealed or manifest.json is never replaced). The VM must be paused. `states` are the
// vCPU and device records ("vcpu0", "uart.com1", ...); `config` is the VM config as JSON.
[[nodiscard]] Result<SnapshotWritten> write_snapshot(std::string const& directory, GuestMemory&, vmcrypt::VmSealing&,
    std::span<vmcrypt::NamedState const> states, nlohmann::json const& config, vmcrypt::Progress const& progress = {});
// As write_snapshot, but an incremental snapshot: every state record, and only the pages of
// `increment` (pass memory that does not mark what it reads: UntrackedGuestMemory).
[[nodiscard]] Result<SnapshotWritten> write_incremental_snapshot(std::string const& directory, GuestMemory&,
    vmcrypt::VmSealing&, std::span<vmcrypt::NamedState const> states, nlohmann::json const& config,
    Increment const& increment, vmcrypt::Progress const& progress = {});

struct RestoredSnapshot {
    crypt::StreamInfo info;
    std::vector<vmcrypt::NamedState> states;
    nlohmann::json config;
    uint64_t pages { 0 };   // written into the target, over the whole chain
    size_t links { 1 };     // snapshots applied: 1 for a full one, more for a chain
};

// Where a refused restore failed, beside the Error.
struct RestoreFailure {
    Error error;
    crypt::ReadFailure where; // set when the sealed stream itself failed
};

// Opens `directory` with the owner key and writes its pages into `target`, whose RAM ranges
// must be those of the snapshot. Every record is authenticated before use, the stream must end
// with its end record, and the manifest's UUID, generation and stream id must be the stream's;
// with `expected`, the generation must be that one (a replayed older snapshot is refused).
// An incremental snapshot is followed through its parents to the full snapshot (at most
// MAX_CHAIN links); their pages are applied base first, then each increment, and the state
// records are the last one's. Each increment's sealed parent must be the stream applied before
// it (a wrong, missing or reordered link is refused), and `expected` is checked against the
// last one. On failure `target` holds a partial, unusable image: nothing may run on it.
[[nodiscard]] std::expected<RestoredSnapshot, RestoreFailure> read_snapshot(std::string const& directory,
    crypt::OwnerKey const&, GuestMemory& target, std::optional<crypt::Generation> expected,
    vmcrypt::Progress const& progress = {});

// One line for a refused restore: "snapshot refused: <why> (offset N, record N, GPA 0x...)".
[[nodiscard]] std::string describe(RestoreFailure const&);

// The snapshot's clear manifest alone (for monarch-vmm --restore to learn the memory size
// and config before the memory exists). Errc::Corrupt when it is not a manifest of ours.
[[nodiscard]] Result<nlohmann::json> read_manifest(std::string const& directory);

} // namespace monarch::vmm::snapshot

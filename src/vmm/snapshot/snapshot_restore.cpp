// SPDX-License-Identifier: Apache-2.0
// Reading a snapshot back: manifest, then the sealed stream record by record into guest RAM;
// for an incremental snapshot, the chain of its parents first, base to last.
#include "vmm/snapshot/snapshot_file.h"

#include "crypt/byte_stream.h"
#include "vmm/snapshot/snapshot_info.h"

#include <algorithm>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

namespace monarch::vmm::snapshot {

namespace {

using Restore = std::expected<RestoredSnapshot, RestoreFailure>;

std::unexpected<RestoreFailure> refuse(Errc code, std::string_view why) { return std::unexpected(RestoreFailure { Error { code, 0, why }, {} }); }
std::unexpected<RestoreFailure> refuse(Error error) { return std::unexpected(RestoreFailure { error, {} }); }

bool same_ranges(std::span<GuestRamRange const> a, std::span<GuestRamRange const> b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
        [](GuestRamRange const& x, GuestRamRange const& y) { return x.base == y.base && x.size == y.size; });
}

// One snapshot directory of a chain, with its manifest.
struct Link {
    std::string directory;
    nlohmann::json manifest;
};

// The manifest and the stream must describe the same snapshot (no splicing of one snapshot's
// manifest with another's stream), and the generation must be the expected one.
Result<void> check_identity(nlohmann::json const& manifest, crypt::StreamInfo const& info, std::optional<crypt::Generation> expected)
{
    if (manifest["vm"].get<std::string>() != info.vm.to_string() || manifest["generation"].get<uint64_t>() != info.generation.raw()
        || manifest["stream_id"].get<std::string>() != info.stream.to_string())
        return fail(Errc::Corrupt, "snapshot: manifest.json and state.sealed are not of the same snapshot");
    if (expected && *expected != info.generation)
        return fail(Errc::Corrupt, "snapshot: not the expected generation (a replayed or stale snapshot)");
    return {};
}

// The sealed snapshot.info names the parent; it must be the stream applied just before
// (`parent`), and only the first link of a chain may be a full snapshot.
Result<void> check_parent(SnapshotInfo const& info, std::optional<crypt::StreamInfo> const& parent)
{
    if (!parent && info.parent)
        return fail(Errc::Corrupt, "snapshot: an incremental snapshot whose parent is missing from the chain");
    if (parent && !info.parent)
        return fail(Errc::Corrupt, "snapshot: a full snapshot inside a chain of increments");
    if (parent && *info.parent != ParentRef { parent->stream, parent->generation })
        return fail(Errc::Corrupt, "snapshot: the increment's sealed parent is not the snapshot before it (wrong or reordered link)");
    return {};
}

Result<void> apply_record(crypt::Record const& record, GuestMemory& target, RestoredSnapshot& out, std::optional<SnapshotInfo>& info,
    std::optional<crypt::StreamInfo> const& parent)
{
    if (record.type == crypt::RecordType::State) {
        if (!info) {
            if (record.name != "snapshot.info")
                return fail(Errc::Corrupt, "snapshot: the first record is not snapshot.info");
            info = TRY(decode_info(record.data));
            if (!same_ranges(info->ram, target.ranges()))
                return fail(Errc::InvalidArgument, "snapshot: its guest memory layout differs from this VM's");
            return check_parent(*info, parent);
        }
        out.states.push_back({ std::string(record.name), std::vector<std::byte>(record.data.begin(), record.data.end()) });
        return {};
    }
    if (!info)
        return fail(Errc::Corrupt, "snapshot: the first record is not snapshot.info");
    if (!target.write(record.gpa, record.data))
        return fail(Errc::Corrupt, "snapshot: a page lies outside guest RAM");
    out.pages += record.data.size() / vmcrypt::PAGE_SIZE;
    return {};
}

// The directory of a link's parent: as the manifest gives it, relative to the link's own.
std::string parent_directory(Link const& link)
{
    auto const parent = link.manifest["parent"]["directory"].get<std::string>();
    return parent.starts_with('/') ? parent : fmt::format("{}/{}", link.directory, parent);
}

// Follows the manifests' parent links from `directory` to the full snapshot; base first. The
// clear manifests are only a map: each link is authenticated by its sealed stream later.
Result<std::vector<Link>> collect_chain(std::string const& directory)
{
    std::vector<Link> chain { Link { directory, TRY(read_manifest(directory)) } };
    while (chain.back().manifest.contains("parent")) {
        if (chain.size() == MAX_CHAIN)
            return fail(Errc::Corrupt, "snapshot: the chain of increments is too long or loops");
        auto const& wanted = chain.back().manifest["parent"];
        auto const path = parent_directory(chain.back());
        auto manifest = read_manifest(path);
        if (!manifest)
            return fail(Errc::NotFound, "snapshot: the parent of an incremental snapshot is missing or unreadable");
        if ((*manifest)["stream_id"] != wanted["stream_id"] || (*manifest)["generation"] != wanted["generation"])
            return fail(Errc::Corrupt, "snapshot: the parent directory holds another snapshot than the increment's parent");
        chain.push_back(Link { path, std::move(*manifest) });
    }
    std::reverse(chain.begin(), chain.end());
    return chain;
}

// Applies one link's stream to `target`: its pages, and its state records into `out` (those
// of earlier links replaced). Returns the stream's header.
std::expected<crypt::StreamInfo, RestoreFailure> apply_link(Link const& link, crypt::OwnerKey const& owner, GuestMemory& target,
    std::optional<crypt::StreamInfo> const& parent, RestoredSnapshot& out, vmcrypt::Progress const& progress)
{
    auto const path = fmt::format("{}/{}", link.directory, STATE_FILE);
    // SAFETY: open(2) with a NUL-terminated path; owned at once.
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return refuse(Error::from_errno("open snapshot state.sealed"));
    auto reader = crypt::StreamReader::open(crypt::fd_source(fd.get()), owner);
    if (!reader)
        return refuse(reader.error());
    if (auto identity = check_identity(link.manifest, reader->info(), std::nullopt); !identity)
        return refuse(identity.error());
    if (parent && parent->vm != reader->info().vm)
        return refuse(Errc::Corrupt, "snapshot: an increment of another VM in the chain");
    out.states.clear();
    std::optional<SnapshotInfo> info;
    uint64_t const total = target.total_size() / vmcrypt::PAGE_SIZE;
    uint64_t const before = out.pages;
    for (;;) {
        auto record = reader->next();
        if (!record)
            return std::unexpected(RestoreFailure { record.error(), reader->failure() });
        if (record->type == crypt::RecordType::End)
            break;
        if (auto applied = apply_record(*record, target, out, info, parent); !applied)
            return std::unexpected(RestoreFailure { applied.error(), reader->failure() });
        if (progress && record->type == crypt::RecordType::MemoryPages)
            progress(out.pages - before, total);
    }
    if (!info || (!parent && out.pages - before != total))
        return refuse(Errc::Corrupt, "snapshot: it does not hold every page of guest RAM");
    return reader->info();
}

} // namespace

Restore read_snapshot(std::string const& directory, crypt::OwnerKey const& owner, GuestMemory& target,
    std::optional<crypt::Generation> expected, vmcrypt::Progress const& progress)
{
    auto chain = collect_chain(directory);
    if (!chain)
        return refuse(chain.error());
    RestoredSnapshot out;
    std::optional<crypt::StreamInfo> parent;
    for (auto const& link : *chain) {
        auto applied = apply_link(link, owner, target, parent, out, progress);
        if (!applied)
            return std::unexpected(applied.error());
        parent = *applied;
    }
    if (auto identity = check_identity(chain->back().manifest, *parent, expected); !identity)
        return refuse(identity.error());
    out.info = *parent;
    out.config = chain->back().manifest["config"];
    out.links = chain->size();
    return out;
}

std::string describe(RestoreFailure const& failure)
{
    std::string text = fmt::format("snapshot refused: {}", to_string(failure.error));
    if (failure.where.record_index)
        text += fmt::format(" (offset {}, record {}", failure.where.offset, *failure.where.record_index);
    if (failure.where.record_index && failure.where.gpa)
        text += fmt::format(", GPA 0x{:x}", failure.where.gpa->raw());
    if (failure.where.record_index)
        text += ")";
    return text;
}

} // namespace monarch::vmm::snapshot

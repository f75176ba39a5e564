// SPDX-License-Identifier: Apache-2.0
// Reading a snapshot back: manifest, then the sealed stream record by record into guest RAM.
#include "vmm/snapshot/snapshot_file.h"

#include "crypt/byte_stream.h"
#include "vmm/snapshot/snapshot_info.h"

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

Result<void> apply_record(crypt::Record const& record, GuestMemory& target, RestoredSnapshot& out, std::optional<SnapshotInfo>& info)
{
    if (record.type == crypt::RecordType::State) {
        if (!info) {
            if (record.name != "snapshot.info")
                return fail(Errc::Corrupt, "snapshot: the first record is not snapshot.info");
            info = TRY(decode_info(record.data));
            if (!same_ranges(info->ram, target.ranges()))
                return fail(Errc::InvalidArgument, "snapshot: its guest memory layout differs from this VM's");
            return {};
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

} // namespace

Restore read_snapshot(std::string const& directory, crypt::OwnerKey const& owner, GuestMemory& target,
    std::optional<crypt::Generation> expected, vmcrypt::Progress const& progress)
{
    auto manifest = read_manifest(directory);
    if (!manifest)
        return refuse(manifest.error());
    auto const path = fmt::format("{}/{}", directory, STATE_FILE);
    // SAFETY: open(2) with a NUL-terminated path; owned at once.
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return refuse(Error::from_errno("open snapshot state.sealed"));
    auto reader = crypt::StreamReader::open(crypt::fd_source(fd.get()), owner);
    if (!reader)
        return refuse(reader.error());
    if (auto identity = check_identity(*manifest, reader->info(), expected); !identity)
        return refuse(identity.error());

    RestoredSnapshot out;
    out.info = reader->info();
    out.config = (*manifest)["config"];
    std::optional<SnapshotInfo> info;
    uint64_t const total = target.total_size() / vmcrypt::PAGE_SIZE;
    for (;;) {
        auto record = reader->next();
        if (!record)
            return std::unexpected(RestoreFailure { record.error(), reader->failure() });
        if (record->type == crypt::RecordType::End)
            break;
        if (auto applied = apply_record(*record, target, out, info); !applied)
            return std::unexpected(RestoreFailure { applied.error(), reader->failure() });
        if (progress && record->type == crypt::RecordType::MemoryPages)
            progress(out.pages, total);
    }
    if (!info || out.pages != total)
        return refuse(Errc::Corrupt, "snapshot: it does not hold every page of guest RAM");
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

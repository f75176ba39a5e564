// SPDX-License-Identifier: Apache-2.0
// Writing and reading snapshot directories.
#include "vmm/snapshot/snapshot_file.h"

#include "common/read_file.h"
#include "crypt/byte_stream.h"
#include "vmm/snapshot/snapshot_info.h"
#include "vmm/vmcrypt/sealed_file.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

namespace monarch::vmm::snapshot {

namespace {

std::string join(std::string const& directory, std::string_view name) { return fmt::format("{}/{}", directory, name); }

Result<void> ensure_directory(std::string const& directory)
{
    if (::mkdir(directory.c_str(), 0700) == 0 || errno == EEXIST) {
        struct stat status {};
        if (::stat(directory.c_str(), &status) != 0)
            return fail_errno("snapshot directory");
        if (!S_ISDIR(status.st_mode))
            return fail(Errc::InvalidArgument, "snapshot: destination is not a directory");
        return {};
    }
    return fail_errno("create snapshot directory");
}

nlohmann::json manifest_json(crypt::VmUuid const& vm, crypt::Generation generation, crypt::StreamId const& stream,
    uint64_t pages, nlohmann::json const& config, Increment const* increment)
{
    nlohmann::json manifest {
        { "format", MANIFEST_FORMAT },
        { "vm", vm.to_string() },
        { "generation", generation.raw() },
        { "stream_id", stream.to_string() },
        { "state_file", STATE_FILE },
        { "memory_pages", pages },
        { "config", config },
    };
    if (increment)
        manifest["parent"] = {
            { "directory", increment->parent.directory },
            { "stream_id", increment->parent.ref.stream.to_string() },
            { "generation", increment->parent.ref.generation.raw() },
        };
    return manifest;
}

uint32_t count_vcpus(std::span<vmcrypt::NamedState const> states)
{
    // "vcpu0", "vcpu1"...: one per vCPU (not other records a vCPU may have, "vcpu0.xsave").
    uint32_t count = 0;
    for (auto const& state : states)
        count += state.name.starts_with("vcpu") && state.name.size() > 4
                && std::all_of(state.name.begin() + 4, state.name.end(), [](char c) { return c >= '0' && c <= '9'; })
            ? 1
            : 0;
    return count;
}

Result<void> check_pieces(GuestMemory const& memory, std::span<GuestRamRange const> pieces)
{
    for (auto const& piece : pieces) {
        if (piece.base.raw() % vmcrypt::PAGE_SIZE != 0 || piece.size % vmcrypt::PAGE_SIZE != 0 || piece.size == 0)
            return fail(Errc::InvalidArgument, "snapshot: an increment piece is not whole pages");
        TRY(find_range(memory.ranges(), piece.base, piece.size));
    }
    return {};
}

Result<SnapshotWritten> write(std::string const& directory, GuestMemory& memory, vmcrypt::VmSealing& sealing,
    std::span<vmcrypt::NamedState const> states, nlohmann::json const& config, Increment const* increment,
    vmcrypt::Progress const& progress)
{
    TRY_VOID(ensure_directory(directory));
    auto pieces = increment ? increment->pieces : TRY(vmcrypt::view_pieces(memory, std::nullopt));
    TRY_VOID(check_pieces(memory, pieces));
    auto state_file = TRY(vmcrypt::NewSealedFile::create(join(directory, STATE_FILE)));
    auto manifest_file = TRY(vmcrypt::NewSealedFile::create(join(directory, MANIFEST_FILE)));
    auto const generation = sealing.next_generation();
    auto writer = TRY(crypt::StreamWriter::create(crypt::fd_sink(state_file.fd()), sealing.keys(), generation));

    SnapshotInfo info;
    info.ram.assign(memory.ranges().begin(), memory.ranges().end());
    info.vcpu_count = count_vcpus(states);
    if (increment)
        info.parent = increment->parent.ref;
    TRY_VOID(writer.append_state("snapshot.info", encode_info(info)));
    for (auto const& state : states)
        TRY_VOID(writer.append_state(state.name, state.bytes));
    uint64_t const pages = TRY(vmcrypt::append_memory(memory, pieces, writer, progress));
    TRY_VOID(writer.finish());

    auto const text = manifest_json(sealing.vm(), generation, writer.stream_id(), pages, config, increment).dump(2) + "\n";
    TRY_VOID(crypt::fd_sink(manifest_file.fd())(std::as_bytes(std::span { text })));
    TRY_VOID(state_file.commit());
    TRY_VOID(manifest_file.commit());
    return SnapshotWritten { generation, writer.stream_id(), pages };
}

} // namespace

Result<SnapshotWritten> write_snapshot(std::string const& directory, GuestMemory& memory, vmcrypt::VmSealing& sealing,
    std::span<vmcrypt::NamedState const> states, nlohmann::json const& config, vmcrypt::Progress const& progress)
{
    return write(directory, memory, sealing, states, config, nullptr, progress);
}

Result<SnapshotWritten> write_incremental_snapshot(std::string const& directory, GuestMemory& memory,
    vmcrypt::VmSealing& sealing, std::span<vmcrypt::NamedState const> states, nlohmann::json const& config,
    Increment const& increment, vmcrypt::Progress const& progress)
{
    return write(directory, memory, sealing, states, config, &increment, progress);
}

Result<nlohmann::json> read_manifest(std::string const& directory)
{
    auto const path = join(directory, MANIFEST_FILE);
    // SAFETY: open(2) with a NUL-terminated path; owned at once.
    UniqueFd fd { ::open(path.c_str(), O_RDONLY | O_CLOEXEC) };
    if (!fd)
        return fail_errno("open snapshot manifest");
    auto bytes = TRY(read_to_end(fd.get(), 0, 1 << 20));
    // SAFETY: std::byte and char are both byte types; `bytes` outlives the parse.
    auto manifest = nlohmann::json::parse(std::string_view(reinterpret_cast<char const*>(bytes.data()), bytes.size()), nullptr, false);
    if (manifest.is_discarded() || !manifest.is_object())
        return fail(Errc::Corrupt, "snapshot: manifest.json is not JSON");
    auto is = [&](char const* key, auto check) { return manifest.contains(key) && (manifest[key].*check)(); };
    if (!is("format", &nlohmann::json::is_string) || manifest["format"].get<std::string>() != MANIFEST_FORMAT)
        return fail(Errc::Corrupt, "snapshot: manifest.json is not a monarch-snapshot/1 manifest");
    if (!is("vm", &nlohmann::json::is_string) || !is("generation", &nlohmann::json::is_number_unsigned)
        || !is("stream_id", &nlohmann::json::is_string) || !is("config", &nlohmann::json::is_object))
        return fail(Errc::Corrupt, "snapshot: manifest.json lacks vm, generation, stream_id or config");
    if (manifest.contains("parent")) {
        auto const& parent = manifest["parent"];
        if (!parent.is_object() || !parent.contains("directory") || !parent["directory"].is_string()
            || !parent.contains("stream_id") || !parent["stream_id"].is_string() || !parent.contains("generation")
            || !parent["generation"].is_number_unsigned())
            return fail(Errc::Corrupt, "snapshot: manifest.json: parent lacks directory, stream_id or generation");
    }
    return manifest;
}

} // namespace monarch::vmm::snapshot

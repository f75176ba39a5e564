// SPDX-License-Identifier: Apache-2.0
// Loading the owner key (non-dumpable first) and the --restore path.
#include "vmm/cli/vmcrypt_setup.h"

#include "common/log.h"
#include "crypt/sodium.h"
#include "vmm/exit_status.h"
#include "vmm/memory/guest_memory_mmap.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/snapshot_file.h"
#include "vmm/vmcrypt/sealed_file.h"

#include <cstdio>
#include <fmt/format.h>

namespace monarch::vmm::cli {

namespace {

Result<crypt::OwnerKey> load_key(OwnerKeySpec const& spec)
{
    TRY_VOID(crypt::initialize());
    // Before the key is read: no core file and no ptrace by others while it is in memory.
    TRY_VOID(crypt::make_process_undumpable());
    if (spec.path)
        return crypt::OwnerKey::from_file(*spec.path);
    return crypt::OwnerKey::from_fd(UniqueFd { spec.fd });
}

int refuse(int status, std::string const& text)
{
    std::fprintf(stderr, "monarch-vmm: error: %s\n", text.c_str());
    return status;
}

} // namespace

std::expected<vmcrypt::VmSealing, CliExit> set_up_sealing(OwnerKeySpec const& spec)
{
    std::string const where = spec.path ? fmt::format("file {}", *spec.path) : fmt::format("descriptor {}", spec.fd);
    auto key = load_key(spec);
    if (!key) {
        int const status = key.error().code == Errc::Sys ? exit_status::NoInput : exit_status::Usage;
        return std::unexpected(CliExit { status, fmt::format("--owner-key: {}: {}", where, to_string(key.error())) });
    }
    auto sealing = vmcrypt::VmSealing::create_default(std::move(*key));
    if (!sealing)
        return std::unexpected(CliExit { exit_status::HostError, fmt::format("--owner-key: {}", to_string(sealing.error())) });
    // Names the source and the VM; never the key.
    log::info("vmcrypt: owner key from {}; VM {}; cipher {}; process is not dumpable", where, sealing->vm().to_string(),
        crypt::to_string(sealing->keys().cipher));
    return std::move(*sealing);
}

int run_restore(RestoreSpec const& spec, vmcrypt::VmSealing& sealing, uint64_t host_total)
{
    auto directory = vmcrypt::path_from_file_url(spec.source_url);
    if (!directory)
        return refuse(exit_status::Usage, fmt::format("--restore: '{}': {}", spec.source_url, to_string(directory.error())));
    auto manifest = snapshot::read_manifest(*directory);
    if (!manifest)
        return refuse(manifest.error().code == Errc::Sys ? exit_status::NoInput : RESTORE_REFUSED,
            fmt::format("--restore: {}: {}", *directory, to_string(manifest.error())));
    // The size the manifest claims; the sealed snapshot.info must agree before any page is used.
    auto const& pages = (*manifest)["memory_pages"];
    if (!pages.is_number_unsigned() || pages.get<uint64_t>() == 0 || pages.get<uint64_t>() > (UINT64_MAX >> 12))
        return refuse(RESTORE_REFUSED, fmt::format("--restore: {}: manifest.json has no memory_pages", *directory));
    auto memory = GuestMemoryMmap::create(pages.get<uint64_t>() * vmcrypt::PAGE_SIZE, host_total);
    if (!memory)
        return refuse(exit_status::HostError, fmt::format("--restore: guest memory: {}", to_string(memory.error())));
    std::optional<crypt::Generation> expected;
    if (spec.generation)
        expected = crypt::Generation { *spec.generation };
    auto restored = snapshot::read_snapshot(*directory, sealing.owner(), *memory, expected, vmcrypt::stderr_progress("restore"));
    if (!restored)
        return refuse(RESTORE_REFUSED, fmt::format("--restore: {}: {}", *directory, snapshot::describe(restored.error())));
    for (auto const& state : restored->states) {
        if (state.name == "uart.com1" && !snapshot::decode_uart(state.bytes))
            return refuse(RESTORE_REFUSED, fmt::format("--restore: {}: the uart.com1 record is not valid", *directory));
    }
    sealing.advance_past(restored->info.generation);
    log::info("restore: snapshot of VM {} generation {} verified: {} pages, {} state records", restored->info.vm.to_string(),
        restored->info.generation.raw(), restored->pages, restored->states.size());
    return refuse(exit_status::Config,
        fmt::format("--restore: the snapshot is intact ({} pages, generation {}), but resuming a VM from it is not "
                    "implemented yet (vCPU and irqchip state); nothing was started",
            restored->pages, restored->info.generation.raw()));
}

} // namespace monarch::vmm::cli

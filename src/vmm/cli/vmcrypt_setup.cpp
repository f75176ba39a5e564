// SPDX-License-Identifier: Apache-2.0
// Loading the owner key (non-dumpable first) and --restore without the API.
#include "vmm/cli/vmcrypt_setup.h"

#include "common/log.h"
#include "crypt/sodium.h"
#include "vmm/exit_status.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/event/event_loop.h"
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

std::expected<vmcrypt::VmSealing, CliExit> set_up_sealing(OwnerKeySpec const& spec, std::optional<std::string> const& uuid)
{
    std::string const where = spec.path ? fmt::format("file {}", *spec.path) : fmt::format("descriptor {}", spec.fd);
    auto key = load_key(spec);
    if (!key) {
        int const status = key.error().code == Errc::Sys ? exit_status::NoInput : exit_status::Usage;
        return std::unexpected(CliExit { status, fmt::format("--owner-key: {}: {}", where, to_string(key.error())) });
    }
    std::optional<crypt::VmUuid> vm;
    if (uuid) {
        auto parsed = crypt::VmUuid::parse(*uuid);
        if (!parsed)
            return std::unexpected(CliExit { exit_status::Usage, fmt::format("--platform: {}", to_string(parsed.error())) });
        vm = *parsed;
    }
    auto sealing = vmcrypt::VmSealing::create_default(std::move(*key), vm);
    if (!sealing)
        return std::unexpected(CliExit { exit_status::HostError, fmt::format("--owner-key: {}", to_string(sealing.error())) });
    // Names the source and the VM; never the key.
    log::info("vmcrypt: owner key from {}; VM {}; cipher {}; process is not dumpable", where, sealing->vm().to_string(),
        crypt::to_string(sealing->keys().cipher));
    return std::move(*sealing);
}

std::expected<api::RestoreRequest, CliExit> restore_request(Options const& options)
{
    auto const& spec = *options.restore;
    auto directory = vmcrypt::path_from_file_url(spec.source_url);
    if (!directory)
        return std::unexpected(CliExit { exit_status::Usage, fmt::format("--restore: '{}': {}", spec.source_url, to_string(directory.error())) });
    api::RestoreRequest request;
    request.directory = std::move(*directory);
    request.prefault = spec.prefault;
    request.resume = spec.resume;
    request.generation = spec.generation;
    request.uuid = options.platform_uuid;
    if (options.serial_given)
        request.serial = options.serial;
    return request;
}

int run_restore(api::RestoreRequest const& request, vmcrypt::VmSealing& sealing, int signal_fd, RebootPolicy const& policy)
{
    event::EventLoop loop; // before the VM: it outlives everything the VM registers on it
    auto describe = [host_total = policy.host_total](machine::BuildError const& error, machine::VmConfig const& vm) {
        auto exit = describe_build_error(error, vm, host_total);
        return api::BuildFailure { exit.status, exit.text };
    };
    auto restored = api::restore_vm(request, loop, sealing, describe);
    if (!restored)
        return refuse(restored.error().exit_status, fmt::format("--restore: {}", restored.error().message));
    log::info("restore: running VM {} from generation {}", restored->config.platform.uuid.value_or("?"), restored->generation.raw());
    return run_until_end(std::move(restored->vmm), restored->config, loop, signal_fd, policy);
}

} // namespace monarch::vmm::cli

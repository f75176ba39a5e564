// SPDX-License-Identifier: Apache-2.0
// MachineBackend: VmBuilder builds, Vmm runs; pause/resume park the vCPU threads, shutdown
// stops and frees everything (vCPUs first, as Vmm's destructor does). restore_vm: a VM from a
// sealed snapshot, refused before anything runs.
#include "vmm/api/machine_backend.h"

#include "common/log.h"
#include "crypt/types.h"
#include "vmm/api/vm_config_json.h"
#include "vmm/exit_status.h"
#include "vmm/machine/vm_builder.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/snapshot_file.h"

#include <algorithm>
#include <fmt/format.h>

namespace monarch::vmm::api {

namespace {

std::unexpected<RestoreError> refused(std::string message)
{
    return std::unexpected(RestoreError { 400, RESTORE_REFUSED, std::move(message) });
}

// The manifest's config, with the VM's UUID checked against the manifest (which the sealed
// stream's header must match: read_snapshot) and against the one the caller expects.
std::expected<machine::VmConfig, RestoreError> manifest_config(RestoreRequest const& request, nlohmann::json const& manifest)
{
    auto config = vm_config_from_json(manifest["config"]);
    if (!config)
        return refused(fmt::format("snapshot refused: manifest.json: config: {}", config.error()));
    auto const vm = machine::canonical_uuid(manifest["vm"].get<std::string>());
    if (!vm)
        return refused("snapshot refused: manifest.json: vm is not a UUID");
    if (config->platform.uuid && *config->platform.uuid != *vm)
        return refused(fmt::format("snapshot refused: manifest.json: config.platform.uuid {} is not the snapshot's VM {}",
            *config->platform.uuid, *vm));
    if (request.uuid && *request.uuid != *vm)
        return refused(fmt::format("snapshot refused: it is a snapshot of VM {}, not of VM {}", *vm, *request.uuid));
    config->platform.uuid = *vm;
    if (request.serial)
        config->serial = *request.serial;
    return std::move(*config);
}

bool is_vcpu_record(std::string_view name)
{
    if (!name.starts_with("vcpu") || name.size() == 4)
        return false;
    return std::all_of(name.begin() + 4, name.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// "vcpu0", "vcpu1"... (the per-vCPU records capture_machine_state names so): exactly the
// config's count (apply_machine_state finds each by name; an extra one would be dropped).
Result<void> check_vcpu_records(std::span<NamedState const> states, uint32_t cpus)
{
    auto const count = std::ranges::count_if(states, [](NamedState const& state) { return is_vcpu_record(state.name); });
    if (count != static_cast<std::ptrdiff_t>(cpus))
        return fail(Errc::Corrupt, "snapshot: its vCPU records do not match the config's vCPU count");
    return {};
}

} // namespace

std::expected<RestoredVm, RestoreError> restore_vm(RestoreRequest const& request, event::EventLoop& loop,
    vmcrypt::VmSealing& sealing, DescribeBuildError const& describe)
{
    auto manifest = snapshot::read_manifest(request.directory);
    if (!manifest) {
        if (manifest.error().code == Errc::Sys)
            return std::unexpected(RestoreError { 400, exit_status::NoInput, fmt::format("{}: {}", request.directory, to_string(manifest.error())) });
        return refused(fmt::format("snapshot refused: {}", to_string(manifest.error())));
    }
    auto parsed = manifest_config(request, *manifest);
    if (!parsed)
        return std::unexpected(std::move(parsed.error()));
    auto config = std::move(*parsed);
    std::optional<crypt::Generation> expected;
    if (request.generation)
        expected = crypt::Generation { *request.generation };

    // The sealed stream goes into the new RAM before /dev/kvm is opened; a refusal is kept here
    // (the builder reports only that its memory step failed).
    std::optional<snapshot::RestoredSnapshot> restored;
    std::optional<std::string> refusal;
    auto fill = [&](GuestMemoryMmap& memory) -> Result<void> {
        auto read = snapshot::read_snapshot(request.directory, sealing.owner(), memory, expected, vmcrypt::stderr_progress("restore"));
        if (!read) {
            refusal = snapshot::describe(read.error());
            return fail(Errc::Corrupt, "snapshot refused");
        }
        if (auto counted = check_vcpu_records(read->states, config.cpus); !counted) {
            refusal = fmt::format("snapshot refused: {}", to_string(counted.error()));
            return fail(Errc::Corrupt, "snapshot refused");
        }
        restored = std::move(*read);
        return {};
    };
    auto built = machine::VmBuilder(config, loop).build_restored(fill);
    if (!built) {
        if (refusal)
            return refused(std::move(*refusal));
        auto failure = describe(built.error(), config);
        return std::unexpected(RestoreError { 500, failure.exit_status, std::move(failure.message) });
    }
    // Before any vCPU runs (the builder started none).
    if (auto applied = snapshot::apply_machine_state(**built, restored->states); !applied) {
        if (applied.error().code == Errc::Sys)
            return std::unexpected(RestoreError { 500, exit_status::HostError, fmt::format("restore: {}", to_string(applied.error())) });
        return refused(fmt::format("snapshot refused: {}", to_string(applied.error())));
    }
    if (auto bound = sealing.rebind(restored->info.vm); !bound)
        return std::unexpected(RestoreError { 500, exit_status::HostError, fmt::format("VMCrypt: {}", to_string(bound.error())) });
    sealing.advance_past(restored->info.generation);
    log::info("restore: VM {} from generation {}: {} pages, {} state records", restored->info.vm.to_string(),
        restored->info.generation.raw(), restored->pages, restored->states.size());
    return RestoredVm { std::move(*built), std::move(config), restored->info.generation };
}

std::expected<void, std::string> MachineBackend::boot(machine::VmConfig const& config)
{
    shutdown();
    return build_and_start(config, nullptr);
}

std::expected<void, std::string> MachineBackend::reboot(machine::VmConfig const& config)
{
    auto serial = m_vmm ? m_vmm->release_serial() : nullptr;
    shutdown();
    return build_and_start(config, std::move(serial));
}

std::expected<void, std::string> MachineBackend::build_and_start(machine::VmConfig const& config, std::unique_ptr<CharBackend> kept_serial)
{
    if (m_sealing && config.platform.uuid) {
        auto uuid = crypt::VmUuid::parse(*config.platform.uuid);
        auto bound = uuid ? m_sealing->rebind(*uuid) : Result<void>(std::unexpected(uuid.error()));
        if (!bound) {
            m_last_failure_status = exit_status::HostError;
            return std::unexpected(fmt::format("VMCrypt: cannot seal for VM {}: {}", *config.platform.uuid, to_string(bound.error())));
        }
    }
    auto built = machine::VmBuilder(config, m_loop).keep_serial(std::move(kept_serial)).build();
    if (!built) {
        auto failure = m_describe(built.error(), config);
        m_last_failure_status = failure.exit_status;
        return std::unexpected(std::move(failure.message));
    }
    return adopt(std::move(*built), config.memory, true);
}

std::expected<void, std::string> MachineBackend::adopt(std::unique_ptr<machine::Vmm> vmm, uint64_t memory, bool run)
{
    // A VM that is to stay paused gets its pause request before its threads exist: each parks
    // before its first KVM_RUN, and the second pause() returns once all of them have.
    if (!run)
        vmm->pause();
    if (auto started = vmm->start(); !started) {
        vmm->stop();
        m_last_failure_status = exit_status::HostError;
        return std::unexpected(fmt::format("cannot start the VM: {}", to_string(started.error())));
    }
    if (!run)
        vmm->pause();
    auto watch = vmm->watch_exit(m_loop, [this](int status) {
        log::info("the guest ended with status {}", status);
        m_on_guest_exit(status);
    });
    if (!watch) {
        vmm->stop();
        m_last_failure_status = exit_status::HostError;
        return std::unexpected(fmt::format("cannot watch the VM: {}", to_string(watch.error())));
    }
    m_vmm = std::move(vmm);
    m_exit_watch = std::move(*watch);
    m_memory = memory;
    return {};
}

std::expected<machine::VmConfig, BackendError> MachineBackend::restore(RestoreRequest const& request)
{
    shutdown();
    if (!m_sealing)
        return std::unexpected(BackendError { 409, "vm.restore: monarch-vmm has no owner key (--owner-key): a sealed snapshot cannot be opened" });
    auto restored = restore_vm(request, m_loop, *m_sealing, m_describe);
    if (!restored) {
        m_last_failure_status = restored.error().exit_status;
        return std::unexpected(BackendError { restored.error().http_status, restored.error().message });
    }
    if (auto adopted = adopt(std::move(restored->vmm), restored->config.memory, request.resume); !adopted)
        return std::unexpected(BackendError { 500, adopted.error() });
    return std::move(restored->config);
}

std::expected<void, std::string> MachineBackend::pause()
{
    if (!m_vmm)
        return std::unexpected(std::string("there is no VM to pause"));
    m_vmm->pause();
    return {};
}

void MachineBackend::resume()
{
    if (m_vmm)
        m_vmm->resume();
}

void MachineBackend::shutdown()
{
    m_exit_watch.reset();
    if (m_vmm) {
        m_vmm->stop();
        m_vmm.reset();
    }
}

void MachineBackend::power_button()
{
    if (m_vmm)
        m_vmm->press_power_button();
}

BackendDetails MachineBackend::details() const
{
    BackendDetails details;
    if (m_vmm) {
        details.serial_pty = m_vmm->serial_pty_path();
        details.console_pty = m_vmm->console_pty_path();
    }
    details.memory_actual_size = m_memory;
    return details;
}

Counters MachineBackend::counters() const
{
    Counters counters;
    if (!m_vmm)
        return counters;
    auto const& vcpus = m_vmm->vcpus().counters();
    counters["vcpus"] = {
        { "exits", vcpus.exits.load() },
        { "unclaimed_pio", vcpus.unclaimed_pio.load() },
        { "unclaimed_mmio", vcpus.unclaimed_mmio.load() },
        { "user_hlt", vcpus.user_hlt.load() },
    };
    auto const pm = m_vmm->acpi_pm_counters();
    counters["acpi_pm"] = {
        { "power_offs", pm.power_offs },
        { "ignored_sleeps", pm.ignored_sleeps },
        { "power_button_presses", pm.power_button_presses },
        { "bad_accesses", pm.bad_accesses },
    };
    return counters;
}

} // namespace monarch::vmm::api

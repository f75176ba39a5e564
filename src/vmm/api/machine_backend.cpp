// SPDX-License-Identifier: Apache-2.0
// MachineBackend: VmBuilder builds, Vmm runs; pause/resume park the vCPU threads, shutdown
// stops and frees everything (vCPUs first, as Vmm's destructor does).
#include "vmm/api/machine_backend.h"

#include "common/log.h"
#include "vmm/exit_status.h"
#include "vmm/machine/vm_builder.h"

#include <fmt/format.h>

namespace monarch::vmm::api {

std::expected<void, std::string> MachineBackend::boot(machine::VmConfig const& config)
{
    shutdown();
    auto built = machine::VmBuilder(config, m_loop).build();
    if (!built) {
        auto failure = m_describe(built.error(), config);
        m_last_failure_status = failure.exit_status;
        return std::unexpected(std::move(failure.message));
    }
    auto vmm = std::move(*built);
    if (auto started = vmm->start(); !started) {
        vmm->stop();
        m_last_failure_status = exit_status::HostError;
        return std::unexpected(fmt::format("cannot start the VM: {}", to_string(started.error())));
    }
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
    m_memory = config.memory;
    return {};
}

void MachineBackend::pause()
{
    if (m_vmm)
        m_vmm->pause();
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
    if (m_vmm)
        details.serial_pty = m_vmm->serial_pty_path();
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

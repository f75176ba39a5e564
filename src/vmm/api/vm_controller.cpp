// SPDX-License-Identifier: Apache-2.0
// VmController's transitions. Allowed: create and restore (not created; restore leads to
// Paused, or Running with resume), boot (Created, Shutdown),
// pause (Running), resume (Paused), shutdown/reboot/power-button (Running, Paused), delete
// (always). Everything else is refused with the status cloud-hypervisor.yaml documents.
#include "vmm/api/vm_controller.h"

#include "common/log.h"

#include <array>
#include <fmt/format.h>
#include <random>

namespace monarch::vmm::api {

std::string_view to_string(VmState state)
{
    switch (state) {
    case VmState::NotCreated: return "NotCreated";
    case VmState::Created: return "Created";
    case VmState::Running: return "Running";
    case VmState::Paused: return "Paused";
    case VmState::Shutdown: return "Shutdown";
    }
    return "Unknown";
}

namespace {

std::unexpected<ApiError> refuse(unsigned status, std::string message)
{
    return std::unexpected(ApiError { status, std::move(message) });
}

// RFC 4122 section 4.4, version 4: a VM created without platform.uuid still has one, which
// vm.info shows and VMCrypt seals for. An identifier, not a secret: std::random_device suffices.
std::string random_uuid()
{
    std::random_device device;
    std::array<uint8_t, 16> bytes {};
    for (auto& byte : bytes)
        byte = static_cast<uint8_t>(device());
    bytes[6] = static_cast<uint8_t>((bytes[6] & 0x0f) | 0x40);
    bytes[8] = static_cast<uint8_t>((bytes[8] & 0x3f) | 0x80);
    std::string text;
    for (size_t index = 0; index < bytes.size(); ++index)
        text += fmt::format("{}{:02x}", index == 4 || index == 6 || index == 8 || index == 10 ? "-" : "", bytes[index]);
    return text;
}

bool booted(VmState state) { return state == VmState::Running || state == VmState::Paused; }

} // namespace

ApiResult<void> VmController::require_booted(std::string_view action) const
{
    if (m_state == VmState::NotCreated)
        return refuse(STATUS_NOT_CREATED, fmt::format("cannot {}: the VM is not created", action));
    if (!booted(m_state))
        return refuse(STATUS_WRONG_STATE, fmt::format("cannot {}: the VM is not booted (state {})", action, to_string(m_state)));
    return {};
}

ApiResult<void> VmController::create(machine::VmConfig config)
{
    if (m_state != VmState::NotCreated)
        return refuse(STATUS_ALREADY_CREATED, fmt::format("cannot create: a VM exists (state {}); delete it first", to_string(m_state)));
    if (!config.platform.uuid)
        config.platform.uuid = random_uuid();
    m_config = std::move(config);
    m_state = VmState::Created;
    log::info("vm created");
    return {};
}

ApiResult<void> VmController::restore(RestoreRequest const& request)
{
    if (m_state != VmState::NotCreated)
        return refuse(STATUS_ALREADY_CREATED, fmt::format("cannot restore: a VM exists (state {}); delete it first", to_string(m_state)));
    auto config = m_backend.restore(request);
    if (!config)
        return refuse(config.error().status, config.error().message);
    m_config = std::move(*config);
    m_state = request.resume ? VmState::Running : VmState::Paused;
    log::info("vm restored from {} ({})", request.directory, to_string(m_state));
    return {};
}

ApiResult<void> VmController::boot()
{
    if (m_state == VmState::NotCreated)
        return refuse(STATUS_NOT_CREATED, "cannot boot: the VM is not created");
    if (booted(m_state))
        return refuse(STATUS_WRONG_STATE, fmt::format("cannot boot: the VM is already booted (state {})", to_string(m_state)));
    if (auto started = m_backend.boot(*m_config); !started)
        return refuse(STATUS_BACKEND_FAILED, started.error());
    m_state = VmState::Running;
    log::info("vm booted");
    return {};
}

ApiResult<void> VmController::pause()
{
    if (auto allowed = require_booted("pause"); !allowed)
        return allowed;
    if (m_state != VmState::Running)
        return refuse(STATUS_WRONG_STATE, "cannot pause: the VM is already paused");
    if (auto paused = m_backend.pause(); !paused)
        return refuse(STATUS_BACKEND_FAILED, fmt::format("cannot pause: {}", paused.error()));
    m_state = VmState::Paused;
    return {};
}

ApiResult<void> VmController::resume()
{
    if (m_state == VmState::NotCreated)
        return refuse(STATUS_NOT_CREATED, "cannot resume: the VM is not created");
    if (m_state != VmState::Paused)
        return refuse(STATUS_WRONG_STATE, fmt::format("cannot resume: the VM is not paused (state {})", to_string(m_state)));
    m_backend.resume();
    m_state = VmState::Running;
    return {};
}

ApiResult<void> VmController::shutdown()
{
    if (auto allowed = require_booted("shut down"); !allowed)
        return allowed;
    m_backend.shutdown();
    m_state = VmState::Shutdown;
    log::info("vm shut down");
    return {};
}

ApiResult<void> VmController::reboot()
{
    if (auto allowed = require_booted("reboot"); !allowed)
        return allowed;
    // A reboot is a fresh VM from the same config: memory, devices and vCPUs start over; the
    // serial console stays where it was.
    m_state = VmState::Shutdown;
    if (auto started = m_backend.reboot(*m_config); !started)
        return refuse(STATUS_BACKEND_FAILED, fmt::format("reboot: {}", started.error()));
    m_state = VmState::Running;
    log::info("vm rebooted");
    return {};
}

ApiResult<void> VmController::power_button()
{
    if (auto allowed = require_booted("press the power button"); !allowed)
        return allowed;
    m_backend.power_button();
    return {};
}

ApiResult<void> VmController::remove()
{
    if (booted(m_state))
        m_backend.shutdown();
    m_config.reset();
    m_state = VmState::NotCreated;
    return {};
}

ApiResult<VmInfo> VmController::info() const
{
    if (m_state == VmState::NotCreated)
        return refuse(STATUS_NOT_CREATED, "no VM: it is not created");
    VmInfo info { *m_config, m_state, {} };
    if (booted(m_state))
        info.details = m_backend.details();
    if (info.details.memory_actual_size == 0)
        info.details.memory_actual_size = m_config->memory;
    return info;
}

ApiResult<Counters> VmController::counters() const
{
    if (auto allowed = require_booted("read counters"); !allowed)
        return std::unexpected(allowed.error());
    return m_backend.counters();
}

void VmController::stop_for_exit()
{
    if (booted(m_state)) {
        m_backend.shutdown();
        m_state = VmState::Shutdown;
    }
}

} // namespace monarch::vmm::api

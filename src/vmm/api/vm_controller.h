// SPDX-License-Identifier: Apache-2.0
// VmController: the VM's life cycle as the REST API sees it (Cloud Hypervisor's VmState plus
// "not created"), which request is allowed in which state, and the HTTP status of a refusal.
// Runs on the event loop's thread only.
#pragma once

#include "vmm/api/vm_backend.h"
#include "vmm/machine/vm_config.h"

#include <expected>
#include <optional>
#include <string>
#include <string_view>

namespace monarch::vmm::api {

enum class VmState { NotCreated, Created, Running, Paused, Shutdown };
[[nodiscard]] std::string_view to_string(VmState);

// A refused or failed request: the HTTP status and a one-line message.
struct ApiError {
    unsigned status;
    std::string message;
};
template<typename T>
using ApiResult = std::expected<T, ApiError>;

// HTTP statuses of refusals, after cloud-hypervisor.yaml's responses.
inline constexpr unsigned STATUS_NOT_CREATED = 404;   // no VM: "not created yet"
inline constexpr unsigned STATUS_WRONG_STATE = 405;   // "not booted" / "not paused" / already booted
inline constexpr unsigned STATUS_ALREADY_CREATED = 409;
inline constexpr unsigned STATUS_BACKEND_FAILED = 500; // building or starting the VM failed

struct VmInfo {
    machine::VmConfig config;
    VmState state;
    BackendDetails details;
};

class VmController {
public:
    explicit VmController(VmBackend& backend) : m_backend(backend) {}

    [[nodiscard]] ApiResult<void> create(machine::VmConfig);
    // vm.restore: only with no VM (409 otherwise); the VM then exists Paused, as Cloud
    // Hypervisor leaves a restored VM (Running with request.resume). A refusal leaves no VM.
    [[nodiscard]] ApiResult<void> restore(RestoreRequest const&);
    [[nodiscard]] ApiResult<void> boot();
    [[nodiscard]] ApiResult<void> pause();
    [[nodiscard]] ApiResult<void> resume();
    [[nodiscard]] ApiResult<void> shutdown();
    [[nodiscard]] ApiResult<void> reboot();
    [[nodiscard]] ApiResult<void> power_button();
    // vm.delete: stops a booted VM first (as CH does); deleting nothing succeeds.
    [[nodiscard]] ApiResult<void> remove();
    [[nodiscard]] ApiResult<VmInfo> info() const;
    [[nodiscard]] ApiResult<Counters> counters() const;

    // The VMM is going away (vmm.shutdown, a signal): stop a booted VM.
    void stop_for_exit();

    [[nodiscard]] VmState state() const { return m_state; }

private:
    [[nodiscard]] ApiResult<void> require_booted(std::string_view action) const;

    VmBackend& m_backend;
    VmState m_state { VmState::NotCreated };
    std::optional<machine::VmConfig> m_config;
};

} // namespace monarch::vmm::api

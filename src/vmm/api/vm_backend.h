// SPDX-License-Identifier: Apache-2.0
// VmBackend: what VmController needs from a VM (build and start, pause, resume, stop, the
// power button, details and counters), so that the API's state machine is tested with a fake
// and runs with machine::Vmm (MachineBackend).
#pragma once

#include "vmm/machine/vm_config.h"

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <string>

namespace monarch::vmm::api {

struct BackendDetails {
    std::optional<std::string> serial_pty;
    std::optional<std::string> console_pty;
    uint64_t memory_actual_size { 0 };
};

// vm.counters: CH's shape, {"device": {"counter": value}}.
using Counters = std::map<std::string, std::map<std::string, uint64_t>>;

class VmBackend {
public:
    virtual ~VmBackend() = default;
    // Builds the VM and starts its vCPUs; on failure one line for the client, and no VM.
    [[nodiscard]] virtual std::expected<void, std::string> boot(machine::VmConfig const&) = 0;
    virtual void pause() = 0;
    virtual void resume() = 0;
    // Stops the vCPUs and frees the VM; idempotent.
    virtual void shutdown() = 0;
    virtual void power_button() = 0;
    [[nodiscard]] virtual BackendDetails details() const = 0;
    [[nodiscard]] virtual Counters counters() const = 0;
};

} // namespace monarch::vmm::api

// SPDX-License-Identifier: Apache-2.0
// VmBackend: what VmController needs from a VM (build and start, restore, pause, resume, stop,
// the power button, details and counters), so that the API's state machine is tested with a fake
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

// A failed backend call for the client: the HTTP status and one line.
struct BackendError {
    unsigned status;
    std::string message;
};

// vm.restore / --restore (CH's RestoreConfig, plus VMCrypt's checks).
struct RestoreRequest {
    std::string directory;                 // the snapshot directory (source_url's path)
    bool prefault { false };               // CH's prefault: every page is read in any case
    bool resume { false };                 // CH's resume: run at once instead of staying paused
    std::optional<uint64_t> generation;    // the snapshot must be this generation
    std::optional<std::string> uuid;       // the snapshot must be of this VM (canonical UUID)
    std::optional<std::string> serial;     // a different COM1 back end (host side only)
};

class VmBackend {
public:
    virtual ~VmBackend() = default;
    // Builds the VM and starts its vCPUs; on failure one line for the client, and no VM.
    [[nodiscard]] virtual std::expected<void, std::string> boot(machine::VmConfig const&) = 0;
    // Returns once every vCPU is parked; fails (and nothing is paused) when there is no VM.
    [[nodiscard]] virtual std::expected<void, std::string> pause() = 0;
    virtual void resume() = 0;
    // Stops the vCPUs and frees the VM; idempotent.
    virtual void shutdown() = 0;
    // A fresh VM from `config` in place of the running one (memory, devices and vCPUs start
    // over) that keeps the serial back end, so a console attached to its pty stays attached.
    [[nodiscard]] virtual std::expected<void, std::string> reboot(machine::VmConfig const& config) = 0;
    virtual void power_button() = 0;
    [[nodiscard]] virtual BackendDetails details() const = 0;
    [[nodiscard]] virtual Counters counters() const = 0;
    // Builds the VM a snapshot describes, with its memory and state, its vCPUs paused (or
    // running with request.resume). Only with no VM. On failure there is no VM.
    [[nodiscard]] virtual std::expected<machine::VmConfig, BackendError> restore(RestoreRequest const&)
    {
        return std::unexpected(BackendError { 501, "this backend cannot restore" });
    }
};

} // namespace monarch::vmm::api

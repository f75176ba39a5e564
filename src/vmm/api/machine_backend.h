// SPDX-License-Identifier: Apache-2.0
// MachineBackend: the VmBackend over machine::VmBuilder and machine::Vmm. The VM's end (the
// guest's exit status, a fatal vCPU exit) is watched on the event loop and reported once.
#pragma once

#include "vmm/api/vm_backend.h"
#include "vmm/event/event_loop.h"
#include "vmm/machine/build_error.h"
#include "vmm/machine/vmm.h"

#include <functional>
#include <memory>

namespace monarch::vmm::api {

// How a failed build reads for a user, and the exit status the CLI would take for it (the
// describer lives in cli/, above this layer, and is passed in).
struct BuildFailure {
    int exit_status;
    std::string message;
};
using DescribeBuildError = std::function<BuildFailure(machine::BuildError const&, machine::VmConfig const&)>;

class MachineBackend final : public VmBackend {
public:
    // on_guest_exit runs on the loop's thread with the VM's exit status when the guest ends
    // (not when the API stops it).
    MachineBackend(event::EventLoop& loop, DescribeBuildError describe, std::function<void(int)> on_guest_exit)
        : m_loop(loop)
        , m_describe(std::move(describe))
        , m_on_guest_exit(std::move(on_guest_exit))
    {
    }
    ~MachineBackend() override { shutdown(); }

    [[nodiscard]] std::expected<void, std::string> boot(machine::VmConfig const&) override;
    void pause() override;
    void resume() override;
    void shutdown() override;
    void power_button() override;
    [[nodiscard]] BackendDetails details() const override;
    [[nodiscard]] Counters counters() const override;

    // The running VM, or null (VMCrypt's endpoints read its memory).
    [[nodiscard]] machine::Vmm* vmm() { return m_vmm.get(); }
    // The exit status the CLI takes for the last failed boot.
    [[nodiscard]] int last_failure_status() const { return m_last_failure_status; }

private:
    event::EventLoop& m_loop;
    DescribeBuildError m_describe;
    std::function<void(int)> m_on_guest_exit;
    std::unique_ptr<event::FdWatch> m_exit_watch; // before m_vmm: destroyed first
    std::unique_ptr<machine::Vmm> m_vmm;
    uint64_t m_memory { 0 };
    int m_last_failure_status { 0 };
};

} // namespace monarch::vmm::api

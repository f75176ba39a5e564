// SPDX-License-Identifier: Apache-2.0
// MachineBackend: the VmBackend over machine::VmBuilder and machine::Vmm. The VM's end (the
// guest's exit status, a fatal vCPU exit) is watched on the event loop and reported once.
// restore_vm: a VM rebuilt from a sealed snapshot (vm.restore and monarch-vmm --restore).
#pragma once

#include "vmm/api/vm_backend.h"
#include "vmm/exit_status.h"
#include "vmm/event/event_loop.h"
#include "vmm/machine/build_error.h"
#include "vmm/machine/vmm.h"
#include "vmm/vmcrypt/vm_sealing.h"

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

// monarch-vmm's exit status for a snapshot it refuses (tampered, truncated, spliced, replayed,
// wrong key, another VM, another layout): docs/vmcrypt.md, "Exit status".
inline constexpr int RESTORE_REFUSED = exit_status::RestoreRefused;

struct RestoreError {
    unsigned http_status;  // 400: the snapshot or the request; 500: the host
    int exit_status;       // what monarch-vmm --restore exits with
    std::string message;   // one line
};

struct RestoredVm {
    std::unique_ptr<machine::Vmm> vmm; // built, state applied, vCPUs not started
    machine::VmConfig config;          // the snapshot's, its UUID set
    crypt::Generation generation;
};

// Reads the manifest, builds the VM it describes without a kernel, reads and authenticates
// the sealed stream into the new RAM (before /dev/kvm is opened), checks the vCPU records
// against the config and applies them (snapshot::apply_machine_state). `sealing` then seals
// for the snapshot's VM, after its generation. On failure nothing of the VM remains.
[[nodiscard]] std::expected<RestoredVm, RestoreError> restore_vm(RestoreRequest const&, event::EventLoop&,
    vmcrypt::VmSealing&, DescribeBuildError const&);

class MachineBackend final : public VmBackend {
public:
    // on_guest_exit runs on the loop's thread with the VM's exit status when the guest ends
    // (not when the API stops it).
    // `sealing` (null without --owner-key) is bound to each VM's UUID as it is built.
    MachineBackend(event::EventLoop& loop, DescribeBuildError describe, std::function<void(int)> on_guest_exit,
        vmcrypt::VmSealing* sealing = nullptr)
        : m_loop(loop)
        , m_describe(std::move(describe))
        , m_on_guest_exit(std::move(on_guest_exit))
        , m_sealing(sealing)
    {
    }
    ~MachineBackend() override { shutdown(); }

    [[nodiscard]] std::expected<void, std::string> boot(machine::VmConfig const&) override;
    [[nodiscard]] std::expected<void, std::string> reboot(machine::VmConfig const&) override;
    [[nodiscard]] std::expected<void, std::string> pause() override;
    void resume() override;
    void shutdown() override;
    void power_button() override;
    [[nodiscard]] BackendDetails details() const override;
    [[nodiscard]] Counters counters() const override;
    [[nodiscard]] std::expected<machine::VmConfig, BackendError> restore(RestoreRequest const&) override;

    // The running VM, or null (VMCrypt's endpoints read its memory).
    [[nodiscard]] machine::Vmm* vmm() { return m_vmm.get(); }
    // The exit status the CLI takes for the last failed boot.
    [[nodiscard]] int last_failure_status() const { return m_last_failure_status; }

private:
    [[nodiscard]] std::expected<void, std::string> build_and_start(machine::VmConfig const&, std::unique_ptr<CharBackend> kept_serial);
    // Starts `vmm` (paused first unless `run`), watches its end, and keeps it.
    [[nodiscard]] std::expected<void, std::string> adopt(std::unique_ptr<machine::Vmm> vmm, uint64_t memory, bool run);

    event::EventLoop& m_loop;
    DescribeBuildError m_describe;
    std::function<void(int)> m_on_guest_exit;
    vmcrypt::VmSealing* m_sealing;
    std::unique_ptr<event::FdWatch> m_exit_watch; // before m_vmm: destroyed first
    std::unique_ptr<machine::Vmm> m_vmm;
    uint64_t m_memory { 0 };
    int m_last_failure_status { 0 };
};

} // namespace monarch::vmm::api

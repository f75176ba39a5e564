// SPDX-License-Identifier: Apache-2.0
// Vmm: one running VM and everything it owns (guest memory, the KVM fds, buses and devices,
// the serial back end, the vCPU threads). VmBuilder assembles it; run() starts the vCPUs and
// waits for the end: the guest's exit status, a fatal vCPU exit, or SIGINT/SIGTERM.
#pragma once

#include "common/unique_fd.h"
#include "vmm/chardev/char_backend.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/irq_line.h"
#include "vmm/kvm/kvm.h"
#include "vmm/machine/adapters/serial_console.h"
#include "vmm/machine/exit_latch.h"
#include "vmm/machine/vcpu_runner.h"
#include "vmm/memory/guest_memory_mmap.h"

#include <memory>
#include <optional>
#include <vector>

namespace monarch::vmm::machine {

class VmBuilder;

class Vmm {
public:
    Vmm(Vmm const&) = delete;
    Vmm& operator=(Vmm const&) = delete;
    ~Vmm();

    // Runs the VM until it ends; returns the process exit status. `signal_fd` is the signalfd
    // from block_termination_signals().
    [[nodiscard]] int run(int signal_fd);

    [[nodiscard]] GuestMemoryMmap& memory() { return *m_memory; }
    [[nodiscard]] VcpuRunner& vcpus() { return *m_vcpus; }

private:
    friend class VmBuilder;
    Vmm() = default;

    [[nodiscard]] int wait_for_exit(int signal_fd);
    void stop_all();

    // Declared in construction order; destroyed in reverse: vCPU threads first, memory last.
    std::unique_ptr<GuestMemoryMmap> m_memory;
    std::optional<kvm::Kvm> m_kvm;
    std::optional<kvm::VmFd> m_vm;
    std::optional<ExitLatch> m_exit;
    std::vector<std::unique_ptr<IrqLine>> m_irq_lines; // device models hold references to these
    Bus m_pio_bus;
    Bus m_mmio_bus;
    std::shared_ptr<Uart8250> m_com1;
    std::unique_ptr<CharBackend> m_serial;
    std::unique_ptr<SerialConsole> m_console;
    std::unique_ptr<VcpuRunner> m_vcpus;
};

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// Vmm: one running VM and everything it owns (guest memory, the KVM fds, buses and devices,
// the serial back end, the vCPU threads). VmBuilder assembles it; run() starts the vCPUs and
// waits on an EventLoop for the end: the guest's exit status, a fatal vCPU exit, or
// SIGINT/SIGTERM. The API drives the same object step by step (start, pause, stop...).
#pragma once

#include "common/unique_fd.h"
#include "vmm/chardev/char_backend.h"
#include "vmm/event/event_loop.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/irq_line.h"
#include "vmm/boot/boot_loader.h"
#include "vmm/kvm/kvm.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/devices/pci/pvpanic.h"
#include "vmm/machine/adapters/kvm_msi_router.h"
#include "vmm/machine/adapters/serial_console.h"
#include "vmm/machine/exit_latch.h"
#include "vmm/machine/vcpu_runner.h"
#include "vmm/machine/virtio_wiring.h"
#include "vmm/memory/guest_memory_mmap.h"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace monarch::vmm::machine {

class VmBuilder;

class Vmm {
public:
    Vmm(Vmm const&) = delete;
    Vmm& operator=(Vmm const&) = delete;
    ~Vmm();

    // Runs the VM on `loop` until it ends; returns the process exit status. `signal_fd` is the
    // signalfd from block_termination_signals(). The loop is the caller's so that whatever
    // else must be served while the VM runs (device back ends, the API) shares it.
    [[nodiscard]] int run(event::EventLoop& loop, int signal_fd);

    // The steps of run(), for the API: start the console and the vCPUs; watch for the end on
    // `loop` (on_exit gets the exit status once); stop everything (idempotent).
    [[nodiscard]] Result<void> start();
    [[nodiscard]] Result<std::unique_ptr<event::FdWatch>> watch_exit(event::EventLoop& loop, std::function<void(int)> on_exit);
    void stop() { stop_all(); }
    // Returns once every vCPU is parked outside KVM_RUN; resume() lets them run again.
    void pause();
    void resume();
    // The ACPI fixed power button (PWRBTN_STS, then the SCI): the guest's OSPM decides.
    void press_power_button();
    // The serial back end's pty, when --serial pty / serial mode Pty.
    [[nodiscard]] std::optional<std::string> serial_pty_path() const;
    // Stops the VM and hands over its serial back end, so that the next VM of a reboot keeps
    // the same pty, socket or file (a console attached to it stays attached, as with Cloud
    // Hypervisor). The VM is left without one.
    [[nodiscard]] std::unique_ptr<CharBackend> release_serial();
    // The virtio console's pty, when --console pty / console mode Pty.
    [[nodiscard]] std::optional<std::string> console_pty_path() const { return m_console_pty; }
    [[nodiscard]] AcpiPmCounters acpi_pm_counters() const;

    [[nodiscard]] GuestMemoryMmap& memory() { return *m_memory; }
    [[nodiscard]] VcpuRunner& vcpus() { return *m_vcpus; }
    // What the management plane supplied and the builder loaded into RAM (VMCrypt's clear
    // regions, vmcrypt::supplied_regions): the firmware-table windows and the loader's regions.
    [[nodiscard]] std::span<std::pair<GuestPhysAddr, uint64_t> const> firmware_windows() const { return m_firmware_windows; }
    [[nodiscard]] std::span<boot::LoadedRegion const> boot_regions() const { return m_boot_regions; }
    // The parts snapshots save and restore (snapshot/machine_state.h); null before the builder
    // made them (the virtio wiring exists only with virtio devices).
    [[nodiscard]] Uart8250* com1() { return m_com1.get(); }
    [[nodiscard]] CmosRtc* rtc() { return m_rtc.get(); }
    [[nodiscard]] I8042* i8042() { return m_i8042.get(); }
    [[nodiscard]] AcpiPm* acpi_pm() { return m_acpi_pm.get(); }
    [[nodiscard]] VirtioWiring* virtio() { return m_virtio.get(); }
    // The pvpanic device (VmConfig::pvpanic), null without one. Its snapshot state is its
    // configuration space; restore_pvpanic() writes that back and re-maps the BAR from it
    // (pvpanic_wiring.cpp). Errc::Corrupt for a VM without the device or another device's bytes.
    [[nodiscard]] pci::PvPanic* pvpanic() { return m_pvpanic.get(); }
    [[nodiscard]] Result<void> restore_pvpanic(std::span<std::byte const> config);
    [[nodiscard]] kvm::VmFd const* vm_fd() const { return m_vm ? &*m_vm : nullptr; }

private:
    friend class VmBuilder;
    Vmm() = default;

    void stop_all();

    // Declared in construction order; destroyed in reverse: vCPU threads first, memory last.
    std::unique_ptr<GuestMemoryMmap> m_memory;
    std::vector<std::pair<GuestPhysAddr, uint64_t>> m_firmware_windows;
    std::vector<boot::LoadedRegion> m_boot_regions;
    std::optional<kvm::Kvm> m_kvm;
    std::optional<kvm::VmFd> m_vm;
    std::optional<ExitLatch> m_exit;
    std::vector<std::unique_ptr<IrqLine>> m_irq_lines; // device models hold references to these
    Bus m_pio_bus;
    Bus m_mmio_bus;
    std::shared_ptr<Uart8250> m_com1;
    std::shared_ptr<AcpiPm> m_acpi_pm;
    std::shared_ptr<CmosRtc> m_rtc;
    std::shared_ptr<I8042> m_i8042;
    std::unique_ptr<CharBackend> m_serial;
    std::unique_ptr<SerialConsole> m_console;
    // The wiring refers to the root and the routes, the root to the buses: destroyed first.
    std::unique_ptr<GsiRouteTable> m_gsi_routes;
    std::unique_ptr<pci::PciRoot> m_pci_root;
    std::unique_ptr<VirtioWiring> m_virtio;
    std::shared_ptr<pci::PvPanic> m_pvpanic; // also held by its BAR's range on the MMIO bus
    uint8_t m_pvpanic_slot { 0 };
    std::optional<std::string> m_console_pty;
    std::unique_ptr<VcpuRunner> m_vcpus;
};

} // namespace monarch::vmm::machine

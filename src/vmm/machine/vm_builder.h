// SPDX-License-Identifier: Apache-2.0
// VmBuilder: the composition root, a recipe with one small step per function (STYLE.md 1):
// memory -> firmware tables -> kernel -> (only now) KVM -> VM -> vCPUs -> devices -> serial.
// Everything that can be checked without /dev/kvm is checked before it is opened, so bad input
// fails the same way on a host without KVM.
#pragma once

#include "vmm/arch/topology.h"
#include "vmm/boot/boot_loader.h"
#include "vmm/chardev/char_backend.h"
#include "vmm/event/event_loop.h"
#include "vmm/machine/build_error.h"
#include "vmm/devices/pci/pci_windows.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/virtio_device.h"
#include "vmm/machine/vmm.h"

#include <functional>
#include <memory>
#include <vector>

namespace monarch::vmm::machine {

class VmBuilder {
public:
    // `loop`: where the VM's device back ends are served (virtio queue kicks and host I/O, e.g.
    // VirtioWiring::Resources::loop is loop.context()); it must outlive the built Vmm.
    VmBuilder(VmConfig config, event::EventLoop& loop);
    [[nodiscard]] BuildResult<std::unique_ptr<Vmm>> build() &&;
    // The serial back end of the VM this one replaces (a reboot: Vmm::release_serial), used
    // instead of a new one when the config still asks for the same kind and path.
    VmBuilder&& keep_serial(std::unique_ptr<CharBackend> serial) &&;

    // Restore (docs/vmcrypt.md, "Restore"): the same VM without a kernel. `fill` writes every
    // page of the new RAM (the snapshot's) before /dev/kvm is opened, so a refused snapshot
    // fails the same way on a host without KVM; its failure is returned as BuildStep::Memory.
    // No boot loader, no entry registers: the caller applies the snapshot's vCPU and device
    // state (snapshot::apply_machine_state) before it starts the vCPUs.
    using FillMemory = std::function<Result<void>(GuestMemoryMmap&)>;
    [[nodiscard]] BuildResult<std::unique_ptr<Vmm>> build_restored(FillMemory const& fill) &&;

private:
    // The steps build() and build_restored() share once RAM holds what the guest needs.
    [[nodiscard]] BuildResult<std::unique_ptr<Vmm>> build_machine() &&;
    [[nodiscard]] BuildResult<void> create_memory();
    [[nodiscard]] BuildResult<void> read_images();
    [[nodiscard]] BuildResult<void> write_firmware_tables();
    [[nodiscard]] BuildResult<void> load_kernel();
    [[nodiscard]] BuildResult<void> open_kvm();
    [[nodiscard]] BuildResult<void> create_vm();
    [[nodiscard]] BuildResult<void> create_vcpus();
    [[nodiscard]] Result<void> configure_vcpu(kvm::VcpuFd&, uint32_t index, std::span<kvm_cpuid_entry2 const> supported, std::span<uint32_t const> msrs);
    [[nodiscard]] Result<void> set_boot_registers(kvm::VcpuFd&);
    [[nodiscard]] BuildResult<void> attach_devices();
    [[nodiscard]] BuildResult<void> attach_serial();
    [[nodiscard]] BuildResult<void> open_device_backends();
    [[nodiscard]] BuildResult<void> attach_pci_devices();
    [[nodiscard]] BuildResult<void> attach_pvpanic(); // pvpanic_wiring.cpp

    VmConfig m_config;
    event::EventLoop& m_loop;
    std::unique_ptr<Vmm> m_vmm;
    SerialSpec m_serial_spec;
    std::unique_ptr<CharBackend> m_kept_serial;
    arch::CpuTopology m_topology;
    std::vector<std::byte> m_kernel;
    std::vector<std::byte> m_initrd;
    std::optional<GuestPhysAddr> m_rsdp;
    boot::BootSetup m_boot;
    std::vector<kvm::VcpuFd> m_vcpus;
    pci::PciWindows m_pci_windows;
    bool m_restoring { false }; // build_restored: no boot registers
    std::vector<std::unique_ptr<virtio::VirtioDevice>> m_devices; // opened, not yet attached
};

} // namespace monarch::vmm::machine

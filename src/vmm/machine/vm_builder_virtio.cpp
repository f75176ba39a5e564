// SPDX-License-Identifier: Apache-2.0
// The virtio steps of the recipe. Device back ends (disk images, taps, the vsock socket, the
// console) are opened before /dev/kvm, so a missing image fails the same way on every host;
// the PCI host bridge and the transports (virtio-pci or virtio-mmio, per device) come after the
// VM exists, because ioeventfds and irqfds are registered on it (VirtioWiring).
#include "vmm/machine/vm_builder.h"

#include "common/log.h"
#include "common/verify.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/machine/irq_routing.h"
#include "vmm/machine/virtio_placement.h"
#include "vmm/virtio/block/virtio_block.h"
#include "vmm/virtio/console/virtio_console.h"
#include "vmm/virtio/net/virtio_net.h"
#include "vmm/virtio/rng/virtio_rng.h"
#include "vmm/virtio/vsock/vsock_device.h"

#include <fmt/format.h>

namespace monarch::vmm::machine {
namespace {

// Keeps an opened device, or tags its back end's error with the option that asked for it.
template<typename Device>
BuildResult<void> keep(std::vector<std::unique_ptr<virtio::VirtioDevice>>& devices, Result<std::unique_ptr<Device>> opened, std::string subject)
{
    if (!opened)
        return std::unexpected(BuildError { BuildStep::VirtioDevices, opened.error(), 0, std::move(subject) });
    devices.push_back(std::move(*opened));
    return {};
}

} // namespace

// Fixed order (disks, nets, rng, vsock, console: virtio_wiring_order()), so PCI slots and
// virtio-mmio slots are the same on every run and match the kernel command line's.
BuildResult<void> VmBuilder::open_device_backends()
{
    auto& io = m_loop.context();
    for (auto const& disk : m_config.disks)
        TRY_BUILD(keep(m_devices, virtio::VirtioBlock::create(io, disk), fmt::format("--disk path={}", disk.path)));
    for (auto const& net : m_config.nets)
        TRY_BUILD(keep(m_devices, virtio::VirtioNet::create(io, net), fmt::format("--net tap={}", net.tap)));
    if (m_config.rng)
        TRY_BUILD(keep(m_devices, virtio::VirtioRng::create(io, *m_config.rng), fmt::format("--rng src={}", m_config.rng->source)));
    if (m_config.vsock)
        TRY_BUILD(keep(m_devices, virtio::vsock::VsockDevice::create(io, *m_config.vsock),
            fmt::format("--vsock cid={},socket={}", m_config.vsock->cid, m_config.vsock->socket)));
    if (m_config.console.mode == "off")
        return {};
    auto console = virtio::VirtioConsole::create(io, m_config.console);
    if (console) {
        // libvirt reads this pty from vm.info (config.console.file) for `virsh console`.
        m_vmm->m_console_pty = (*console)->backend().pty_path();
        if (m_vmm->m_console_pty)
            log::warn("virtio console on {}", *m_vmm->m_console_pty);
    }
    return keep(m_devices, std::move(console), fmt::format("--console {}", m_config.console.mode));
}

// The host bridge is always there (an empty PCI bus costs the guest nothing and keeps the
// firmware tables the same whatever devices are configured); each device goes behind it or in
// its virtio-mmio slot, as its entry's transport says.
BuildResult<void> VmBuilder::attach_pci_devices()
{
    auto& vmm = *m_vmm;
    vmm.m_pci_root = std::make_unique<pci::PciRoot>(vmm.m_mmio_bus, vmm.m_pio_bus, m_pci_windows);
    TRY_STEP_VOID(BuildStep::Devices, vmm.m_pci_root->register_config_access());
    VirtioWiring::Resources resources { *vmm.m_vm, *vmm.m_memory, m_loop.context(), *vmm.m_pci_root, *vmm.m_gsi_routes, vmm.m_mmio_bus };
    vmm.m_virtio = TRY_STEP(BuildStep::Devices, VirtioWiring::create(resources, VmConfig {}));
    auto const transports = virtio_wiring_order(m_config);
    VERIFY(transports.size() == m_devices.size()); // open_device_backends() follows the same order
    for (size_t index = 0; index < m_devices.size(); ++index)
        TRY_STEP_VOID(BuildStep::Devices, vmm.m_virtio->add(std::move(m_devices[index]), transports[index]));
    m_devices.clear();
    vmm.m_pci_root->set_bar_observer([wiring = vmm.m_virtio.get()](uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at) {
        wiring->bar_moved(slot, bar, mapped_at);
    });
    for (auto const& device : vmm.m_virtio->devices()) {
        if (device.transport == VirtioTransport::Pci)
            log::info("pci 00:{:02x}.0 {} (INTx GSI {}, {} queues)", device.slot, device.name, device.intx_gsi, device.queues);
        else
            log::info("virtio-mmio {:#x} {} (GSI {}, {} queues)", device.mmio_base, device.name, device.irq, device.queues);
    }
    return {};
}

} // namespace monarch::vmm::machine

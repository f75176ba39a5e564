// SPDX-License-Identifier: Apache-2.0
// VirtioWiring: the virtio devices a VmConfig asks for (disks, nets, rng, vsock, console), each
// behind a virtio-pci transport on the PciRoot, with KVM doing the fast paths: an ioeventfd per
// queue notify address (handled on the event loop, so kicks never go through a vCPU exit) and
// MSI-X vectors delivered by irqfd (KvmMsiRouter), INTx through KVM_IRQ_LINE as the fallback.
//
// Lifetime: create() before the vCPUs start; forward the PciRoot's BarObserver to bar_moved();
// at shutdown stop the vCPUs, call stop_devices() on the loop thread (or after the loop
// stopped), stop the loop, then destroy this object before the PciRoot is used again (the root
// keeps the transports, which refer to what this object owns).
#pragma once

#include "common/named_state.h"
#include "common/result.h"
#include "vmm/devices/irq_line.h"
#include "vmm/devices/pci/intx_lines.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/kvm/vm_fd.h"
#include "vmm/machine/adapters/kvm_msi_router.h"
#include "vmm/machine/vm_config.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/virtio_device.h"

namespace monarch::vmm::virtio {
class VirtioPci;
}

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace monarch::vmm::machine {

class VirtioWiring {
public:
    // What the machine already owns; all of it outlives the wiring.
    struct Resources {
        kvm::VmFd const& vm;
        GuestMemory& memory;
        boost::asio::io_context& loop;
        pci::PciRoot& root;
        GsiRouteTable& routes;
    };

    // Creates and attaches every device of `config`, in a fixed order (disks, nets, rng, vsock,
    // console) so that PCI slots are stable across runs. A device whose back end cannot be
    // opened (a missing image, a tap that does not exist) fails the whole call with its error.
    [[nodiscard]] static Result<std::unique_ptr<VirtioWiring>> create(Resources resources, VmConfig const& config);
    // One more device (what create() does per entry); for tests and hot-plug-free extensions.
    [[nodiscard]] Result<void> add(std::unique_ptr<virtio::VirtioDevice> device);

    ~VirtioWiring();
    VirtioWiring(VirtioWiring const&) = delete;
    VirtioWiring& operator=(VirtioWiring const&) = delete;

    // PciRoot::BarObserver: moves the ioeventfds of a device whose BAR moved or was unmapped.
    // vCPU thread, with the root's lock held: never calls back into the root.
    void bar_moved(uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at);

    // VirtioDevice::reset() of every active device (flushes, cancels host I/O).
    void stop_devices();

    // Snapshot support. quiesce(): returns once no device has host I/O in flight (a pending
    // io_uring read would otherwise write guest RAM after the snapshot read it), with the
    // vCPUs paused; the devices take new requests again at the next queue notification.
    // save_state(): every transport (registers, queue addresses and positions, MSI-X table,
    // PCI config space) and device, as records named "virtio.<slot>" (vCPUs paused, quiesced).
    // restore_state(): those records into a wiring created from the same config whose vCPUs
    // have not started; re-establishes ioeventfds, irqfds and MSI routes; refuses records that
    // do not match the devices (another config) without changing anything.
    [[nodiscard]] Result<void> quiesce();
    [[nodiscard]] Result<std::vector<NamedState>> save_state() const;
    [[nodiscard]] Result<void> restore_state(std::span<NamedState const> records);
    // quiesce()'s counterpart (Vmm::resume() calls it): the devices take requests again and
    // get the queue notifications that arrived meanwhile. Runs on the loop (dispatched there).
    void thaw();

    struct DeviceInfo {
        std::string name;   // "virtio-pci-virtio-blk"...
        uint8_t slot { 0 };
        uint32_t intx_gsi { 0 };
        size_t queues { 0 };
        size_t ioeventfds { 0 }; // currently registered
    };
    [[nodiscard]] std::vector<DeviceInfo> devices() const;

private:
    struct PciVirtioDevice;
    // For the snapshot code (virtio_wiring_state.cpp): each device's slot and transport.
    struct TransportRef {
        uint8_t slot { 0 };
        virtio::VirtioPci* transport { nullptr };
    };
    [[nodiscard]] std::vector<TransportRef> transports() const;
    explicit VirtioWiring(Resources resources); // out of line: PciVirtioDevice is incomplete here
    [[nodiscard]] Result<void> attach_notifiers(PciVirtioDevice&);

    Resources m_resources;
    // Before m_devices: the devices' INTx lines refer to these, so they are destroyed last.
    std::vector<std::unique_ptr<IrqLine>> m_gsi_lines;
    std::unique_ptr<pci::IntxLines> m_intx;
    mutable std::mutex m_mutex; // the notifiers' registration state (bar_moved vs devices())
    std::vector<std::unique_ptr<PciVirtioDevice>> m_devices;
};

} // namespace monarch::vmm::machine

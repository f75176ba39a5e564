// SPDX-License-Identifier: Apache-2.0
// VirtioWiring: the virtio devices a VmConfig asks for (disks, nets, rng, vsock, console), each
// behind the transport its entry names, with KVM doing the fast paths: an ioeventfd per queue
// notify address (handled on the event loop, so kicks never go through a vCPU exit) and
// interrupts through irqfds.
// - virtio-pci on the PciRoot: MSI-X vectors by irqfd (KvmMsiRouter), INTx through
//   KVM_IRQ_LINE as the fallback; the ioeventfds follow the BAR when the guest moves it.
// - virtio-mmio in a fixed slot of layout::VIRTIO_MMIO_START (virtio_placement.h): the
//   QueueNotify register with one ioeventfd per queue (datamatch = queue index) and one
//   edge-triggered GSI by irqfd, pulsed when InterruptStatus becomes non-zero (Firecracker's
//   choice). The kernel learns the slots from `virtio_mmio.device=` words on its command line.
//
// Lifetime: create() before the vCPUs start; forward the PciRoot's BarObserver to bar_moved();
// at shutdown stop the vCPUs, call stop_devices() on the loop thread (or after the loop
// stopped), stop the loop, then destroy this object before the PciRoot or the MMIO bus is used
// again (they keep the transports, which refer to what this object owns).
#pragma once

#include "common/named_state.h"
#include "common/result.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/irq_line.h"
#include "vmm/devices/pci/intx_lines.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/kvm/vm_fd.h"
#include "vmm/machine/adapters/kvm_msi_router.h"
#include "vmm/machine/vm_config.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/virtio_device.h"

namespace monarch::vmm::virtio {
class VirtioMmio;
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
        Bus& mmio_bus; // where virtio-mmio transports are inserted
    };

    // Creates and attaches every device of `config`, in a fixed order (disks, nets, rng, vsock,
    // console: virtio_wiring_order()) so that PCI slots and virtio-mmio slots are stable across
    // runs. A device whose back end cannot be opened (a missing image, a tap that does not
    // exist) fails the whole call with its error.
    [[nodiscard]] static Result<std::unique_ptr<VirtioWiring>> create(Resources resources, VmConfig const& config);
    // One more device (what create() does per entry); for tests and hot-plug-free extensions.
    // A virtio-mmio device takes the next slot (virtio_mmio_slot(); OutOfRange past the window).
    [[nodiscard]] Result<void> add(std::unique_ptr<virtio::VirtioDevice> device, VirtioTransport transport = VirtioTransport::Pci);

    ~VirtioWiring();
    VirtioWiring(VirtioWiring const&) = delete;
    VirtioWiring& operator=(VirtioWiring const&) = delete;

    // PciRoot::BarObserver: moves the ioeventfds of a device whose BAR moved or was unmapped
    // (virtio-pci devices only; virtio-mmio slots never move).
    // vCPU thread, with the root's lock held: never calls back into the root.
    void bar_moved(uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at);

    // VirtioDevice::reset() of every active device (flushes, cancels host I/O).
    void stop_devices();

    // Snapshot support (virtio_wiring_state.cpp; docs/virtio.md "Snapshots").
    // quiesce(): returns once no device has host I/O in flight (a pending io_uring read would
    // otherwise write guest RAM after the snapshot read it), with the vCPUs paused; on the
    // event-loop thread (the API's) or with the loop stopped. Queue notifications are held
    // until thaw(). save_state(): every transport (registers, queue addresses and positions,
    // MSI-X table, PCI config space) as records named "virtio.<slot>" (virtio-pci, PCI slot
    // in two digits) or "virtio.mmio.<n>" (virtio-mmio slot n), each with its device type
    // (vCPUs paused, quiesced). restore_state(): those records into a wiring created from the
    // same config whose vCPUs have not started, after guest RAM is restored; re-maps BARs and
    // their ioeventfds, reports MSI-X routes and commits them, re-asserts INTx, activates
    // running devices (vsock then sends TRANSPORT_RESET). A missing, extra, undecodable or
    // other-type record, or a value a transport refuses, fails with Errc::Corrupt before any
    // device changes.
    [[nodiscard]] Result<void> quiesce();
    [[nodiscard]] Result<std::vector<NamedState>> save_state() const;
    [[nodiscard]] Result<void> restore_state(std::span<NamedState const> records);
    // quiesce()'s counterpart (Vmm::resume() calls it): the devices take requests again and
    // get the queue notifications that arrived meanwhile. Runs on the loop (dispatched there).
    void thaw();

    struct DeviceInfo {
        std::string name;   // "virtio-pci-virtio-blk", "virtio-mmio-virtio-rng"...
        VirtioTransport transport { VirtioTransport::Pci };
        uint8_t slot { 0 };      // PCI device number, or the virtio-mmio slot index
        uint32_t intx_gsi { 0 }; // virtio-pci: the INTx fallback's GSI (MSI-X vectors aside)
        uint64_t mmio_base { 0 }; // virtio-mmio: the transport's base address
        uint32_t irq { 0 };      // the GSI the device interrupts on: INTx (pci) or its own (mmio)
        size_t queues { 0 };
        size_t ioeventfds { 0 }; // currently registered
    };
    [[nodiscard]] std::vector<DeviceInfo> devices() const;

private:
    struct WiredDevice;
    // For the snapshot code (virtio_wiring_state.cpp): each device's transport, with its PCI
    // slot (virtio-pci) or its virtio-mmio slot index; exactly one of the pointers is set.
    struct TransportRef {
        uint8_t slot { 0 };
        virtio::VirtioPci* pci { nullptr };
        virtio::VirtioMmio* mmio { nullptr };
    };
    [[nodiscard]] std::vector<TransportRef> transports() const;
    explicit VirtioWiring(Resources resources); // out of line: WiredDevice is incomplete here
    [[nodiscard]] Result<void> attach_pci(WiredDevice&);
    [[nodiscard]] Result<void> attach_mmio(WiredDevice&);
    [[nodiscard]] Result<void> attach_notifiers(WiredDevice&);
    [[nodiscard]] static std::string describe(WiredDevice const&);

    Resources m_resources;
    // Before m_devices: the devices' INTx lines refer to these, so they are destroyed last.
    std::vector<std::unique_ptr<IrqLine>> m_gsi_lines;
    std::unique_ptr<pci::IntxLines> m_intx;
    mutable std::mutex m_mutex; // the notifiers' registration state (bar_moved vs devices())
    std::vector<std::unique_ptr<WiredDevice>> m_devices;
    size_t m_mmio_slots_used { 0 };
};

} // namespace monarch::vmm::machine

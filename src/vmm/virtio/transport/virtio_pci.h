// SPDX-License-Identifier: Apache-2.0
// VirtioPci: the virtio-pci modern transport (virtio 1.2 section 4.1) as a PciDevice: vendor
// 0x1af4, device 0x1040 + type, revision 1; one 64-bit memory BAR holding the common, ISR,
// device and notify structures (announced by vendor capabilities, plus the PCI-config access
// capability) and the MSI-X table and PBA. Interrupts go out as MSI-X vectors (one for
// configuration changes, one per queue, as the driver assigns them) or, with MSI-X disabled,
// as ISR bits plus INTx through an IrqLine.
//
// Locks, taken in this order only: m_config_mutex (PciConfigSpace), IrqLevel's, the core's
// mutex, MsixTable's. Interrupt delivery never holds the core's mutex.
#pragma once

#include "vmm/devices/irq_level.h"
#include "vmm/devices/irq_line.h"
#include "vmm/devices/pci/msi.h"
#include "vmm/devices/pci/msix.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_device.h"
#include "vmm/virtio/transport/notify_address.h"
#include "vmm/virtio/transport/transport_core.h"
#include "vmm/virtio/transport/virtio_pci_layout.h"

#include <boost/asio/io_context.hpp>

#include <array>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace monarch::vmm::virtio {

// A virtio-pci transport's snapshot (taken with the device quiesced, vCPUs paused).
struct VirtioPciState {
    TransportCoreState core; // per-queue MSI-X vectors included
    std::array<std::byte, pci::config::SIZE> config {};
    pci::MsixState msix;
    uint8_t isr { 0 };
    uint16_t config_vector { NO_VECTOR };
};

class VirtioPci final : public pci::PciDevice, private TransportInterruptSink {
public:
    // `device`, `memory`, `loop`, `router` and `intx` outlive the transport; the loop must not
    // run handlers of this transport after it is destroyed (see transport_core.h). The device
    // may have at most 511 queues (one MSI-X vector each plus the configuration vector).
    VirtioPci(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, pci::MsiRouter& router, IrqLine& intx);

    // pci::PciDevice
    [[nodiscard]] std::string_view name() const override { return m_name; }
    void config_read(uint16_t offset, std::span<std::byte> data) override;
    void config_write(uint16_t offset, std::span<std::byte const> data) override;
    [[nodiscard]] std::vector<pci::BarRequest> bar_requests() const override;
    void bar_assigned(uint8_t index, uint64_t address) override;
    void bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data) override;
    void bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data) override;

    // One entry per queue: BAR 0, NOTIFY_OFFSET + 4 * index, any width (length 0), no datamatch
    // (each queue has its own address). The VMM adds the BAR's current address.
    [[nodiscard]] std::vector<NotifyAddress> notify_addresses() const;
    // For ioeventfd handlers on the loop thread: the driver kicked queue `index`.
    void handle_queue_notify(uint16_t index) { m_core.handle_queue_notify(index); }
    // VMM shutdown: VirtioDevice::reset() if active. On the loop thread or after it stopped.
    void stop_device() { m_core.stop_device(); }
    // The BAR's guest address now (0 while unassigned), for the ioeventfd wiring.
    [[nodiscard]] uint64_t bar_address() const;

    [[nodiscard]] uint8_t isr() const;
    [[nodiscard]] TransportCounters counters() const;
    [[nodiscard]] pci::MsixTable const& msix() const { return m_msix; }

    // Snapshots (virtio_pci_state.cpp); see TransportCore for threads and order. restore()
    // checks everything first (Errc::Corrupt: a vector the table does not have, ISR bits
    // other than queue/config, and what the core, config space and table refuse), then
    // applies it: the MSI-X routes are reported to the router, INTx is re-asserted when
    // ISR and the command register say so, and the device is activated if it ran. The BAR
    // address comes with the config bytes; the host bridge is told separately.
    void quiesce() { m_core.quiesce(); }
    void thaw() { m_core.thaw(); }
    [[nodiscard]] VirtioPciState state() const;
    [[nodiscard]] Result<void> restore(VirtioPciState const& state);
    // Every check restore() makes, changing nothing (for restoring several devices at once).
    [[nodiscard]] Result<void> check_restore(VirtioPciState const& state) const;
    [[nodiscard]] VirtioDevice const& device() const { return m_core.device(); }

private:
    void add_capabilities();
    void add_virtio_capability(uint8_t type, uint64_t offset, uint64_t length, std::span<std::byte const> extra = {});
    void pci_cfg_access(bool is_write);

    // BAR 0 regions (virtio_pci_common.cpp).
    void common_read(uint64_t offset, std::span<std::byte> data);
    [[nodiscard]] bool common_write(uint64_t offset, std::span<std::byte const> data);
    [[nodiscard]] bool common_write_queue(uint64_t offset, size_t size, uint64_t value);
    void fill_common(std::span<std::byte, pci_layout::common::SIZE> bytes) const;
    [[nodiscard]] uint16_t checked_vector(uint16_t vector) const;

    void queue_interrupt(uint16_t queue_index) override;
    void config_interrupt() override;
    void update_intx();

    std::string m_name;
    TransportCore m_core;
    IrqLevel m_intx;
    pci::MsixTable m_msix;

    mutable std::mutex m_config_mutex;
    pci::PciConfigSpace m_config;
    uint8_t m_pci_cfg_capability { 0 };

    // Under m_core.mutex().
    uint8_t m_isr { 0 };
    uint16_t m_config_vector { NO_VECTOR };
    bool m_intx_disabled { false }; // the command register's INTx Disable, as last written
};

} // namespace monarch::vmm::virtio

// SPDX-License-Identifier: Apache-2.0
// VirtioMmio: the virtio-mmio transport, version 2 ("modern", virtio 1.2 section 4.2.2), as a
// BusDevice in a 4 KiB MMIO window: registers at 0x000-0x0ff, device configuration from 0x100.
// The interrupt is one level-triggered IrqLine, asserted while InterruptStatus is non-zero.
#pragma once

#include "vmm/devices/bus_device.h"
#include "vmm/devices/irq_level.h"
#include "vmm/devices/irq_line.h"
#include "vmm/virtio/transport/notify_address.h"
#include "vmm/virtio/transport/transport_core.h"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <vector>

namespace monarch::vmm::virtio {

// Register offsets (virtio 1.2 section 4.2.2, table "MMIO Device Register Layout").
namespace mmio_reg {
inline constexpr uint64_t MAGIC_VALUE = 0x000;           // R: "virt"
inline constexpr uint64_t VERSION = 0x004;               // R: 2
inline constexpr uint64_t DEVICE_ID = 0x008;             // R
inline constexpr uint64_t VENDOR_ID = 0x00c;             // R
inline constexpr uint64_t DEVICE_FEATURES = 0x010;       // R: the window DEVICE_FEATURES_SEL picks
inline constexpr uint64_t DEVICE_FEATURES_SEL = 0x014;   // W
inline constexpr uint64_t DRIVER_FEATURES = 0x020;       // W
inline constexpr uint64_t DRIVER_FEATURES_SEL = 0x024;   // W
inline constexpr uint64_t QUEUE_SEL = 0x030;             // W
inline constexpr uint64_t QUEUE_NUM_MAX = 0x034;         // R: 0 when the queue does not exist
inline constexpr uint64_t QUEUE_NUM = 0x038;             // W
inline constexpr uint64_t QUEUE_READY = 0x044;           // RW
inline constexpr uint64_t QUEUE_NOTIFY = 0x050;          // W: queue index
inline constexpr uint64_t INTERRUPT_STATUS = 0x060;      // R
inline constexpr uint64_t INTERRUPT_ACK = 0x064;         // W
inline constexpr uint64_t STATUS = 0x070;                // RW
inline constexpr uint64_t QUEUE_DESC_LOW = 0x080;        // W
inline constexpr uint64_t QUEUE_DESC_HIGH = 0x084;       // W
inline constexpr uint64_t QUEUE_DRIVER_LOW = 0x090;      // W
inline constexpr uint64_t QUEUE_DRIVER_HIGH = 0x094;     // W
inline constexpr uint64_t QUEUE_DEVICE_LOW = 0x0a0;      // W
inline constexpr uint64_t QUEUE_DEVICE_HIGH = 0x0a4;     // W
inline constexpr uint64_t SHM_SEL = 0x0ac;               // W
inline constexpr uint64_t SHM_LEN_LOW = 0x0b0;           // R: ~0 (no shared memory regions)
inline constexpr uint64_t SHM_LEN_HIGH = 0x0b4;          // R
inline constexpr uint64_t SHM_BASE_LOW = 0x0b8;          // R
inline constexpr uint64_t SHM_BASE_HIGH = 0x0bc;         // R
inline constexpr uint64_t CONFIG_GENERATION = 0x0fc;     // R
inline constexpr uint64_t CONFIG = 0x100;                // device-specific configuration

inline constexpr uint32_t MAGIC = 0x74726976; // "virt", little-endian
inline constexpr uint32_t VERSION_MODERN = 2;
inline constexpr uint32_t VENDOR = 0x1af4;    // QEMU and Linux ignore it; the virtio PCI vendor

inline constexpr uint32_t INT_VRING = 1;  // InterruptStatus bit 0: used buffer notification
inline constexpr uint32_t INT_CONFIG = 2; // bit 1: configuration change
} // namespace mmio_reg

inline constexpr uint64_t VIRTIO_MMIO_WINDOW_SIZE = 0x1000;

// A virtio-mmio transport's snapshot: the core's registers and queues, InterruptStatus.
struct VirtioMmioState {
    TransportCoreState core;
    uint32_t interrupt_status { 0 };
};

class VirtioMmio final : public BusDevice, private TransportInterruptSink {
public:
    // `device`, `memory`, `loop` and `irq` outlive the transport; the loop must not run
    // handlers of this transport after it is destroyed (see transport_core.h).
    VirtioMmio(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, IrqLine& irq);

    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

    // One entry per queue: offset QUEUE_NOTIFY, 4 bytes, datamatch = queue index (for ioeventfds).
    [[nodiscard]] std::vector<NotifyAddress> notify_addresses() const;
    // For ioeventfd handlers on the loop thread: the driver kicked queue `index`.
    void handle_queue_notify(uint16_t index) { m_core.handle_queue_notify(index); }
    // VMM shutdown: VirtioDevice::reset() if active. On the loop thread or after it stopped.
    void stop_device() { m_core.stop_device(); }

    [[nodiscard]] uint32_t interrupt_status() const;

    // Snapshots, as VirtioPci's (see transport_core.h): restore() refuses InterruptStatus bits
    // other than INT_VRING/INT_CONFIG and what the core refuses, then re-raises the line.
    void quiesce() { m_core.quiesce(); }
    void thaw() { m_core.thaw(); }
    [[nodiscard]] VirtioMmioState state() const;
    [[nodiscard]] Result<void> restore(VirtioMmioState const& state);
    [[nodiscard]] Result<void> check_restore(VirtioMmioState const& state) const;
    [[nodiscard]] VirtioDevice const& device() const { return m_core.device(); }
    [[nodiscard]] TransportCounters counters() const;

private:
    void queue_interrupt(uint16_t queue_index) override;
    void config_interrupt() override;
    void raise(uint32_t bits);
    void update_irq();

    [[nodiscard]] uint32_t read_register(uint64_t offset);
    // Returns the InterruptStatus bits to raise after the lock is dropped.
    [[nodiscard]] uint32_t write_register(uint64_t offset, uint32_t value);
    void write_queue_register(uint64_t offset, uint32_t value);

    TransportCore m_core;
    IrqLevel m_irq;
    uint32_t m_interrupt_status { 0 }; // under m_core.mutex()
};

} // namespace monarch::vmm::virtio

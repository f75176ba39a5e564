// SPDX-License-Identifier: Apache-2.0
// TransportCore: what virtio-mmio and virtio-pci share: the device status state machine with
// feature negotiation and reset (virtio 1.2 sections 2.1, 2.2, 3.1), per-queue registers, the
// device configuration cache, and the hand-off of device calls to the device's event loop.
//
// Threading: register methods run on vCPU threads with mutex() held by the caller (the
// transport, which keeps its own interrupt registers under the same mutex). Device calls
// (activate, reset, queue_notify, write_config, read_config) run only on the io_context thread,
// posted there in order; handle_queue_notify() is what an ioeventfd handler on that thread
// calls. The core (and so the transport) must outlive every handler it posted: stop the
// io_context before destroying a transport.
#pragma once

#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/virtio_device.h"
#include "vmm/virtio/virtqueue.h"

#include <boost/asio/io_context.hpp>

#include <array>
#include <cstdint>
#include <mutex>
#include <span>
#include <vector>

namespace monarch::vmm::virtio {

// Device status bits (virtio 1.2 section 2.1).
namespace status {
inline constexpr uint8_t ACKNOWLEDGE = 1;
inline constexpr uint8_t DRIVER = 2;
inline constexpr uint8_t DRIVER_OK = 4;
inline constexpr uint8_t FEATURES_OK = 8;
inline constexpr uint8_t DEVICE_NEEDS_RESET = 64;
inline constexpr uint8_t FAILED = 128;
} // namespace status

// virtio-pci: "no MSI-X vector" (section 4.1.4.3).
inline constexpr uint16_t NO_VECTOR = 0xffff;

// How the transport delivers what the core decides; called without mutex() held, on any thread.
class TransportInterruptSink {
public:
    virtual ~TransportInterruptSink() = default;
    virtual void queue_interrupt(uint16_t queue_index) = 0;
    virtual void config_interrupt() = 0;
};

// Counters of guest protocol errors (STYLE.md section 8), for logs and tests.
struct TransportCounters {
    uint64_t bad_feature_negotiations { 0 };
    uint64_t bad_status_writes { 0 };
    uint64_t bad_queue_setups { 0 };
    uint64_t ignored_notifications { 0 };
    uint64_t needs_reset_reports { 0 };
};

// One queue's registers as the driver programmed them (both transports).
struct QueueRegisters {
    uint16_t max_size { 0 };
    uint16_t size { 0 };
    bool ready { false };
    uint64_t descriptor_table { 0 };
    uint64_t driver_area { 0 };
    uint64_t device_area { 0 };
    uint16_t msix_vector { NO_VECTOR }; // virtio-pci only
};

// The core's part of a snapshot: registers, and the running queues' positions.
struct TransportCoreState {
    uint8_t status { 0 };
    uint32_t device_feature_select { 0 };
    uint32_t driver_feature_select { 0 };
    uint64_t driver_features { 0 };
    uint32_t config_generation { 0 };
    uint16_t queue_select { 0 };
    std::vector<QueueRegisters> queues;  // one per device queue
    std::vector<VirtqueueState> rings;   // one per device queue while the device runs, else empty
};

class TransportCore final : public VirtioInterrupt {
public:
    using QueueRegisters = virtio::QueueRegisters;

    // Device configuration bytes cached for vCPU-thread reads (device calls stay on the loop).
    static constexpr size_t CONFIG_CACHE_SIZE = 256;

    // Reads the device's features, queue sizes and configuration once, on the calling thread,
    // before the io_context runs anything for it.
    TransportCore(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, TransportInterruptSink& sink);

    [[nodiscard]] std::mutex& mutex() const { return m_mutex; }
    [[nodiscard]] VirtioDevice const& device() const { return m_device; }
    [[nodiscard]] uint16_t queue_count() const { return static_cast<uint16_t>(m_queues.size()); }

    // --- register state; the caller holds mutex() ---
    [[nodiscard]] uint32_t device_features_window() const;
    void set_device_feature_select(uint32_t select) { m_device_feature_select = select; }
    [[nodiscard]] uint32_t device_feature_select() const { return m_device_feature_select; }
    [[nodiscard]] uint32_t driver_features_window() const;
    void set_driver_features_window(uint32_t value);
    void set_driver_feature_select(uint32_t select) { m_driver_feature_select = select; }
    [[nodiscard]] uint32_t driver_feature_select() const { return m_driver_feature_select; }

    [[nodiscard]] uint8_t status() const { return m_status; }
    // The status a driver reads. virtio-pci (section 4.1.4.3.2: "the device MUST present a 0 in
    // device_status once the reset is complete"; Linux and testos poll for it) passes
    // ResetVisibility::WhenDeviceStopped: after a write of 0 the old status reads back until the
    // loop has run VirtioDevice::reset(), or until the driver writes a new status.
    // virtio-mmio drivers (Linux's) do not poll: Immediate.
    enum class ResetVisibility : uint8_t { Immediate, WhenDeviceStopped };
    [[nodiscard]] uint8_t visible_status(ResetVisibility visibility) const
    {
        bool const hide = visibility == ResetVisibility::WhenDeviceStopped && m_status == 0 && m_resets_in_flight > 0;
        return hide ? m_status_before_reset : m_status;
    }
    // Applies a status write. Returns true when the transport must raise a configuration
    // interrupt (the write made the device report DEVICE_NEEDS_RESET).
    [[nodiscard]] bool write_status(uint8_t value);
    [[nodiscard]] bool driver_ok() const { return (m_status & status::DRIVER_OK) != 0; }
    [[nodiscard]] uint32_t config_generation() const { return m_config_generation; }

    void select_queue(uint16_t index) { m_queue_select = index; }
    [[nodiscard]] uint16_t selected_queue() const { return m_queue_select; }
    // The selected queue's registers, or nullptr when the selector names no queue.
    [[nodiscard]] QueueRegisters* selected();
    [[nodiscard]] QueueRegisters const* queue(uint16_t index) const;
    // Queue register writes are refused (false) once the queue is enabled or DRIVER_OK is set.
    [[nodiscard]] bool queue_writable() const;
    // Enables the selected queue after checking its size; false (and NEEDS_RESET) when bad.
    [[nodiscard]] bool enable_selected_queue();
    // The driver took the selected queue back (virtio-mmio QueueReady = 0). Before DRIVER_OK
    // it is simply not used; after it the running device keeps its queue until reset (the
    // driver may not do this without VIRTIO_F_RING_RESET, which we do not offer).
    void disable_selected_queue();

    // Driver kicked queue `index` through a register: posted to the loop.
    void notify_from_vcpu(uint16_t index);

    void read_config(uint64_t offset, std::span<std::byte> data) const;
    void write_config(uint64_t offset, std::span<std::byte const> data);

    [[nodiscard]] TransportCounters const& counters() const { return m_counters; }

    // --- the io_context thread ---
    // The driver made buffers available on queue `index` (from an ioeventfd or a post).
    void handle_queue_notify(uint16_t index);

    // The VMM is stopping: reset the device if it is active, so that it completes or cancels
    // its host I/O. On the loop thread, or after the loop has stopped.
    void stop_device();

    // --- snapshots (transport_core_state.cpp) ---
    // On the loop thread or with the loop stopped. quiesce(): VirtioDevice::quiesce() of an
    // active device; queue notifications are then held back (remembered per queue) until
    // thaw(), which runs VirtioDevice::thaw() and delivers them. Both are idempotent.
    void quiesce();
    void thaw();
    [[nodiscard]] bool quiesced() const { return m_quiesced; }
    // Taken after quiesce() (or before the device ever ran): registers under mutex(), queue
    // positions from the loop's side.
    [[nodiscard]] TransportCoreState state() const;
    // Into a core that has not run (status 0, never activated), before vCPUs start and with the
    // loop running nothing for this device: checks every field against this device (queue
    // count and maximum sizes, offered features, status bits, ring placement and positions);
    // Errc::Corrupt without changing anything. With DRIVER_OK the device is activated on the
    // calling thread over the restored queues, then told restored().
    [[nodiscard]] Result<void> restore(TransportCoreState const& state);
    // What restore() checks (rings included), changing nothing.
    [[nodiscard]] Result<void> check_restore(TransportCoreState const& state) const;

    // VirtioInterrupt: the device's calls, on the loop thread.
    void signal_queue(uint16_t queue_index) override;
    void signal_config() override;

private:
    void reset_registers();
    [[nodiscard]] bool features_acceptable() const;
    [[nodiscard]] bool start_device(); // DRIVER_OK: false when a queue is not usable
    // The virtqueues the driver set up in `queues` with `driver_features` negotiated, as at
    // DRIVER_OK (a queue that is not ready is a disabled one); fails on the first unusable queue.
    [[nodiscard]] Result<std::vector<Virtqueue>> queues_from_registers(std::span<QueueRegisters const> queues, uint64_t driver_features) const;
    void mark_needs_reset(std::unique_lock<std::mutex>& lock);
    void check_needs_reset(); // loop thread: report VirtioDevice::needs_reset() once
    void activate_on_loop(uint64_t features, std::vector<Virtqueue> queues);
    void reset_on_loop();
    void refresh_config_on_loop();

    VirtioDevice& m_device;
    GuestMemory& m_memory;
    boost::asio::io_context& m_loop;
    TransportInterruptSink& m_sink;
    uint64_t const m_device_features;

    mutable std::mutex m_mutex;
    uint32_t m_device_feature_select { 0 };
    uint32_t m_driver_feature_select { 0 };
    uint64_t m_driver_features { 0 };
    uint8_t m_status { 0 };
    uint8_t m_status_before_reset { 0 };
    uint32_t m_resets_in_flight { 0 };
    uint32_t m_config_generation { 0 };
    uint16_t m_queue_select { 0 };
    std::vector<QueueRegisters> m_queues;
    std::array<std::byte, CONFIG_CACHE_SIZE> m_config_cache {};
    TransportCounters m_counters;

    [[nodiscard]] Result<void> check_state(TransportCoreState const& state) const;
    [[nodiscard]] Result<std::vector<Virtqueue>> restored_queues(TransportCoreState const& state) const;

    // The io_context thread only.
    bool m_loop_active { false };
    bool m_quiesced { false };
    std::vector<bool> m_held_notifications; // per queue, while quiesced
    std::vector<Virtqueue> m_loop_queues;
};

} // namespace monarch::vmm::virtio

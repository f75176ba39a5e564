// SPDX-License-Identifier: Apache-2.0
// The transport-independent virtio register state machine (virtio 1.2 sections 2.1, 2.2, 3.1)
// and its hand-off to the device's event loop.

#include "vmm/virtio/transport/transport_core.h"

#include "common/log.h"
#include "vmm/virtio/ring_layout.h"

#include <boost/asio/post.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

namespace monarch::vmm::virtio {

TransportCore::TransportCore(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, TransportInterruptSink& sink)
    : m_device(device)
    , m_memory(memory)
    , m_loop(loop)
    , m_sink(sink)
    , m_device_features(device.device_features())
{
    for (uint16_t max_size : device.queue_max_sizes())
        m_queues.push_back(QueueRegisters { max_size, max_size });
    // Construction happens before the loop runs anything for this device (see header).
    device.read_config(0, m_config_cache);
}

uint32_t TransportCore::device_features_window() const
{
    if (m_device_feature_select > 1)
        return 0;
    return static_cast<uint32_t>(m_device_features >> (32 * m_device_feature_select));
}

uint32_t TransportCore::driver_features_window() const
{
    if (m_driver_feature_select > 1)
        return 0;
    return static_cast<uint32_t>(m_driver_features >> (32 * m_driver_feature_select));
}

void TransportCore::set_driver_features_window(uint32_t value)
{
    // Section 3.1.1: features are fixed once FEATURES_OK is set.
    if (m_driver_feature_select > 1 || (m_status & status::FEATURES_OK) != 0)
        return;
    unsigned const shift = 32 * m_driver_feature_select;
    m_driver_features = (m_driver_features & ~(0xffff'ffffULL << shift)) | (uint64_t { value } << shift);
}

bool TransportCore::features_acceptable() const
{
    // Section 2.2.1: the driver acks only offered features; section 6.1: VERSION_1 is required
    // of a modern driver (we offer no legacy interface).
    return (m_driver_features & ~m_device_features) == 0 && (m_driver_features & F_VERSION_1) != 0;
}

void TransportCore::reset_registers()
{
    m_device_feature_select = 0;
    m_driver_feature_select = 0;
    m_driver_features = 0;
    m_status = 0;
    m_queue_select = 0;
    for (auto& queue : m_queues)
        queue = QueueRegisters { queue.max_size, queue.max_size };
}

bool TransportCore::write_status(uint8_t value)
{
    if (value == 0) {
        // Section 2.1.2/3.1: reset. Registers read as after reset at once; the device itself
        // stops on the loop, after anything posted before (activation, notifications).
        bool const device_may_run = m_status != 0 || m_resets_in_flight > 0;
        if (m_status != 0)
            m_status_before_reset = m_status;
        reset_registers();
        if (device_may_run) {
            ++m_resets_in_flight;
            boost::asio::post(m_loop, [this] { reset_on_loop(); });
        }
        return false;
    }
    // Section 2.1.1: the driver never clears a bit (other than by reset); NEEDS_RESET is ours.
    uint8_t const kept = m_status & ~status::DEVICE_NEEDS_RESET;
    if ((value & kept) != kept || (m_status & status::FAILED) != 0) {
        ++m_counters.bad_status_writes;
        return false;
    }
    uint8_t const added = value & ~m_status & ~status::DEVICE_NEEDS_RESET;
    uint8_t next = m_status | added;
    if ((added & status::FEATURES_OK) != 0 && !features_acceptable()) {
        // Section 3.1.1 step 6: FEATURES_OK does not stick; the driver reads it back.
        ++m_counters.bad_feature_negotiations;
        next &= ~status::FEATURES_OK;
    }
    m_status = next;
    if ((added & status::DRIVER_OK) == 0)
        return false;
    if ((m_status & status::FEATURES_OK) == 0 || !start_device()) {
        ++m_counters.bad_status_writes;
        m_status |= status::DEVICE_NEEDS_RESET;
        ++m_counters.needs_reset_reports;
        return true;
    }
    return false;
}

Result<std::vector<Virtqueue>> TransportCore::queues_from_registers(std::span<QueueRegisters const> queue_registers, uint64_t driver_features) const
{
    QueueConfig base;
    base.event_idx = (driver_features & F_EVENT_IDX) != 0;
    base.indirect = (driver_features & F_INDIRECT_DESC) != 0;
    std::vector<Virtqueue> queues;
    for (auto const& registers : queue_registers) {
        if (!registers.ready) {
            queues.push_back(Virtqueue::disabled(m_memory));
            continue;
        }
        QueueConfig config = base;
        config.size = registers.size;
        config.descriptor_table = GuestPhysAddr { registers.descriptor_table };
        config.available_ring = GuestPhysAddr { registers.driver_area };
        config.used_ring = GuestPhysAddr { registers.device_area };
        queues.push_back(TRY(Virtqueue::create(m_memory, config)));
    }
    return queues;
}

bool TransportCore::start_device()
{
    auto queues = queues_from_registers(m_queues, m_driver_features);
    if (!queues) {
        ++m_counters.bad_queue_setups;
        log::debug("virtio: {}: queue rejected at DRIVER_OK: {}", m_device.name(), to_string(queues.error()));
        return false;
    }
    boost::asio::post(m_loop, [this, features = m_driver_features, queues = std::move(*queues)]() mutable {
        activate_on_loop(features, std::move(queues));
    });
    return true;
}

TransportCore::QueueRegisters* TransportCore::selected()
{
    return m_queue_select < m_queues.size() ? &m_queues[m_queue_select] : nullptr;
}

TransportCore::QueueRegisters const* TransportCore::queue(uint16_t index) const
{
    return index < m_queues.size() ? &m_queues[index] : nullptr;
}

bool TransportCore::queue_writable() const
{
    auto const* registers = m_queue_select < m_queues.size() ? &m_queues[m_queue_select] : nullptr;
    return registers != nullptr && !registers->ready && !driver_ok();
}

bool TransportCore::enable_selected_queue()
{
    auto* registers = selected();
    if (registers == nullptr || driver_ok())
        return true;
    uint16_t const size = registers->size;
    // Section 2.7: a power of two; section 4.1.4.3.2 / 4.2.2.2: at most the device's maximum.
    if (size == 0 || size > registers->max_size || !std::has_single_bit(size)) {
        ++m_counters.bad_queue_setups;
        m_status |= status::DEVICE_NEEDS_RESET;
        ++m_counters.needs_reset_reports;
        return false;
    }
    registers->ready = true;
    return true;
}

void TransportCore::disable_selected_queue()
{
    if (auto* registers = selected())
        registers->ready = false;
}

void TransportCore::notify_from_vcpu(uint16_t index)
{
    if (!driver_ok() || index >= m_queues.size() || !m_queues[index].ready) {
        ++m_counters.ignored_notifications;
        return;
    }
    boost::asio::post(m_loop, [this, index] { handle_queue_notify(index); });
}

void TransportCore::read_config(uint64_t offset, std::span<std::byte> data) const
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (offset >= m_config_cache.size())
        return;
    size_t const count = std::min<uint64_t>(data.size(), m_config_cache.size() - offset);
    std::memcpy(data.data(), m_config_cache.data() + offset, count);
}

void TransportCore::write_config(uint64_t offset, std::span<std::byte const> data)
{
    if (offset >= m_config_cache.size())
        return;
    // Write-through, so that a read right after the write sees it before the loop catches up;
    // the device's own view replaces the cache once it has handled the write.
    size_t const count = std::min<uint64_t>(data.size(), m_config_cache.size() - offset);
    std::memcpy(m_config_cache.data() + offset, data.data(), count);
    std::vector<std::byte> bytes(data.begin(), data.end());
    boost::asio::post(m_loop, [this, offset, bytes = std::move(bytes)] {
        m_device.write_config(offset, bytes);
        refresh_config_on_loop();
    });
}

// --- the io_context thread ---

void TransportCore::activate_on_loop(uint64_t features, std::vector<Virtqueue> queues)
{
    m_loop_queues = std::move(queues);
    auto result = m_device.activate(ActivateContext { features, m_memory, m_loop_queues, *this });
    if (!result) {
        log::warn("virtio: {}: activation failed: {}", m_device.name(), to_string(result.error()));
        std::unique_lock lock { m_mutex };
        mark_needs_reset(lock);
        return;
    }
    m_loop_active = true;
    // Posted before a snapshot's quiesce and run after it: quiesce the new device too.
    if (m_quiesced)
        m_device.quiesce();
    refresh_config_on_loop();
}

void TransportCore::reset_on_loop()
{
    if (m_loop_active)
        m_device.reset();
    m_loop_active = false;
    m_loop_queues.clear();
    m_held_notifications.clear();
    refresh_config_on_loop();
    std::lock_guard lock { m_mutex };
    if (m_resets_in_flight > 0)
        --m_resets_in_flight;
}

void TransportCore::stop_device()
{
    if (m_loop_active)
        m_device.reset();
    m_loop_active = false;
    m_loop_queues.clear();
}

void TransportCore::handle_queue_notify(uint16_t index)
{
    if (!m_loop_active || index >= m_loop_queues.size()) {
        std::lock_guard lock { m_mutex };
        ++m_counters.ignored_notifications;
        return;
    }
    if (m_quiesced) {
        m_held_notifications.resize(m_loop_queues.size());
        m_held_notifications[index] = true;
        return;
    }
    // A device that broke during asynchronous work (a completion, host input) is not kicked
    // again; it is reported now if that has not happened yet.
    if (!m_device.needs_reset())
        m_device.queue_notify(index);
    check_needs_reset();
}

void TransportCore::check_needs_reset()
{
    if (!m_loop_active || !m_device.needs_reset())
        return;
    std::unique_lock lock { m_mutex };
    mark_needs_reset(lock);
}

void TransportCore::mark_needs_reset(std::unique_lock<std::mutex>& lock)
{
    // Section 2.1.2: set DEVICE_NEEDS_RESET and, with DRIVER_OK set, tell the driver by a
    // configuration change notification.
    if (m_status == 0 || (m_status & status::DEVICE_NEEDS_RESET) != 0)
        return;
    m_status |= status::DEVICE_NEEDS_RESET;
    if (m_counters.needs_reset_reports++ == 0)
        log::warn("virtio: {}: the device needs a reset (the driver broke the protocol or the back end failed); further reports are only counted", m_device.name());
    bool const notify = driver_ok();
    lock.unlock();
    if (notify)
        m_sink.config_interrupt();
}

void TransportCore::signal_queue(uint16_t queue_index)
{
    {
        std::lock_guard lock { m_mutex };
        if (!driver_ok() || queue_index >= m_queues.size())
            return;
    }
    m_sink.queue_interrupt(queue_index);
    check_needs_reset(); // asynchronous completions end here
}

void TransportCore::signal_config()
{
    refresh_config_on_loop();
    {
        std::lock_guard lock { m_mutex };
        ++m_config_generation;
        if (!driver_ok())
            return;
    }
    m_sink.config_interrupt();
    check_needs_reset();
}

void TransportCore::refresh_config_on_loop()
{
    std::array<std::byte, CONFIG_CACHE_SIZE> fresh {};
    m_device.read_config(0, fresh);
    std::lock_guard lock { m_mutex };
    // Section 2.5: config_generation changes whenever the configuration may have changed.
    if (fresh != m_config_cache)
        ++m_config_generation;
    m_config_cache = fresh;
}

} // namespace monarch::vmm::virtio

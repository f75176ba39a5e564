// SPDX-License-Identifier: Apache-2.0
// TransportCore's snapshot support: quiesce/thaw of the device, and its register and queue
// state out and back in, every field of a restored state checked against this device first.

#include "vmm/virtio/transport/transport_core.h"

#include "common/log.h"

#include <bit>

namespace monarch::vmm::virtio {

namespace {

constexpr uint8_t KNOWN_STATUS_BITS = status::ACKNOWLEDGE | status::DRIVER | status::DRIVER_OK | status::FEATURES_OK
    | status::DEVICE_NEEDS_RESET | status::FAILED;

[[nodiscard]] bool same_ring(QueueRegisters const& registers, QueueConfig const& config)
{
    return registers.size == config.size && registers.descriptor_table == config.descriptor_table.raw()
        && registers.driver_area == config.available_ring.raw() && registers.device_area == config.used_ring.raw();
}

} // namespace

void TransportCore::quiesce()
{
    if (m_quiesced)
        return;
    m_quiesced = true;
    if (m_loop_active)
        m_device.quiesce();
}

void TransportCore::thaw()
{
    if (!m_quiesced)
        return;
    m_quiesced = false;
    if (!m_loop_active) {
        m_held_notifications.clear();
        return;
    }
    m_device.thaw();
    auto held = std::move(m_held_notifications);
    m_held_notifications.clear();
    for (size_t index = 0; index < held.size(); ++index) {
        if (held[index])
            handle_queue_notify(static_cast<uint16_t>(index));
    }
    check_needs_reset();
}

TransportCoreState TransportCore::state() const
{
    TransportCoreState state;
    {
        std::lock_guard lock { m_mutex };
        state.status = m_status;
        state.device_feature_select = m_device_feature_select;
        state.driver_feature_select = m_driver_feature_select;
        state.driver_features = m_driver_features;
        state.config_generation = m_config_generation;
        state.queue_select = m_queue_select;
        state.queues = m_queues;
    }
    if (m_loop_active) {
        for (auto const& queue : m_loop_queues)
            state.rings.push_back(queue.state());
    }
    return state;
}

Result<void> TransportCore::check_state(TransportCoreState const& state) const
{
    if ((state.status & ~KNOWN_STATUS_BITS) != 0)
        return fail(Errc::Corrupt, "virtio state: unknown device status bits");
    bool const needs_reset = (state.status & status::DEVICE_NEEDS_RESET) != 0;
    if ((state.status & status::DRIVER_OK) != 0 && (state.status & status::FEATURES_OK) == 0 && !needs_reset)
        return fail(Errc::Corrupt, "virtio state: DRIVER_OK without FEATURES_OK");
    if ((state.driver_features & ~m_device_features) != 0)
        return fail(Errc::Corrupt, "virtio state: driver features the device does not offer");
    if ((state.status & status::FEATURES_OK) != 0 && (state.driver_features & F_VERSION_1) == 0)
        return fail(Errc::Corrupt, "virtio state: FEATURES_OK without VERSION_1");
    if (state.queues.size() != m_queues.size())
        return fail(Errc::Corrupt, "virtio state: queue count differs from the device's");
    for (size_t index = 0; index < m_queues.size(); ++index) {
        auto const& queue = state.queues[index];
        if (queue.max_size != m_queues[index].max_size)
            return fail(Errc::Corrupt, "virtio state: queue maximum size differs from the device's");
        if (queue.ready && (queue.size == 0 || queue.size > queue.max_size || !std::has_single_bit(queue.size)))
            return fail(Errc::Corrupt, "virtio state: an enabled queue's size is not a power of two up to the maximum");
    }
    if (state.rings.empty())
        return {};
    bool const running = (state.status & status::DRIVER_OK) != 0 && !needs_reset;
    if (!running || state.rings.size() != m_queues.size())
        return fail(Errc::Corrupt, "virtio state: queue positions for a device that is not running");
    bool const event_idx = (state.driver_features & F_EVENT_IDX) != 0;
    bool const indirect = (state.driver_features & F_INDIRECT_DESC) != 0;
    for (size_t index = 0; index < m_queues.size(); ++index) {
        auto const& ring = state.rings[index];
        auto const& registers = state.queues[index];
        bool const matches = registers.ready ? same_ring(registers, ring.config) : ring.config.size == 0;
        if (!matches)
            return fail(Errc::Corrupt, "virtio state: queue position does not match the queue registers");
        if (ring.config.size != 0 && (ring.config.event_idx != event_idx || ring.config.indirect != indirect))
            return fail(Errc::Corrupt, "virtio state: queue features differ from the negotiated ones");
    }
    return {};
}

Result<std::vector<Virtqueue>> TransportCore::restored_queues(TransportCoreState const& state) const
{
    std::vector<Virtqueue> queues;
    if (!state.rings.empty()) {
        for (auto const& ring : state.rings)
            queues.push_back(TRY(Virtqueue::restore(m_memory, ring)));
        return queues;
    }
    // DRIVER_OK whose activation had not run yet: as the status write would have started it.
    auto from_registers = queues_from_registers(state.queues, state.driver_features);
    if (!from_registers)
        return fail(Errc::Corrupt, from_registers.error().context);
    return from_registers;
}

Result<void> TransportCore::check_restore(TransportCoreState const& state) const
{
    {
        std::lock_guard lock { m_mutex };
        if (m_loop_active || m_status != 0)
            return fail(Errc::Busy, "virtio state: restore into a device that already ran");
    }
    TRY_VOID(check_state(state));
    if ((state.status & status::DRIVER_OK) != 0 && (state.status & status::DEVICE_NEEDS_RESET) == 0)
        (void)TRY(restored_queues(state));
    return {};
}

Result<void> TransportCore::restore(TransportCoreState const& state)
{
    TRY_VOID(check_restore(state));
    bool const running = (state.status & status::DRIVER_OK) != 0 && (state.status & status::DEVICE_NEEDS_RESET) == 0;
    std::vector<Virtqueue> queues;
    if (running)
        queues = TRY(restored_queues(state));
    {
        std::lock_guard lock { m_mutex };
        m_status = state.status;
        m_device_feature_select = state.device_feature_select;
        m_driver_feature_select = state.driver_feature_select;
        m_driver_features = state.driver_features;
        m_config_generation = state.config_generation;
        m_queue_select = state.queue_select;
        m_queues = state.queues;
    }
    if (!running)
        return {};
    m_loop_queues = std::move(queues);
    auto activated = m_device.activate(ActivateContext { state.driver_features, m_memory, m_loop_queues, *this });
    if (!activated) {
        // The back end refused (a tap that went away): the guest sees NEEDS_RESET, as it would
        // for the same failure at DRIVER_OK.
        log::warn("virtio: {}: activation after restore failed: {}", m_device.name(), to_string(activated.error()));
        m_loop_queues.clear();
        std::lock_guard lock { m_mutex };
        m_status |= status::DEVICE_NEEDS_RESET;
        return {};
    }
    m_loop_active = true;
    m_device.restored();
    refresh_config_on_loop();
    return {};
}

} // namespace monarch::vmm::virtio

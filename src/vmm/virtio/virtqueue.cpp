// SPDX-License-Identifier: Apache-2.0
// The device side of a split virtqueue: ring setup checks, popping and validating descriptor
// chains, returning used buffers, and notification suppression (virtio 1.2 section 2.7).

#include "vmm/virtio/virtqueue.h"

#include "common/log.h"
#include "vmm/virtio/ring_access.h"
#include "vmm/virtio/ring_layout.h"

#include <algorithm>
#include <atomic>
#include <bit>

namespace monarch::vmm::virtio {

namespace {

[[nodiscard]] bool ring_fits(GuestMemory& memory, GuestPhysAddr address, uint64_t bytes, uint64_t alignment)
{
    if (address.raw() % alignment != 0)
        return false;
    return memory.span(address, bytes).has_value();
}

// A ring part was checked at create(); later failures mean the memory layout changed under us.
[[nodiscard]] Result<std::span<std::byte>> ring_field(GuestMemory& memory, GuestPhysAddr base, uint64_t offset, uint64_t bytes)
{
    auto address = checked_add(base, offset);
    if (!address)
        return fail(Errc::Corrupt, "virtqueue: ring address overflows");
    return memory.span(*address, bytes);
}

} // namespace

uint64_t DescriptorChain::readable_length() const
{
    uint64_t total = 0;
    for (auto const& buffer : readable)
        total += buffer.length;
    return total;
}

uint64_t DescriptorChain::writable_length() const
{
    uint64_t total = 0;
    for (auto const& buffer : writable)
        total += buffer.length;
    return total;
}

Result<Virtqueue> Virtqueue::create(GuestMemory& memory, QueueConfig const& config)
{
    if (config.size == 0 || config.size > ring::MAX_QUEUE_SIZE || !std::has_single_bit(config.size))
        return fail(Errc::InvalidArgument, "virtqueue: size is not a power of two in 1..32768");
    if (!ring_fits(memory, config.descriptor_table, ring::descriptor_table_bytes(config.size), ring::DESCRIPTOR_TABLE_ALIGN))
        return fail(Errc::InvalidArgument, "virtqueue: descriptor table is misaligned or not in RAM");
    if (!ring_fits(memory, config.available_ring, ring::available_ring_bytes(config.size), ring::AVAILABLE_RING_ALIGN))
        return fail(Errc::InvalidArgument, "virtqueue: available ring is misaligned or not in RAM");
    if (!ring_fits(memory, config.used_ring, ring::used_ring_bytes(config.size), ring::USED_RING_ALIGN))
        return fail(Errc::InvalidArgument, "virtqueue: used ring is misaligned or not in RAM");
    return Virtqueue { memory, config };
}

VirtqueueState Virtqueue::state() const
{
    return VirtqueueState { m_config, m_next_available, m_next_used, m_signalled_used, m_signalled_valid, m_broken };
}

Result<Virtqueue> Virtqueue::restore(GuestMemory& memory, VirtqueueState const& state)
{
    if (state.config.size == 0) {
        bool const clean = state.config.descriptor_table.raw() == 0 && state.config.available_ring.raw() == 0
            && state.config.used_ring.raw() == 0 && state.next_available == 0 && state.next_used == 0
            && state.signalled_used == 0 && !state.signalled_valid && !state.broken;
        if (!clean)
            return fail(Errc::Corrupt, "virtqueue state: a disabled queue with ring state");
        Virtqueue queue = disabled(memory);
        queue.m_config = state.config;
        return queue;
    }
    auto queue = create(memory, state.config);
    if (!queue)
        return fail(Errc::Corrupt, queue.error().context);
    // Every chain handed to the device and not returned is one of `size` descriptors heads.
    if (static_cast<uint16_t>(state.next_available - state.next_used) > state.config.size)
        return fail(Errc::Corrupt, "virtqueue state: more chains outstanding than the queue size");
    if (state.signalled_valid && static_cast<uint16_t>(state.next_used - state.signalled_used) > state.config.size)
        return fail(Errc::Corrupt, "virtqueue state: last signalled used index beyond the ring");
    queue->m_next_available = state.next_available;
    queue->m_next_used = state.next_used;
    queue->m_signalled_used = state.signalled_used;
    queue->m_signalled_valid = state.signalled_valid;
    queue->m_broken = state.broken;
    return queue;
}

Result<void> Virtqueue::rewind(uint16_t count)
{
    if (static_cast<uint16_t>(m_next_available - m_next_used) < count)
        return fail(Errc::InvalidArgument, "virtqueue: rewinding more chains than are outstanding");
    m_next_available = static_cast<uint16_t>(m_next_available - count);
    publish_avail_event();
    return {};
}

Failure Virtqueue::mark_broken(std::string_view why)
{
    // Guest-triggerable: debug only; the transport counts NEEDS_RESET and warns once.
    if (!m_broken)
        log::debug("virtqueue: driver broke the ring protocol: {}", why);
    m_broken = true;
    return fail(Errc::Corrupt, why);
}

Result<uint16_t> Virtqueue::available_index()
{
    auto field = TRY(ring_field(*m_memory, m_config.available_ring, ring::AVAIL_IDX, 2));
    // Acquire: the ring entries and descriptors read after this are at least as new as idx.
    return ring::load_acquire_u16(field);
}

void Virtqueue::publish_avail_event()
{
    if (!m_config.event_idx || !enabled())
        return;
    auto field = ring_field(*m_memory, m_config.used_ring, ring::used_avail_event_offset(m_config.size), 2);
    if (field)
        ring::store_release_u16(*field, m_next_available);
}

void Virtqueue::enable_notification()
{
    publish_avail_event();
    // The avail_event store must be visible before the caller re-reads avail idx (2.7.10).
    std::atomic_thread_fence(std::memory_order_seq_cst);
}

Result<std::optional<DescriptorChain>> Virtqueue::pop()
{
    if (m_broken)
        return fail(Errc::Corrupt, "virtqueue: queue is broken until reset");
    if (!enabled())
        return std::optional<DescriptorChain> {};
    uint16_t available = TRY(available_index());
    if (available == m_next_available) {
        // Empty: ask for a notification, then look once more so that a buffer the driver
        // added before seeing our avail_event is not left waiting for a kick that never comes.
        enable_notification();
        available = TRY(available_index());
        if (available == m_next_available)
            return std::optional<DescriptorChain> {};
    }
    if (static_cast<uint16_t>(available - m_next_available) > m_config.size)
        return mark_broken("available index ran more than the queue size ahead");

    uint64_t slot = ring::AVAIL_RING + 2ULL * (m_next_available % m_config.size);
    auto entry = TRY(ring_field(*m_memory, m_config.available_ring, slot, 2));
    uint16_t head = 0;
    std::memcpy(&head, entry.data(), sizeof head);
    auto chain = walk_chain(head);
    if (!chain)
        return mark_broken(chain.error().context);
    ++m_next_available;
    publish_avail_event();
    return std::optional<DescriptorChain> { std::move(*chain) };
}

Result<void> Virtqueue::push_used(uint16_t head, uint32_t written, Publish publish)
{
    if (m_broken)
        return fail(Errc::Corrupt, "virtqueue: queue is broken until reset");
    if (head >= m_config.size)
        return fail(Errc::InvalidArgument, "virtqueue: used head is not a descriptor index");
    uint64_t slot = ring::USED_RING + 8ULL * (m_next_used % m_config.size);
    auto element = TRY(ring_field(*m_memory, m_config.used_ring, slot, sizeof(ring::UsedElement)));
    ring::UsedElement const value { head, written };
    std::memcpy(element.data(), &value, sizeof value);
    ++m_next_used;
    if (publish == Publish::Later)
        return {};
    return publish_used();
}

Result<void> Virtqueue::publish_used()
{
    if (m_broken)
        return fail(Errc::Corrupt, "virtqueue: queue is broken until reset");
    // Release: the elements (and the data the device wrote) are visible before the new idx.
    auto index = TRY(ring_field(*m_memory, m_config.used_ring, ring::USED_IDX, 2));
    ring::store_release_u16(index, m_next_used);
    return {};
}

bool Virtqueue::needs_notification()
{
    // The used idx store must be globally visible before we read the driver's suppression
    // fields, or both sides could decide the other will act (section 2.7.10).
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!enabled())
        return false;
    if (!m_config.event_idx) {
        auto flags = ring_field(*m_memory, m_config.available_ring, ring::AVAIL_FLAGS, 2);
        if (!flags)
            return true;
        return (ring::load_acquire_u16(*flags) & ring::AVAIL_F_NO_INTERRUPT) == 0;
    }
    auto event_field = ring_field(*m_memory, m_config.available_ring, ring::avail_used_event_offset(m_config.size), 2);
    if (!event_field)
        return true;
    uint16_t const used_event = ring::load_acquire_u16(*event_field);
    bool const notify = !m_signalled_valid || ring::need_event(used_event, m_next_used, m_signalled_used);
    m_signalled_used = m_next_used;
    m_signalled_valid = true;
    return notify;
}

} // namespace monarch::vmm::virtio

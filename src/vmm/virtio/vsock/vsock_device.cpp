// SPDX-License-Identifier: Apache-2.0
// virtio-vsock: queue processing (virtio 1.2 section 5.10.6), configuration space and events.

#include "vmm/virtio/vsock/vsock_device.h"

#include "common/byte_access.h"
#include "common/log.h"

#include <algorithm>
#include <cstring>

namespace monarch::vmm::virtio::vsock {

VsockDevice::VsockDevice(uint64_t guest_cid)
    : m_guest_cid(guest_cid)
    , m_packet(HEADER_SIZE + MAX_PAYLOAD)
{
}

Result<std::unique_ptr<VsockDevice>> VsockDevice::create(boost::asio::io_context& io, VsockDeviceConfig config)
{
    // Section 5.10.4: CIDs 0-2 are reserved; the upper 32 bits are reserved too, and
    // 0xffffffff is VMADDR_CID_ANY.
    if (config.guest_cid < FIRST_GUEST_CID || config.guest_cid > LAST_GUEST_CID)
        return fail(Errc::InvalidArgument, "virtio-vsock: the guest CID must be between 3 and 4294967294");
    if (config.limits.buffer_size == 0 || config.limits.max_connections == 0)
        return fail(Errc::InvalidArgument, "virtio-vsock: buffer size and connection limit must be positive");
    auto device = std::unique_ptr<VsockDevice>(new VsockDevice(config.guest_cid));
    auto* raw = device.get();
    device->m_muxer = TRY(Muxer::create(io, config.guest_cid, std::move(config.uds_path), config.limits, device->m_counters,
        [raw] { raw->process_rx(); }));
    return device;
}

VsockDevice::~VsockDevice() = default;

void VsockDevice::read_config(uint64_t offset, std::span<std::byte> data) const
{
    // Section 5.10.4: struct virtio_vsock_config { le64 guest_cid; }.
    std::array<std::byte, 8> config {};
    store_le<uint64_t>(config, 0, m_guest_cid);
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (offset >= config.size())
        return;
    size_t count = std::min<uint64_t>(data.size(), config.size() - offset);
    std::memcpy(data.data(), config.data() + offset, count);
}

void VsockDevice::write_config(uint64_t, std::span<std::byte const>)
{
    // The configuration space is read-only for the driver.
}

Result<void> VsockDevice::activate(ActivateContext context)
{
    if (context.queues.size() != s_queue_sizes.size())
        return fail(Errc::InvalidArgument, "virtio-vsock: needs exactly three queues (rx, tx, event)");
    m_memory = &context.memory;
    m_queues = &context.queues;
    m_interrupt = &context.interrupt;
    m_needs_reset = false;
    m_quiesced = false;
    // Host clients may have asked to connect before the driver was ready.
    process_tx();
    process_rx();
    return {};
}

void VsockDevice::reset()
{
    // Section 5.10.6: the driver's reset drops every connection; host clients see their socket close.
    m_muxer->close_all();
    m_memory = nullptr;
    m_queues = nullptr;
    m_interrupt = nullptr;
    m_needs_reset = false;
}

void VsockDevice::queue_notify(uint16_t queue_index)
{
    if (queue_index == TX_QUEUE)
        process_tx();
    // New rx buffers resume a stalled delivery; tx may have queued replies as well.
    process_rx();
}

void VsockDevice::queue_fault(std::string_view what, Error const& error)
{
    if (!m_needs_reset)
        log::warn("virtio-vsock: {}: {}; the device needs a reset", what, to_string(error));
    m_needs_reset = true;
}

void VsockDevice::signal_if_needed(uint16_t queue_index)
{
    if ((*m_queues)[queue_index].needs_notification())
        m_interrupt->signal_queue(queue_index);
}

void VsockDevice::thaw()
{
    m_quiesced = false;
    process_tx();
    process_rx();
}

void VsockDevice::process_tx()
{
    if (!active() || m_quiesced)
        return;
    auto& queue = (*m_queues)[TX_QUEUE];
    bool used = false;
    for (bool rearmed = false; active();) {
        auto popped = queue.pop();
        if (!popped) {
            queue_fault("tx queue", popped.error());
            break;
        }
        if (!*popped) {
            if (rearmed)
                break;
            // EVENT_IDX: publish avail_event, then look once more for a buffer added meanwhile.
            queue.enable_notification();
            rearmed = true;
            continue;
        }
        rearmed = false;
        auto const& chain = **popped;
        if (auto handled = handle_tx_chain(chain); !handled) {
            queue_fault("tx chain", handled.error());
            break;
        }
        if (auto pushed = queue.push_used(chain.head, 0); !pushed) {
            queue_fault("tx used ring", pushed.error());
            break;
        }
        used = true;
    }
    if (used && m_queues)
        signal_if_needed(TX_QUEUE);
}

Result<void> VsockDevice::handle_tx_chain(DescriptorChain const& chain)
{
    uint64_t readable = chain.readable_length();
    if (readable < HEADER_SIZE) {
        m_counters.tx_short_chain++;
        return {};
    }
    auto head = std::span(m_packet).first(HEADER_SIZE);
    TRY(read_from_chain(*m_memory, chain.readable, 0, head));
    auto header = *decode_header(head);
    if (auto fault = check_guest_packet(header, m_guest_cid, readable - HEADER_SIZE); fault != PacketFault::None) {
        refuse_packet(header, fault);
        return {};
    }
    auto payload = std::span(m_packet).subspan(HEADER_SIZE, header.length);
    TRY(read_from_chain(*m_memory, chain.readable, HEADER_SIZE, payload));
    m_counters.tx_packets++;
    m_counters.tx_bytes += header.length;
    m_muxer->handle_guest_packet(header, payload);
    return {};
}

void VsockDevice::refuse_packet(PacketHeader const& header, PacketFault fault)
{
    switch (fault) {
    case PacketFault::None:
        return;
    case PacketFault::BadSourceCid:
        m_counters.tx_bad_src_cid++;
        return; // not from the guest it claims: no reply
    case PacketFault::BadDestinationCid:
        m_counters.tx_bad_dst_cid++;
        break;
    case PacketFault::BadType:
        m_counters.tx_bad_type++;
        break;
    case PacketFault::BadOp:
        m_counters.tx_bad_op++;
        break;
    case PacketFault::BadLength:
        m_counters.tx_bad_length++;
        break;
    }
    log::debug("virtio-vsock: refused a packet (op {}, type {}, len {})", header.op, header.type, header.length);
    if (auto reply = reset_reply(header))
        m_muxer->queue_reset(*reply);
}

void VsockDevice::process_rx()
{
    if (!active() || m_in_rx || m_quiesced)
        return;
    m_in_rx = true;
    auto& queue = (*m_queues)[RX_QUEUE];
    bool used = false;
    bool rearmed = false;
    while (active() && m_muxer->has_rx()) {
        auto popped = queue.pop();
        if (!popped) {
            queue_fault("rx queue", popped.error());
            break;
        }
        if (!*popped) {
            if (rearmed)
                break; // stalled until the driver adds buffers (queue_notify on rx)
            queue.enable_notification();
            rearmed = true;
            continue;
        }
        rearmed = false;
        if (auto filled = fill_rx_chain(queue, **popped); !filled) {
            queue_fault("rx chain", filled.error());
            break;
        }
        used = true;
    }
    m_in_rx = false;
    if (used && m_queues)
        signal_if_needed(RX_QUEUE);
}

Result<void> VsockDevice::fill_rx_chain(Virtqueue& queue, DescriptorChain const& chain)
{
    uint64_t writable = chain.writable_length();
    size_t size = 0;
    if (writable >= HEADER_SIZE)
        size = m_muxer->next_rx(std::span(m_packet).first(std::min<uint64_t>(writable, m_packet.size())));
    if (size == 0) {
        // Too small for a header (or for the only packet pending, data): give it back empty.
        m_counters.rx_buffer_too_small++;
        return queue.push_used(chain.head, 0);
    }
    TRY(write_to_chain(*m_memory, chain.writable, 0, std::span(m_packet).first(size)));
    m_counters.rx_packets++;
    m_counters.rx_bytes += size - HEADER_SIZE;
    return queue.push_used(chain.head, static_cast<uint32_t>(size));
}

bool VsockDevice::transport_reset()
{
    m_muxer->close_all();
    if (!active())
        return false;
    auto& queue = (*m_queues)[EVENT_QUEUE];
    auto popped = queue.pop();
    if (!popped) {
        queue_fault("event queue", popped.error());
        return false;
    }
    if (!*popped)
        return false;
    auto const& chain = **popped;
    // Section 5.10.6.6: struct virtio_vsock_event { le32 id; }. A smaller buffer goes back empty.
    std::array<std::byte, 4> event {};
    store_le<uint32_t>(event, 0, EVENT_TRANSPORT_RESET);
    uint32_t length = chain.writable_length() >= event.size() ? event.size() : 0;
    if (length > 0) {
        if (auto written = write_to_chain(*m_memory, chain.writable, 0, event); !written) {
            queue_fault("event buffer", written.error());
            return false;
        }
    }
    if (auto pushed = queue.push_used(chain.head, length); !pushed) {
        queue_fault("event queue", pushed.error());
        return false;
    }
    signal_if_needed(EVENT_QUEUE);
    if (length == 0)
        return false;
    m_counters.events_sent++;
    return true;
}

} // namespace monarch::vmm::virtio::vsock

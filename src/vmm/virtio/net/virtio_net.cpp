// SPDX-License-Identifier: Apache-2.0
// virtio-net on a tap: feature negotiation against the tap's offloads, the configuration space,
// transmit (chain -> one tap write) and receive (tap readable on the event loop -> receive
// buffers, merged when the driver allows it; virtio 1.2 sections 5.1.6.3 and 5.1.6.4).
#include "vmm/virtio/net/virtio_net.h"

#include "common/byte_access.h"
#include "common/log.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/if_tun.h>
#include <sys/random.h>
#include <unistd.h>

namespace monarch::vmm::virtio {

using namespace net_feature;

namespace {

constexpr uint64_t CONFIG_MAC = 0;        // u8 mac[6]
constexpr uint64_t CONFIG_STATUS = 6;     // le16 status
constexpr uint64_t CONFIG_PAIRS = 8;      // le16 max_virtqueue_pairs
constexpr uint64_t CONFIG_BYTES = 10;
constexpr uint64_t NUM_BUFFERS_OFFSET = 10; // le16 num_buffers in struct virtio_net_hdr_v1
constexpr int FRAMES_PER_ROUND = 256;       // then yield to the rest of the event loop

machine::MacAddress random_mac()
{
    machine::MacAddress mac {};
    if (::getrandom(mac.data(), mac.size(), 0) != static_cast<ssize_t>(mac.size()))
        mac = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    // Locally administered (bit 1), unicast (bit 0 clear): IEEE 802 first-octet bits.
    mac[0] = static_cast<uint8_t>((mac[0] & 0xfe) | 0x02);
    return mac;
}

unsigned tun_offloads(uint64_t acked)
{
    unsigned flags = 0;
    if (acked & GUEST_CSUM)
        flags |= TUN_F_CSUM;
    if (acked & GUEST_TSO4)
        flags |= TUN_F_TSO4;
    if (acked & GUEST_TSO6)
        flags |= TUN_F_TSO6;
    if (acked & GUEST_ECN)
        flags |= TUN_F_TSO_ECN;
    if (acked & GUEST_UFO)
        flags |= TUN_F_UFO;
    // The tap refuses segmentation offloads without checksum offload.
    return (flags & TUN_F_CSUM) ? flags : 0;
}

} // namespace

Result<std::unique_ptr<VirtioNet>> VirtioNet::create(boost::asio::io_context& io, machine::NetConfig const& config)
{
    auto tap = TRY(net::Tap::open(config.tap));
    TRY_VOID(tap.set_host_address(config.host_ip, config.netmask));
    auto mac = config.mac.value_or(random_mac());
    return std::unique_ptr<VirtioNet>(new VirtioNet(io, std::move(tap), mac));
}

VirtioNet::VirtioNet(boost::asio::io_context& io, net::Tap tap, machine::MacAddress mac)
    : m_io(io)
    , m_tap(std::move(tap))
    , m_mac(mac)
    , m_tap_events(io, ::dup(m_tap.fd()))
    , m_frame(HEADER_BYTES + MAX_FRAME_BYTES)
    , m_tx_buffer(HEADER_BYTES + MAX_FRAME_BYTES)
{
}

uint64_t VirtioNet::device_features() const
{
    uint64_t features = F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC | CSUM | MAC | MRG_RXBUF | STATUS;
    unsigned const tap = m_tap.supported_offloads();
    if (tap & TUN_F_CSUM)
        features |= GUEST_CSUM;
    // What the guest may send (HOST_*) the tap takes whenever it takes the matching GSO type
    // in the other direction; what it may receive (GUEST_*) needs TUNSETOFFLOAD.
    if ((tap & TUN_F_CSUM) && (tap & TUN_F_TSO4))
        features |= GUEST_TSO4 | HOST_TSO4;
    if ((tap & TUN_F_CSUM) && (tap & TUN_F_TSO6))
        features |= GUEST_TSO6 | HOST_TSO6;
    if ((tap & TUN_F_CSUM) && (tap & TUN_F_TSO_ECN) && (tap & (TUN_F_TSO4 | TUN_F_TSO6)))
        features |= GUEST_ECN | HOST_ECN;
    if ((tap & TUN_F_CSUM) && (tap & TUN_F_UFO))
        features |= GUEST_UFO | HOST_UFO;
    return features;
}

void VirtioNet::read_config(uint64_t offset, std::span<std::byte> data) const
{
    std::array<std::byte, CONFIG_BYTES> space {};
    std::memcpy(space.data() + CONFIG_MAC, m_mac.data(), m_mac.size());
    store_le<uint16_t>(space, CONFIG_STATUS, STATUS_LINK_UP);
    store_le<uint16_t>(space, CONFIG_PAIRS, 1);
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (offset >= space.size())
        return;
    auto const count = std::min<uint64_t>(data.size(), space.size() - offset);
    std::memcpy(data.data(), space.data() + offset, count);
}

Result<void> VirtioNet::activate(ActivateContext context)
{
    if (context.queues.size() != 2)
        return fail(Errc::InvalidArgument, "virtio-net: expects a receive and a transmit queue");
    TRY_VOID(m_tap.set_offloads(tun_offloads(context.acked_features)));
    m_context.emplace(context);
    m_mergeable = (context.acked_features & MRG_RXBUF) != 0;
    m_needs_reset = false;
    m_frame_length = 0;
    m_rx_chains.clear();
    m_quiesced = false;
    arm_wait();
    return {};
}

void VirtioNet::reset()
{
    m_tap_events.cancel(); // the cancelled handler touches nothing
    m_waiting = false;
    m_context.reset();
    m_rx_chains.clear();
    m_frame_length = 0;
    m_needs_reset = false;
    (void)m_tap.set_offloads(0);
}

void VirtioNet::quiesce()
{
    m_quiesced = true;
    m_tap_events.cancel(); // the cancelled handler touches nothing
    m_waiting = false;
    if (!m_context || m_rx_chains.empty())
        return;
    // The held chains are the receive queue's most recently popped ones, in order.
    auto const held = static_cast<uint16_t>(m_rx_chains.size());
    if (auto rewound = m_context->queues[RECEIVE_QUEUE].rewind(held); !rewound)
        log::warn("virtio-net: quiesce: {}", to_string(rewound.error()));
    m_rx_chains.clear();
}

void VirtioNet::thaw()
{
    m_quiesced = false;
    if (m_context && !m_needs_reset)
        receive(); // frames that arrived meanwhile; re-arms the tap wait
}

void VirtioNet::queue_notify(uint16_t queue_index)
{
    if (!m_context || m_needs_reset)
        return;
    if (queue_index == TRANSMIT_QUEUE)
        transmit();
    else if (queue_index == RECEIVE_QUEUE)
        receive(); // new receive buffers: a frame may be waiting for them
}

void VirtioNet::broken()
{
    if (m_counters.broken_chains++ == 0)
        log::warn("virtio-net: the driver broke the ring protocol; the device needs a reset");
    m_needs_reset = true;
}

void VirtioNet::arm_wait()
{
    if (m_waiting || !m_context || m_quiesced)
        return;
    m_waiting = true;
    m_tap_events.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code error) {
        // Cancelled by reset() or the destructor: `this` may be gone, touch nothing.
        if (error == boost::asio::error::operation_aborted)
            return;
        m_waiting = false;
        receive();
    });
}

void VirtioNet::transmit()
{
    auto& queue = m_context->queues[TRANSMIT_QUEUE];
    bool used = false;
    while (true) {
        auto chain = queue.pop();
        if (!chain) {
            broken();
            break;
        }
        if (!*chain)
            break;
        // Section 5.1.6.2: header then frame, all device-readable.
        uint64_t const length = (*chain)->readable_length();
        if (length < HEADER_BYTES || length > m_tx_buffer.size()) {
            ++m_counters.tx_dropped;
        } else {
            auto read = read_from_chain(m_context->memory, (*chain)->readable, 0, std::span { m_tx_buffer.data(), length });
            // The tap checks the header (virtio_net_hdr_to_skb) and refuses a bad one.
            ssize_t const wrote = read ? ::write(m_tap.fd(), m_tx_buffer.data(), *read) : -1;
            if (wrote == static_cast<ssize_t>(length)) {
                ++m_counters.tx_frames;
                m_counters.tx_bytes += length - HEADER_BYTES;
            } else if (m_counters.tx_dropped++ == 0) {
                log::warn("virtio-net: {} refused a frame: {}", m_tap.name(), wrote < 0 ? std::strerror(errno) : "short write");
            }
        }
        if (!queue.push_used((*chain)->head, 0)) {
            broken();
            break;
        }
        used = true;
    }
    if (used && queue.needs_notification())
        m_context->interrupt.signal_queue(TRANSMIT_QUEUE);
}

void VirtioNet::receive()
{
    if (m_quiesced || !m_context)
        return;
    bool delivered = false;
    bool more = true;
    for (int round = 0; round < FRAMES_PER_ROUND && more && !m_needs_reset; ++round) {
        if (m_frame_length == 0 && !read_frame()) {
            arm_wait(); // drained: wait for the tap
            more = false;
            break;
        }
        if (!deliver_frame()) {
            more = false; // no receive buffers: queue_notify(RECEIVE_QUEUE) resumes
            break;
        }
        delivered = true;
    }
    if (more && !m_needs_reset)
        arm_wait(); // budget used: come back after the rest of the loop had its turn
    if (delivered && m_context && m_context->queues[RECEIVE_QUEUE].needs_notification())
        m_context->interrupt.signal_queue(RECEIVE_QUEUE);
}

bool VirtioNet::read_frame()
{
    while (true) {
        ssize_t const length = ::read(m_tap.fd(), m_frame.data(), m_frame.size());
        if (length < 0) {
            if (errno != EAGAIN && errno != EINTR)
                log::warn("virtio-net: read from {}: {}", m_tap.name(), std::strerror(errno));
            return false;
        }
        if (static_cast<size_t>(length) <= HEADER_BYTES)
            continue; // the tap always prepends the header; nothing to deliver
        m_frame_length = static_cast<size_t>(length);
        return true;
    }
}

bool VirtioNet::take_chains(uint64_t bytes)
{
    uint64_t total = 0;
    for (auto const& chain : m_rx_chains)
        total += chain.writable_length();
    auto& queue = m_context->queues[RECEIVE_QUEUE];
    while (total < bytes) {
        auto chain = queue.pop();
        if (!chain) {
            broken();
            return false;
        }
        if (!*chain)
            return false;
        if ((*chain)->writable_length() == 0) {
            // A receive buffer the device cannot write: give it back unused.
            if (!queue.push_used((*chain)->head, 0)) {
                broken();
                return false;
            }
            continue;
        }
        total += (*chain)->writable_length();
        m_rx_chains.push_back(std::move(**chain));
    }
    return true;
}

bool VirtioNet::deliver_frame()
{
    auto& queue = m_context->queues[RECEIVE_QUEUE];
    if (!take_chains(m_mergeable ? m_frame_length : 1)) {
        // Every buffer of the ring is held and the frame still does not fit: waiting would
        // never end, so drop it (the held buffers serve the next frames).
        if (m_mergeable && !m_needs_reset && m_rx_chains.size() >= queue.config().size) {
            ++m_counters.rx_dropped;
            m_frame_length = 0;
            return true;
        }
        return false;
    }
    if (!m_mergeable && m_rx_chains.front().writable_length() < m_frame_length) {
        // Section 5.1.6.3: without MRG_RXBUF the driver posts buffers for the largest frame it
        // negotiated; one smaller than this frame keeps waiting for a frame that fits.
        ++m_counters.rx_dropped;
        m_frame_length = 0;
        return true;
    }
    // Count the buffers the frame takes and record it in the header (section 5.1.6.4).
    uint16_t buffers = 0;
    for (uint64_t covered = 0; covered < m_frame_length; ++buffers)
        covered += m_rx_chains[buffers].writable_length();
    store_le<uint16_t>(m_frame, NUM_BUFFERS_OFFSET, buffers);
    uint64_t offset = 0;
    for (uint16_t i = 0; i < buffers; ++i) {
        auto chain = std::move(m_rx_chains.front());
        m_rx_chains.pop_front();
        uint64_t const piece = std::min<uint64_t>(m_frame_length - offset, chain.writable_length());
        auto written = write_to_chain(m_context->memory, chain.writable, 0, std::span { m_frame.data() + offset, piece });
        if (!written || *written != piece || !queue.push_used(chain.head, static_cast<uint32_t>(piece), Virtqueue::Publish::Later)) {
            broken();
            return false;
        }
        offset += piece;
    }
    // One used->idx update for the whole frame: a driver that polls never sees the first
    // buffers of a merged frame without the rest (Linux drops such a frame as "buffers missing").
    if (!queue.publish_used()) {
        broken();
        return false;
    }
    ++m_counters.rx_frames;
    m_counters.rx_bytes += m_frame_length - HEADER_BYTES;
    m_frame_length = 0;
    return true;
}

} // namespace monarch::vmm::virtio

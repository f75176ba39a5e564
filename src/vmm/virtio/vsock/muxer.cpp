// SPDX-License-Identifier: Apache-2.0
// The vsock muxer: connection table, packet routing and the queue toward the guest.

#include "vmm/virtio/vsock/muxer.h"

#include "common/log.h"
#include "common/verify.h"

#include <boost/asio/buffer.hpp>

#include <fmt/format.h>

namespace monarch::vmm::virtio::vsock {

namespace asio = boost::asio;

Muxer::Muxer(asio::io_context& io, uint64_t guest_cid, std::string uds_path, VsockLimits limits, VsockCounters& counters, RxReady rx_ready)
    : m_io(io)
    , m_guest_cid(guest_cid)
    , m_uds_path(std::move(uds_path))
    , m_limits(limits)
    , m_counters(counters)
    , m_rx_ready(std::move(rx_ready))
{
}

Result<std::unique_ptr<Muxer>> Muxer::create(asio::io_context& io, uint64_t guest_cid, std::string uds_path, VsockLimits limits, VsockCounters& counters, RxReady rx_ready)
{
    auto muxer = std::unique_ptr<Muxer>(new Muxer(io, guest_cid, uds_path, limits, counters, std::move(rx_ready)));
    auto* raw = muxer.get();
    muxer->m_listener = TRY(HostListener::create(io, std::move(uds_path), limits, counters,
        [raw](HostListener::Socket socket, uint32_t port, std::span<std::byte const> early_data) {
            raw->connect_from_host(std::move(socket), port, early_data);
        }));
    return muxer;
}

Muxer::~Muxer()
{
    m_listener.reset();
    for (auto& [key, connection] : m_connections)
        connection->detach();
}

Connection::Params Muxer::params(ConnectionKey key)
{
    return Connection::Params { *this, m_counters, key, m_guest_cid, m_limits };
}

void Muxer::handle_guest_packet(PacketHeader const& h, std::span<std::byte const> payload)
{
    ConnectionKey key { h.dst_port, h.src_port };
    auto it = m_connections.find(key);
    if (h.op == static_cast<uint16_t>(Op::Request)) {
        if (it != m_connections.end()) {
            // A second REQUEST on a live pair: the guest lost track; reset the old one.
            m_counters.protocol_errors++;
            connection_ended(key, SendReset::Yes);
            return;
        }
        connect_from_guest(h);
        return;
    }
    if (it == m_connections.end()) {
        // Section 5.10.6.4: a packet for no connection is answered with RST (except an RST).
        if (auto reply = reset_reply(h)) {
            m_counters.tx_unknown_connection++;
            queue_reset(*reply);
        }
        return;
    }
    auto connection = it->second; // keeps it alive if the packet ends it
    connection->handle_guest_packet(h, payload);
}

void Muxer::connect_from_guest(PacketHeader const& request)
{
    auto path = fmt::format("{}_{}", m_uds_path, request.dst_port);
    if (m_connections.size() >= m_limits.max_connections) {
        m_counters.connection_limit_hits++;
        queue_reset(*reset_reply(request));
        return;
    }
    if (!fits_unix_socket_path(path)) {
        m_counters.host_connect_failures++;
        queue_reset(*reset_reply(request));
        return;
    }
    ConnectionKey key { request.dst_port, request.src_port };
    m_connections.emplace(key, Connection::create_from_guest(params(key), m_io, request, std::move(path)));
    m_counters.connections_opened++;
}

void Muxer::connect_from_host(HostListener::Socket socket, uint32_t guest_port, std::span<std::byte const> early_data)
{
    auto local_port = m_connections.size() < m_limits.max_connections ? allocate_local_port() : std::nullopt;
    if (!local_port) {
        m_counters.connection_limit_hits++;
        constexpr std::string_view line = "ERR too many connections\n";
        boost::system::error_code ignored;
        socket.non_blocking(true, ignored);
        socket.write_some(asio::buffer(line.data(), line.size()), ignored);
        return; // the socket closes here
    }
    ConnectionKey key { *local_port, guest_port };
    m_connections.emplace(key, Connection::create_from_host(params(key), std::move(socket), early_data));
    m_counters.connections_opened++;
    connection_rx_ready(key); // the OP_REQUEST
}

// The next free local port at or above FIRST_EPHEMERAL_PORT, wrapping around.
std::optional<uint32_t> Muxer::allocate_local_port()
{
    constexpr uint64_t range = (1ULL << 32) - FIRST_EPHEMERAL_PORT;
    for (uint64_t tries = 0; tries < range; ++tries) {
        uint32_t port = m_next_local_port;
        m_next_local_port = port == UINT32_MAX ? FIRST_EPHEMERAL_PORT : port + 1;
        auto it = m_connections.lower_bound(ConnectionKey { port, 0 });
        if (it == m_connections.end() || it->first.local_port != port)
            return port;
    }
    return std::nullopt;
}

void Muxer::queue_reset(PacketHeader const& reset)
{
    if (m_resets.size() >= m_limits.max_queued_resets) {
        m_counters.resets_dropped++;
        return;
    }
    m_resets.push_back(reset);
    if (m_rx_ready)
        m_rx_ready();
}

void Muxer::connection_rx_ready(ConnectionKey key)
{
    auto it = m_connections.find(key);
    if (it == m_connections.end() || it->second->in_rx_list)
        return;
    it->second->in_rx_list = true;
    m_rx_list.push_back(key);
    if (m_rx_ready)
        m_rx_ready();
}

void Muxer::connection_ended(ConnectionKey key, SendReset reset)
{
    auto it = m_connections.find(key);
    if (it == m_connections.end())
        return;
    auto connection = it->second;
    m_connections.erase(it);
    connection->detach();
    m_counters.connections_closed++;
    if (reset == SendReset::Yes) {
        PacketHeader h;
        h.src_cid = HOST_CID;
        h.dst_cid = m_guest_cid;
        h.src_port = key.local_port;
        h.dst_port = key.peer_port;
        h.type = static_cast<uint16_t>(SocketType::Stream);
        h.op = static_cast<uint16_t>(Op::Rst);
        queue_reset(h);
    }
}

bool Muxer::has_rx()
{
    if (!m_resets.empty())
        return true;
    // Drop entries whose connection went away or has nothing after all.
    while (!m_rx_list.empty()) {
        auto it = m_connections.find(m_rx_list.front());
        if (it != m_connections.end() && it->second->has_rx())
            return true;
        if (it != m_connections.end())
            it->second->in_rx_list = false;
        m_rx_list.pop_front();
    }
    return false;
}

size_t Muxer::next_rx(std::span<std::byte> out)
{
    if (!m_resets.empty()) {
        encode_header(m_resets.front(), out.first<HEADER_SIZE>());
        m_resets.pop_front();
        m_counters.resets_sent++;
        return HEADER_SIZE;
    }
    while (has_rx()) {
        auto key = m_rx_list.front();
        m_rx_list.pop_front();
        auto it = m_connections.find(key);
        VERIFY(it != m_connections.end()); // has_rx() checked the front entry
        auto connection = it->second;
        connection->in_rx_list = false;
        size_t size = connection->next_rx(out);
        // Round robin: a connection with more to say goes to the back of the list.
        if (connection->has_rx())
            connection_rx_ready(key);
        if (size > 0)
            return size;
    }
    return 0;
}

void Muxer::close_all()
{
    auto connections = std::move(m_connections);
    m_connections.clear();
    for (auto& [key, connection] : connections)
        connection->detach();
    m_counters.connections_closed += connections.size();
    m_rx_list.clear();
    m_resets.clear();
}

} // namespace monarch::vmm::virtio::vsock

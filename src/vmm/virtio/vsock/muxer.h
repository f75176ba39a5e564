// SPDX-License-Identifier: Apache-2.0
// The vsock muxer (Firecracker's design): the connection table keyed by (local port, peer
// port), the routing of guest packets to connections, host clients to new connections, and
// the queue of packets waiting for the guest's rx buffers.
#pragma once

#include "common/result.h"
#include "vmm/virtio/vsock/connection.h"
#include "vmm/virtio/vsock/host_listener.h"
#include "vmm/virtio/vsock/packet.h"
#include "vmm/virtio/vsock/vsock_types.h"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>

namespace monarch::vmm::virtio::vsock {

// Host-initiated connections use local ports from here upwards (as Firecracker does), far from
// the ports guest services listen on.
inline constexpr uint32_t FIRST_EPHEMERAL_PORT = 1U << 30;

class Muxer final : private ConnectionOwner {
public:
    // Called when a packet for the guest became pending (the device then fills rx buffers).
    using RxReady = std::function<void()>;

    // Listens on `uds_path` for host clients; guest connections to host port P go to
    // "<uds_path>_<P>".
    [[nodiscard]] static Result<std::unique_ptr<Muxer>> create(boost::asio::io_context& io, uint64_t guest_cid, std::string uds_path, VsockLimits limits, VsockCounters& counters, RxReady rx_ready);
    ~Muxer();

    Muxer(Muxer const&) = delete;
    Muxer& operator=(Muxer const&) = delete;

    // A packet from the guest that passed check_guest_packet().
    void handle_guest_packet(PacketHeader const& header, std::span<std::byte const> payload);
    // Queue an RST for the guest (a reply to a refused packet). Bounded; counted.
    void queue_reset(PacketHeader const& reset);

    // Whether next_rx() has a packet now.
    [[nodiscard]] bool has_rx();
    // The next packet for the guest into `out` (at least HEADER_SIZE bytes); its size, or 0.
    [[nodiscard]] size_t next_rx(std::span<std::byte> out);

    // Device reset: every connection is closed (host sockets too) and nothing stays queued.
    void close_all();
    [[nodiscard]] size_t connection_count() const { return m_connections.size(); }

private:
    Muxer(boost::asio::io_context& io, uint64_t guest_cid, std::string uds_path, VsockLimits limits, VsockCounters& counters, RxReady rx_ready);

    void connection_rx_ready(ConnectionKey key) override;
    void connection_ended(ConnectionKey key, SendReset reset) override;

    void connect_from_host(HostListener::Socket socket, uint32_t guest_port, std::span<std::byte const> early_data);
    void connect_from_guest(PacketHeader const& request);
    [[nodiscard]] std::optional<uint32_t> allocate_local_port();
    [[nodiscard]] Connection::Params params(ConnectionKey key);

    boost::asio::io_context& m_io;
    uint64_t m_guest_cid;
    std::string m_uds_path;
    VsockLimits m_limits;
    VsockCounters& m_counters;
    RxReady m_rx_ready;
    std::unique_ptr<HostListener> m_listener;

    std::map<ConnectionKey, std::shared_ptr<Connection>> m_connections;
    std::deque<ConnectionKey> m_rx_list;       // connections with something for the guest
    std::deque<PacketHeader> m_resets;         // RSTs not tied to a live connection
    uint32_t m_next_local_port { FIRST_EPHEMERAL_PORT };
};

} // namespace monarch::vmm::virtio::vsock

// SPDX-License-Identifier: Apache-2.0
// One vsock stream between a guest port and a host Unix socket: its state machine, the
// credit-based flow control of virtio 1.2 section 5.10.6.3 in both directions, and the
// non-blocking I/O on the host socket. Owned by the muxer; async handlers keep it alive
// through shared_from_this() and do nothing once it is detached.
#pragma once

#include "vmm/virtio/vsock/packet.h"
#include "vmm/virtio/vsock/vsock_types.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::vmm::virtio::vsock {

enum class SendReset : bool { No, Yes };

// What a connection tells its muxer. Calls arrive on the event-loop thread.
class ConnectionOwner {
public:
    // The connection has a packet for the guest (Connection::has_rx() turned true).
    virtual void connection_rx_ready(ConnectionKey key) = 0;
    // The connection is over: forget it, and send the guest an RST if asked.
    virtual void connection_ended(ConnectionKey key, SendReset reset) = 0;

protected:
    ~ConnectionOwner() = default;
};

class Connection final : public std::enable_shared_from_this<Connection> {
public:
    using Socket = boost::asio::local::stream_protocol::socket;

    struct Params {
        ConnectionOwner& owner;
        VsockCounters& counters;
        ConnectionKey key;
        uint64_t guest_cid { 0 };
        VsockLimits limits;
    };

    // Host-initiated: a host client sent "CONNECT <port>"; we send the guest OP_REQUEST.
    // `early_data` is what the client wrote after its CONNECT line.
    [[nodiscard]] static std::shared_ptr<Connection> create_from_host(Params params, Socket socket, std::span<std::byte const> early_data);
    // Guest-initiated: the guest's OP_REQUEST; we connect to `path` and answer RESPONSE or RST.
    [[nodiscard]] static std::shared_ptr<Connection> create_from_guest(Params params, boost::asio::io_context& io, PacketHeader const& request, std::string path);

    // A validated packet from the guest for this connection (not REQUEST: the muxer handles those).
    void handle_guest_packet(PacketHeader const& header, std::span<std::byte const> payload);

    // Whether next_rx() would produce a packet now.
    [[nodiscard]] bool has_rx() const;
    // Writes the next packet for the guest into `out` (header, then payload up to what fits),
    // and returns its total size; 0 if there is none. `out` holds at least HEADER_SIZE bytes.
    [[nodiscard]] size_t next_rx(std::span<std::byte> out);

    // Stop: no more callbacks to the owner, host socket closed. The muxer calls this.
    void detach();
    // Ends the connection after telling a host client that still waits for "OK" why not.
    void refuse_host(std::string_view reason, SendReset reset);

    // The muxer's bookkeeping of its rx list.
    bool in_rx_list { false };

private:
    enum class State { HostConnecting, GuestConnecting, Established, Closed };

    Connection(Params params, Socket socket, State state);

    void start_connect_timer();
    void connect_to_host(std::string path);
    void establish_from_host();
    void on_guest_data(std::span<std::byte const> payload);
    void on_guest_shutdown(uint32_t flags);
    void after_guest_credit();

    void start_read();
    void request_credit();
    void start_write();
    void on_written(size_t count);
    void maybe_credit_update();
    void maybe_finish();

    void notify();
    void end(SendReset reset);
    void fail_io();

    [[nodiscard]] uint32_t peer_credit() const;
    [[nodiscard]] size_t pending_from_host() const { return m_from_host_length - m_from_host_offset; }
    [[nodiscard]] PacketHeader header(Op op, uint32_t length, uint32_t flags = 0);

    ConnectionOwner* m_owner;   // null once detached: handlers then return at once
    VsockCounters& m_counters;
    ConnectionKey m_key;
    uint64_t m_guest_cid;
    VsockLimits m_limits;
    State m_state;
    Socket m_socket;
    boost::asio::steady_timer m_timer;

    // Guest's receive side, as its last packet stated, and what we have sent it.
    uint32_t m_peer_buf_alloc { 0 };
    uint32_t m_peer_fwd_cnt { 0 };
    uint32_t m_tx_cnt { 0 };
    // Our receive side: bytes taken from the guest, bytes written to the host, fwd_cnt last told.
    uint32_t m_rx_cnt { 0 };
    uint32_t m_fwd_cnt { 0 };
    uint32_t m_last_fwd_cnt_sent { 0 };

    // Host -> guest: one buffer, read into only when it has been delivered completely.
    std::vector<std::byte> m_from_host;
    size_t m_from_host_length { 0 };
    size_t m_from_host_offset { 0 };
    bool m_reading { false };
    bool m_host_eof { false };

    // Guest -> host: chunks in order; the front one may be partly written.
    std::deque<std::vector<std::byte>> m_to_host;
    size_t m_to_host_offset { 0 };
    size_t m_to_host_prefix { 0 };   // leading bytes that are ours ("OK ..."), not the guest's
    bool m_writing { false };
    bool m_host_write_closed { false };

    // Control packets owed to the guest.
    bool m_send_request { false };
    bool m_send_response { false };
    bool m_send_credit_update { false };
    bool m_send_credit_request { false };
    bool m_credit_request_outstanding { false };
    bool m_shutdown_sent { false };
    uint32_t m_guest_shutdown { 0 };   // SHUTDOWN_* flags the guest has sent so far
};

} // namespace monarch::vmm::virtio::vsock

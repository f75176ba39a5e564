// SPDX-License-Identifier: Apache-2.0
// A vsock connection: state machine, credit accounting and host-socket I/O (virtio 1.2
// section 5.10.6). Everything runs on the event-loop thread.

#include "vmm/virtio/vsock/connection.h"

#include "common/log.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstring>

namespace monarch::vmm::virtio::vsock {

namespace asio = boost::asio;
using boost::system::error_code;

// One read from a host socket is at most one maximal packet.
static constexpr size_t READ_CHUNK = MAX_PAYLOAD;

Connection::Connection(Params params, Socket socket, State state)
    : m_owner(&params.owner)
    , m_counters(params.counters)
    , m_key(params.key)
    , m_guest_cid(params.guest_cid)
    , m_limits(params.limits)
    , m_state(state)
    , m_socket(std::move(socket))
    , m_timer(m_socket.get_executor())
    , m_from_host(READ_CHUNK)
{
}

std::shared_ptr<Connection> Connection::create_from_host(Params params, Socket socket, std::span<std::byte const> early_data)
{
    auto connection = std::shared_ptr<Connection>(new Connection(params, std::move(socket), State::HostConnecting));
    size_t length = std::min(early_data.size(), connection->m_from_host.size());
    std::memcpy(connection->m_from_host.data(), early_data.data(), length);
    connection->m_from_host_length = length;
    connection->m_send_request = true;
    connection->start_connect_timer();
    connection->notify();
    return connection;
}

std::shared_ptr<Connection> Connection::create_from_guest(Params params, asio::io_context& io, PacketHeader const& request, std::string path)
{
    auto connection = std::shared_ptr<Connection>(new Connection(params, Socket(io), State::GuestConnecting));
    connection->m_peer_buf_alloc = request.buf_alloc;
    connection->m_peer_fwd_cnt = request.fwd_cnt;
    connection->connect_to_host(std::move(path));
    return connection;
}

// Firecracker's rule: a request the other side does not answer in time is reset.
void Connection::start_connect_timer()
{
    m_timer.expires_after(m_limits.connect_timeout);
    m_timer.async_wait([self = shared_from_this()](error_code ec) {
        if (ec || !self->m_owner || self->m_state != State::HostConnecting)
            return;
        self->m_counters.timeouts++;
        self->refuse_host("ERR guest did not answer\n", SendReset::Yes);
    });
}

void Connection::connect_to_host(std::string path)
{
    m_socket.async_connect(asio::local::stream_protocol::endpoint(path), [self = shared_from_this()](error_code ec) {
        if (!self->m_owner)
            return;
        if (ec) {
            self->m_counters.host_connect_failures++;
            log::debug("virtio-vsock: guest port {} -> host port {}: {}", self->m_key.peer_port, self->m_key.local_port, ec.message());
            self->end(SendReset::Yes);
            return;
        }
        self->m_state = State::Established;
        self->m_send_response = true;
        self->notify();
        self->start_read();
    });
}

void Connection::handle_guest_packet(PacketHeader const& h, std::span<std::byte const> payload)
{
    if (h.op == static_cast<uint16_t>(Op::Rst)) {
        if (m_state == State::HostConnecting)
            refuse_host("ERR connection refused by the guest\n", SendReset::No);
        else
            end(SendReset::No);
        return;
    }
    // Every packet carries the sender's receive-buffer state (section 5.10.6.3).
    m_peer_buf_alloc = h.buf_alloc;
    m_peer_fwd_cnt = h.fwd_cnt;

    bool expected_state = h.op == static_cast<uint16_t>(Op::Response) ? m_state == State::HostConnecting : m_state == State::Established;
    if (!expected_state) {
        m_counters.protocol_errors++;
        if (m_state == State::HostConnecting)
            refuse_host("ERR guest protocol error\n", SendReset::Yes);
        else
            end(SendReset::Yes);
        return;
    }
    switch (static_cast<Op>(h.op)) {
    case Op::Response:
        establish_from_host();
        break;
    case Op::Rw:
        on_guest_data(payload);
        break;
    case Op::Shutdown:
        on_guest_shutdown(h.flags);
        break;
    case Op::CreditRequest:
        m_send_credit_update = true;
        break;
    default: // CREDIT_UPDATE: the credit fields above were all it carried
        break;
    }
    if (m_owner)
        after_guest_credit();
}

void Connection::establish_from_host()
{
    m_state = State::Established;
    m_timer.cancel();
    // Firecracker's host protocol: the VMM confirms with "OK <local port>\n" before any data.
    auto line = fmt::format("OK {}\n", m_key.local_port);
    auto bytes = std::as_bytes(std::span { line });
    m_to_host.emplace_front(bytes.begin(), bytes.end());
    m_to_host_prefix = bytes.size();
    start_write();
    start_read();
}

void Connection::on_guest_data(std::span<std::byte const> payload)
{
    if (m_guest_shutdown & SHUTDOWN_SEND) {
        m_counters.protocol_errors++;
        end(SendReset::Yes);
        return;
    }
    // The guest may have at most buf_alloc bytes in our buffer (section 5.10.6.3.1).
    uint32_t buffered = m_rx_cnt - m_fwd_cnt;
    if (payload.size() > m_limits.buffer_size - buffered) {
        m_counters.credit_violations++;
        end(SendReset::Yes);
        return;
    }
    if (payload.empty())
        return;
    m_rx_cnt += static_cast<uint32_t>(payload.size());
    m_to_host.emplace_back(payload.begin(), payload.end());
    start_write();
}

void Connection::on_guest_shutdown(uint32_t flags)
{
    m_guest_shutdown |= flags & SHUTDOWN_BOTH;
    if (m_guest_shutdown & SHUTDOWN_RECEIVE)
        m_from_host_offset = m_from_host_length; // the guest will read no more: drop it
    if ((m_guest_shutdown & SHUTDOWN_SEND) && !m_writing && m_to_host.empty() && !m_host_write_closed) {
        error_code ignored;
        m_socket.shutdown(Socket::shutdown_send, ignored); // half-close: the host reads EOF
        m_host_write_closed = true;
    }
    if (m_guest_shutdown == SHUTDOWN_BOTH) {
        // Section 5.10.6.5: the guest waits for our RST. If the host does not take the rest of
        // the data in time, the connection is reset anyway.
        m_timer.expires_after(m_limits.close_timeout);
        m_timer.async_wait([self = shared_from_this()](error_code ec) {
            if (ec || !self->m_owner)
                return;
            self->m_counters.timeouts++;
            self->end(SendReset::Yes);
        });
        maybe_finish();
    }
}

// Credit may have grown: resume a stalled read or delivery.
void Connection::after_guest_credit()
{
    if (peer_credit() > 0)
        m_credit_request_outstanding = false;
    start_read();
    notify();
}

uint32_t Connection::peer_credit() const
{
    uint32_t in_flight = m_tx_cnt - m_peer_fwd_cnt; // wraps like the spec's counters
    return in_flight >= m_peer_buf_alloc ? 0 : m_peer_buf_alloc - in_flight;
}

PacketHeader Connection::header(Op op, uint32_t length, uint32_t flags)
{
    PacketHeader h;
    h.src_cid = HOST_CID;
    h.dst_cid = m_guest_cid;
    h.src_port = m_key.local_port;
    h.dst_port = m_key.peer_port;
    h.length = length;
    h.type = static_cast<uint16_t>(SocketType::Stream);
    h.op = static_cast<uint16_t>(op);
    h.flags = flags;
    h.buf_alloc = m_limits.buffer_size;
    h.fwd_cnt = m_fwd_cnt;
    // Every packet tells the guest our fwd_cnt, so no separate update is owed for it.
    m_last_fwd_cnt_sent = m_fwd_cnt;
    m_send_credit_update = false;
    return h;
}

void Connection::notify()
{
    if (m_owner && has_rx())
        m_owner->connection_rx_ready(m_key);
}

void Connection::end(SendReset reset)
{
    if (m_owner)
        m_owner->connection_ended(m_key, reset); // calls detach()
}

void Connection::fail_io()
{
    m_counters.host_io_errors++;
    end(SendReset::Yes);
}

void Connection::detach()
{
    m_owner = nullptr;
    m_state = State::Closed;
    m_timer.cancel();
    error_code ignored;
    m_socket.close(ignored);
}

void Connection::refuse_host(std::string_view reason, SendReset reset)
{
    // Best effort and non-blocking: a short line into an idle socket's empty send buffer.
    error_code ignored;
    m_socket.non_blocking(true, ignored);
    m_socket.write_some(asio::buffer(reason.data(), reason.size()), ignored);
    end(reset);
}

} // namespace monarch::vmm::virtio::vsock

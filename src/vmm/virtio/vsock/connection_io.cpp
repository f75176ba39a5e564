// SPDX-License-Identifier: Apache-2.0
// A vsock connection's data path: reading the host socket only as far as the guest's credit
// allows, writing guest data to it, and the packets it owes the guest (virtio 1.2 section
// 5.10.6.3, "Buffer Space Management").

#include "vmm/virtio/vsock/connection.h"

#include "common/verify.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>

#include <algorithm>
#include <cstring>

namespace monarch::vmm::virtio::vsock {

namespace asio = boost::asio;
using boost::system::error_code;

void Connection::start_read()
{
    if (m_state != State::Established || m_reading || m_host_eof || pending_from_host() > 0 || (m_guest_shutdown & SHUTDOWN_RECEIVE))
        return;
    // Never take more from the host than the guest can receive: what stays in the socket
    // is the host writer's back-pressure (section 5.10.6.3: no more than peer_free bytes).
    uint32_t credit = peer_credit();
    if (credit == 0) {
        request_credit();
        return;
    }
    size_t length = std::min<size_t>(credit, m_from_host.size());
    m_reading = true;
    m_socket.async_read_some(asio::buffer(m_from_host.data(), length), [self = shared_from_this()](error_code ec, size_t count) {
        self->m_reading = false;
        if (!self->m_owner)
            return;
        if (ec == asio::error::eof) {
            self->m_host_eof = true; // the guest gets SHUTDOWN(SEND) once the data before it is out
            self->notify();
            return;
        }
        if (ec) {
            self->fail_io();
            return;
        }
        if (self->m_guest_shutdown & SHUTDOWN_RECEIVE)
            return; // the guest reads no more; the host's data goes nowhere
        self->m_from_host_offset = 0;
        self->m_from_host_length = count;
        self->notify();
    });
}

// Once per stall: OP_CREDIT_REQUEST makes the guest send its current fwd_cnt.
void Connection::request_credit()
{
    if (m_credit_request_outstanding)
        return;
    m_credit_request_outstanding = true;
    m_send_credit_request = true;
    notify();
}

void Connection::start_write()
{
    if (m_writing || m_to_host.empty() || m_state == State::Closed)
        return;
    auto const& chunk = m_to_host.front();
    m_writing = true;
    // The deque never moves its elements on push_back, so the chunk outlives the write.
    m_socket.async_write_some(asio::buffer(chunk.data() + m_to_host_offset, chunk.size() - m_to_host_offset),
        [self = shared_from_this()](error_code ec, size_t count) {
            self->m_writing = false;
            if (!self->m_owner)
                return;
            if (ec) {
                self->fail_io();
                return;
            }
            self->on_written(count);
        });
}

void Connection::on_written(size_t count)
{
    size_t ours = std::min(count, m_to_host_prefix);
    m_to_host_prefix -= ours;
    m_fwd_cnt += static_cast<uint32_t>(count - ours); // fwd_cnt counts only the guest's bytes
    m_to_host_offset += count;
    if (m_to_host_offset == m_to_host.front().size()) {
        m_to_host.pop_front();
        m_to_host_offset = 0;
    }
    if (m_to_host.empty() && (m_guest_shutdown & SHUTDOWN_SEND) && !m_host_write_closed) {
        error_code ignored;
        m_socket.shutdown(Socket::shutdown_send, ignored);
        m_host_write_closed = true;
    }
    maybe_credit_update();
    maybe_finish();
    start_write();
}

// Tell the guest about freed space once its view of our buffer is less than half free; when
// everything is written the view is then refreshed too, so the guest never waits forever.
void Connection::maybe_credit_update()
{
    if (m_fwd_cnt == m_last_fwd_cnt_sent)
        return;
    uint32_t guest_view_used = std::min(m_rx_cnt - m_last_fwd_cnt_sent, m_limits.buffer_size);
    if (m_limits.buffer_size - guest_view_used < m_limits.buffer_size / 2) {
        m_send_credit_update = true;
        notify();
    }
}

// Section 5.10.6.5: after the guest's SHUTDOWN of both directions and once its data is on the
// host socket, our RST completes the close.
void Connection::maybe_finish()
{
    if (m_guest_shutdown == SHUTDOWN_BOTH && m_to_host.empty() && !m_writing)
        end(SendReset::Yes);
}

bool Connection::has_rx() const
{
    switch (m_state) {
    case State::Closed:
    case State::GuestConnecting:
        return false;
    case State::HostConnecting:
        return m_send_request;
    case State::Established:
        break;
    }
    if (m_send_response || m_send_credit_update || m_send_credit_request)
        return true;
    if (pending_from_host() > 0)
        return peer_credit() > 0;
    return m_host_eof && !m_shutdown_sent;
}

size_t Connection::next_rx(std::span<std::byte> out)
{
    VERIFY(out.size() >= HEADER_SIZE);
    if (!has_rx())
        return 0;
    auto head = out.first<HEADER_SIZE>();
    if (m_send_request || m_send_response) {
        Op op = m_send_request ? Op::Request : Op::Response;
        m_send_request = m_send_response = false;
        encode_header(header(op, 0), head);
        return HEADER_SIZE;
    }
    size_t space = std::min<size_t>(out.size() - HEADER_SIZE, MAX_PAYLOAD);
    if (pending_from_host() > 0 && peer_credit() > 0 && space > 0) {
        size_t length = std::min({ pending_from_host(), size_t { peer_credit() }, space });
        std::memcpy(out.data() + HEADER_SIZE, m_from_host.data() + m_from_host_offset, length);
        m_from_host_offset += length;
        m_tx_cnt += static_cast<uint32_t>(length);
        encode_header(header(Op::Rw, static_cast<uint32_t>(length)), head);
        if (pending_from_host() == 0)
            start_read();
        else if (peer_credit() == 0)
            request_credit();
        return HEADER_SIZE + length;
    }
    if (m_send_credit_request) {
        m_send_credit_request = false;
        encode_header(header(Op::CreditRequest, 0), head);
        return HEADER_SIZE;
    }
    if (m_send_credit_update) {
        encode_header(header(Op::CreditUpdate, 0), head);
        return HEADER_SIZE;
    }
    if (m_host_eof && !m_shutdown_sent && pending_from_host() == 0) {
        // The host half-closed (or closed): it sends no more. The guest may still send; if the
        // host closed completely, the next write fails and the connection is reset.
        m_shutdown_sent = true;
        encode_header(header(Op::Shutdown, 0, SHUTDOWN_SEND), head);
        return HEADER_SIZE;
    }
    return 0;
}

} // namespace monarch::vmm::virtio::vsock

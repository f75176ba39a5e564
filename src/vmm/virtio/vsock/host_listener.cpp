// SPDX-License-Identifier: Apache-2.0
// The vsock host listener: accepting host clients and reading their CONNECT line.

#include "vmm/virtio/vsock/host_listener.h"

#include "common/log.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace monarch::vmm::virtio::vsock {

namespace asio = boost::asio;
using boost::system::error_code;
using Endpoint = asio::local::stream_protocol::endpoint;

struct HostListener::Handshake {
    explicit Handshake(asio::io_context& io) : socket(io), timer(io) {}
    Socket socket;
    asio::steady_timer timer;
    std::array<std::byte, MAX_CONNECT_LINE> buffer {};
    size_t length { 0 };
};

std::optional<uint32_t> parse_connect_line(std::string_view line)
{
    constexpr std::string_view verb = "CONNECT ";
    if (line.ends_with('\r'))
        line.remove_suffix(1);
    if (!line.starts_with(verb))
        return std::nullopt;
    line.remove_prefix(verb.size());
    if (line.empty() || line.size() > 10 || !std::all_of(line.begin(), line.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return std::nullopt;
    uint64_t port = 0;
    auto [end, ec] = std::from_chars(line.data(), line.data() + line.size(), port);
    if (ec != std::errc {} || end != line.data() + line.size() || port > UINT32_MAX)
        return std::nullopt;
    return static_cast<uint32_t>(port);
}

bool fits_unix_socket_path(std::string_view path)
{
    return !path.empty() && path.size() < sizeof(sockaddr_un::sun_path) && path.find('\0') == std::string_view::npos;
}

HostListener::HostListener(asio::io_context& io, std::string path, VsockLimits limits, VsockCounters& counters, ConnectHandler on_connect)
    : m_io(io)
    , m_acceptor(io)
    , m_retry_timer(io)
    , m_path(std::move(path))
    , m_limits(limits)
    , m_counters(counters)
    , m_on_connect(std::move(on_connect))
{
}

Result<std::unique_ptr<HostListener>> HostListener::create(asio::io_context& io, std::string path, VsockLimits limits, VsockCounters& counters, ConnectHandler on_connect)
{
    if (!fits_unix_socket_path(path))
        return fail(Errc::InvalidArgument, "virtio-vsock: socket path is empty or longer than a Unix socket address allows");
    auto listener = std::unique_ptr<HostListener>(new HostListener(io, std::move(path), limits, counters, std::move(on_connect)));
    error_code ec;
    listener->m_acceptor.open(asio::local::stream_protocol(), ec);
    if (!ec)
        listener->m_acceptor.bind(Endpoint(listener->m_path), ec);
    if (ec)
        return Failure(Error::from_errno(ec.value(), "virtio-vsock: cannot bind the host socket"));
    listener->m_acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        ::unlink(listener->m_path.c_str());
        return Failure(Error::from_errno(ec.value(), "virtio-vsock: cannot listen on the host socket"));
    }
    // The device may be created on another thread than the event loop's (virtio_device.h):
    // the first accept starts on the loop, like every later one. Clients wait in the backlog.
    asio::post(io, [raw = listener.get(), alive = std::weak_ptr(listener->m_alive)] {
        if (!alive.expired())
            raw->accept_next();
    });
    return listener;
}

HostListener::~HostListener()
{
    m_alive.reset();
    error_code ignored;
    m_acceptor.close(ignored);
    m_retry_timer.cancel();
    for (auto const& handshake : m_handshakes) {
        handshake->timer.cancel();
        handshake->socket.close(ignored);
    }
    ::unlink(m_path.c_str());
}

void HostListener::accept_next()
{
    auto handshake = std::make_shared<Handshake>(m_io);
    m_acceptor.async_accept(handshake->socket, [this, alive = std::weak_ptr(m_alive), handshake](error_code ec) {
        if (alive.expired())
            return;
        if (ec == asio::error::operation_aborted)
            return;
        if (ec) {
            // Out of file descriptors, say: try again a little later instead of spinning.
            log::warn("virtio-vsock: accept on {}: {}", m_path, ec.message());
            m_retry_timer.expires_after(std::chrono::milliseconds(100));
            m_retry_timer.async_wait([this, alive = std::weak_ptr(m_alive)](error_code timer_ec) {
                if (!timer_ec && !alive.expired())
                    accept_next();
            });
            return;
        }
        if (m_handshakes.size() >= m_limits.max_pending_handshakes) {
            m_counters.host_handshake_errors++;
            m_handshakes.insert(handshake);
            finish(handshake, "ERR too many clients waiting\n");
        } else {
            m_handshakes.insert(handshake);
            handshake->timer.expires_after(m_limits.connect_timeout);
            handshake->timer.async_wait([this, alive = std::weak_ptr(m_alive), handshake](error_code timer_ec) {
                if (timer_ec || alive.expired() || !m_handshakes.contains(handshake))
                    return;
                m_counters.host_handshake_errors++;
                finish(handshake, "ERR no CONNECT line in time\n");
            });
            read_line(handshake);
        }
        accept_next();
    });
}

void HostListener::read_line(std::shared_ptr<Handshake> const& handshake)
{
    auto free = asio::buffer(handshake->buffer.data() + handshake->length, handshake->buffer.size() - handshake->length);
    handshake->socket.async_read_some(free, [this, alive = std::weak_ptr(m_alive), handshake](error_code ec, size_t count) {
        if (alive.expired() || !m_handshakes.contains(handshake))
            return;
        if (ec) {
            m_counters.host_handshake_errors++;
            finish(handshake, {}); // the client went away: nobody to tell
            return;
        }
        on_line_data(handshake, count);
    });
}

void HostListener::on_line_data(std::shared_ptr<Handshake> const& handshake, size_t count)
{
    handshake->length += count;
    auto bytes = std::span(handshake->buffer).first(handshake->length);
    auto newline = std::find(bytes.begin(), bytes.end(), std::byte { '\n' });
    if (newline == bytes.end()) {
        if (handshake->length < handshake->buffer.size()) {
            read_line(handshake);
            return;
        }
        m_counters.host_handshake_errors++;
        finish(handshake, "ERR expected CONNECT <port>\n");
        return;
    }
    size_t line_length = static_cast<size_t>(newline - bytes.begin());
    // SAFETY: views our own byte array as characters of the same size; nothing outlives it.
    auto port = parse_connect_line(std::string_view(reinterpret_cast<char const*>(bytes.data()), line_length));
    if (!port) {
        m_counters.host_handshake_errors++;
        finish(handshake, "ERR expected CONNECT <port>\n");
        return;
    }
    handshake->timer.cancel();
    m_handshakes.erase(handshake);
    m_on_connect(std::move(handshake->socket), *port, bytes.subspan(line_length + 1));
}

// Ends a handshake, telling the client why (best effort: a short line, non-blocking).
void HostListener::finish(std::shared_ptr<Handshake> const& handshake, std::string_view error_line)
{
    error_code ignored;
    handshake->timer.cancel();
    if (!error_line.empty()) {
        handshake->socket.non_blocking(true, ignored);
        handshake->socket.write_some(asio::buffer(error_line.data(), error_line.size()), ignored);
    }
    handshake->socket.close(ignored);
    m_handshakes.erase(handshake);
}

} // namespace monarch::vmm::virtio::vsock

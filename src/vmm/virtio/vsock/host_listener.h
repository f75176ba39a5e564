// SPDX-License-Identifier: Apache-2.0
// The host side's front door (Firecracker's vsock scheme): a listening Unix socket at the
// configured path. Each host client first writes "CONNECT <port>\n"; a valid line hands the
// socket to the muxer, anything else gets "ERR <reason>\n" and is closed.
#pragma once

#include "common/result.h"
#include "vmm/virtio/vsock/vsock_types.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

namespace monarch::vmm::virtio::vsock {

// "CONNECT <port>" (the newline already removed; a trailing '\r' is accepted): the port, or
// nullopt for anything else. Exposed for tests.
[[nodiscard]] std::optional<uint32_t> parse_connect_line(std::string_view line);

// The longest CONNECT line we wait for, newline included ("CONNECT 4294967295\r\n" is 20).
inline constexpr size_t MAX_CONNECT_LINE = 32;

// Whether `path` fits a sockaddr_un (asio would throw on a longer one).
[[nodiscard]] bool fits_unix_socket_path(std::string_view path);

class HostListener {
public:
    using Socket = boost::asio::local::stream_protocol::socket;
    // A client asked for guest port `port`; `early_data` is what it sent after the line.
    using ConnectHandler = std::function<void(Socket socket, uint32_t port, std::span<std::byte const> early_data)>;

    // Binds and listens on `path`; a path that exists is an error (EADDRINUSE), as in Firecracker.
    [[nodiscard]] static Result<std::unique_ptr<HostListener>> create(boost::asio::io_context& io, std::string path, VsockLimits limits, VsockCounters& counters, ConnectHandler on_connect);
    // Stops listening, closes clients still in their handshake, and removes the socket file.
    ~HostListener();

    HostListener(HostListener const&) = delete;
    HostListener& operator=(HostListener const&) = delete;

private:
    struct Handshake;

    HostListener(boost::asio::io_context& io, std::string path, VsockLimits limits, VsockCounters& counters, ConnectHandler on_connect);
    void accept_next();
    void read_line(std::shared_ptr<Handshake> const& handshake);
    void on_line_data(std::shared_ptr<Handshake> const& handshake, size_t count);
    void finish(std::shared_ptr<Handshake> const& handshake, std::string_view error_line);

    boost::asio::io_context& m_io;
    boost::asio::local::stream_protocol::acceptor m_acceptor;
    boost::asio::steady_timer m_retry_timer;
    std::string m_path;
    VsockLimits m_limits;
    VsockCounters& m_counters;
    ConnectHandler m_on_connect;
    std::set<std::shared_ptr<Handshake>> m_handshakes;
    // Handlers still queued in the io_context when we are gone see this expire and return.
    std::shared_ptr<int> m_alive { std::make_shared<int>(0) };
};

} // namespace monarch::vmm::virtio::vsock

// SPDX-License-Identifier: Apache-2.0
// Socket side of the GDB remote protocol: connect (TCP or Unix), packet exchange with acks,
// and a deadline on every wait (poll), so that a silent or vanished stub never hangs us.
#include "dkom/qemu/gdb_client.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

namespace monarch::dkom::gdb {

namespace {

using Clock = std::chrono::steady_clock;

Failure target_gone() { return Failure(Error { Errc::Sys, ECONNRESET, "gdbstub: target went away" }); }

Result<UniqueFd> connect_unix(std::string_view path)
{
    sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path))
        return fail(Errc::InvalidArgument, "gdbstub: bad unix socket path");
    std::memcpy(addr.sun_path, path.data(), path.size());
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    if (!fd)
        return fail_errno("gdbstub: socket");
    // SAFETY: addr is a fully initialised sockaddr_un; the cast is the sockets API's convention.
    if (::connect(fd.get(), reinterpret_cast<sockaddr const*>(&addr), sizeof(addr)) != 0)
        return fail_errno("gdbstub: connect");
    return fd;
}

Result<UniqueFd> connect_tcp(std::string_view address)
{
    auto const colon = address.rfind(':');
    if (colon == std::string_view::npos)
        return fail(Errc::InvalidArgument, "gdbstub: address is not HOST:PORT or unix:PATH");
    std::string const host { address.substr(0, colon) };
    unsigned port = 0;
    for (char c : address.substr(colon + 1)) {
        if (c < '0' || c > '9' || port > 65535)
            return fail(Errc::InvalidArgument, "gdbstub: bad port");
        port = port * 10 + static_cast<unsigned>(c - '0');
    }
    sockaddr_in addr {};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (port == 0 || port > 65535 || ::inet_pton(AF_INET, host.empty() ? "127.0.0.1" : host.c_str(), &addr.sin_addr) != 1)
        return fail(Errc::InvalidArgument, "gdbstub: bad IPv4 address or port");
    UniqueFd fd { ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    if (!fd)
        return fail_errno("gdbstub: socket");
    // SAFETY: addr is a fully initialised sockaddr_in; the cast is the sockets API's convention.
    if (::connect(fd.get(), reinterpret_cast<sockaddr const*>(&addr), sizeof(addr)) != 0)
        return fail_errno("gdbstub: connect");
    int one = 1;
    (void)::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)); // small packets, many round trips
    return fd;
}

} // namespace

Result<GdbClient> GdbClient::connect(std::string_view address, std::chrono::milliseconds timeout)
{
    auto fd = address.starts_with("unix:") ? TRY(connect_unix(address.substr(5))) : TRY(connect_tcp(address));
    GdbClient client { std::move(fd) };
    // A stub may have a stop reply pending from an earlier debugger's session (QEMU sends
    // one when the VM stopped while nobody was attached): drop what arrives before we ask.
    client.drain(std::chrono::milliseconds(100));
    // The GDB manual's "Overview": a client announces its features with qSupported first.
    (void)TRY(client.request("qSupported:xmlRegisters=i386;vContSupported+", timeout));
    return client;
}

Result<void> GdbClient::write_all(std::string_view bytes)
{
    if (!m_fd)
        return target_gone();
    while (!bytes.empty()) {
        ssize_t const written = ::send(m_fd.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (written < 0 && errno == EINTR)
            continue;
        if (written <= 0) {
            m_fd.reset();
            return target_gone();
        }
        bytes.remove_prefix(static_cast<size_t>(written));
    }
    return {};
}

void GdbClient::drain(std::chrono::milliseconds quiet)
{
    char buffer[4096];
    for (int round = 0; round < 64 && m_fd; ++round) {
        pollfd pfd { m_fd.get(), POLLIN, 0 };
        if (::poll(&pfd, 1, static_cast<int>(quiet.count())) <= 0)
            return;
        if (::recv(m_fd.get(), buffer, sizeof(buffer), 0) <= 0)
            return;
    }
}

Result<void> GdbClient::send(std::string_view payload) { return write_all(frame(payload)); }

Result<void> GdbClient::send_interrupt() { return write_all(std::string_view("\x03", 1)); }

Result<std::string> GdbClient::wait_packet(std::chrono::milliseconds timeout)
{
    auto const deadline = Clock::now() + timeout;
    char buffer[4096];
    for (;;) {
        if (!m_fd)
            return target_gone();
        auto const left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0)
            return fail(Errc::Timeout, "gdbstub: no reply in time");
        pollfd pfd { m_fd.get(), POLLIN, 0 };
        int const ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready < 0)
            return fail_errno("gdbstub: poll");
        if (ready == 0)
            continue;
        // Read one byte at a time past a packet's end would be slow; read what is there but
        // stop feeding at the first complete packet and keep the rest (MSG_PEEK + consume).
        ssize_t const got = ::recv(m_fd.get(), buffer, sizeof(buffer), MSG_PEEK);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            m_fd.reset();
            return target_gone();
        }
        for (ssize_t i = 0; i < got; ++i) {
            auto packet = m_decoder.feed(buffer[i]);
            if (!packet)
                continue;
            (void)::recv(m_fd.get(), buffer, static_cast<size_t>(i + 1), 0);
            if (m_acks)
                TRY_VOID(write_all(*packet ? "+" : "-"));
            return std::move(*packet);
        }
        (void)::recv(m_fd.get(), buffer, static_cast<size_t>(got), 0);
    }
}

Result<std::string> GdbClient::request(std::string_view payload, std::chrono::milliseconds timeout)
{
    TRY_VOID(send(payload));
    return wait_packet(timeout);
}

Result<void> GdbClient::start_no_ack_mode()
{
    auto const reply = TRY(request("QStartNoAckMode", std::chrono::seconds(5)));
    if (reply == "OK")
        m_acks = false;
    return {};
}

} // namespace monarch::dkom::gdb

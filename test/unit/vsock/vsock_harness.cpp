// SPDX-License-Identifier: Apache-2.0
// The virtio-vsock test harness: device activation on VecGuestMemory, the guest driver's side
// of the three queues, the event loop, and host-side Unix socket helpers.

#include "vsock_harness.h"

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <utility>

namespace monarch::test::vsock {

using vmm::virtio::Virtqueue;

TempDir::TempDir()
{
    std::string pattern = "/tmp/monarch-vsock-XXXXXX";
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    m_path = pattern;
}

TempDir::~TempDir()
{
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
}

Harness::Harness(vs::VsockLimits limits, uint32_t rx_buffer_size, size_t rx_buffers)
    : m_socket_path(m_dir.path() + "/vsock.sock")
    , m_memory(12 << 20)
    , m_rx_buffer_size(rx_buffer_size)
    , m_rx_count(rx_buffers)
{
    auto device = vs::VsockDevice::create(m_io, vs::VsockDeviceConfig { GUEST_CID, m_socket_path, limits });
    if (!device)
        FAIL("VsockDevice::create: " << to_string(device.error()));
    m_device = std::move(*device);
    activate();
    post_rx(m_rx_count);
}

Harness::~Harness()
{
    m_device.reset();
}

void Harness::activate()
{
    // Rings and buffers far apart: each driver hands out buffer memory after its own rings.
    m_rx.emplace(m_memory, 256, GuestPhysAddr { 0x1000 });
    m_tx.emplace(m_memory, 256, GuestPhysAddr { 0x400000 });
    m_event.emplace(m_memory, 16, GuestPhysAddr { 0x800000 });
    m_tx_buffer = m_tx->alloc(vs::HEADER_SIZE + vs::MAX_PAYLOAD + 4096);
    m_rx_buffers.clear();
    m_queues.clear();
    for (auto* driver : { &*m_rx, &*m_tx, &*m_event }) {
        auto queue = Virtqueue::create(m_memory, driver->config());
        REQUIRE(queue);
        m_queues.push_back(std::move(*queue));
    }
    auto activated = m_device->activate({ vmm::virtio::F_VERSION_1, m_memory, m_queues, m_interrupt });
    REQUIRE(activated);
}

void Harness::reactivate()
{
    received.clear();
    activate();
    post_rx(m_rx_count);
}

vs::PacketHeader Harness::header(vs::Op op, uint32_t guest_port, uint32_t host_port, uint32_t length, uint32_t flags) const
{
    vs::PacketHeader h;
    h.src_cid = GUEST_CID;
    h.dst_cid = vs::HOST_CID;
    h.src_port = guest_port;
    h.dst_port = host_port;
    h.length = length;
    h.type = static_cast<uint16_t>(vs::SocketType::Stream);
    h.op = static_cast<uint16_t>(op);
    h.flags = flags;
    h.buf_alloc = buf_alloc;
    h.fwd_cnt = fwd_cnt;
    return h;
}

void Harness::send(vs::PacketHeader const& header, std::span<std::byte const> payload)
{
    REQUIRE(payload.size() <= vs::MAX_PAYLOAD + 4096);
    std::array<std::byte, vs::HEADER_SIZE> head;
    vs::encode_header(header, head);
    REQUIRE(m_memory.write(m_tx_buffer, head));
    // Header and payload in two descriptors, as Linux's driver sends them.
    GuestPhysAddr payload_address { m_tx_buffer.raw() + 64 };
    if (payload.empty()) {
        m_tx->add_chain({ VirtqueueDriver::readable(m_tx_buffer, vs::HEADER_SIZE) });
    } else {
        REQUIRE(m_memory.write(payload_address, payload));
        m_tx->add_chain({ VirtqueueDriver::readable(m_tx_buffer, vs::HEADER_SIZE),
            VirtqueueDriver::readable(payload_address, static_cast<uint32_t>(payload.size())) });
    }
    m_device->queue_notify(vs::TX_QUEUE);
    // The device handles tx synchronously: the chain must be back, whatever it contained.
    REQUIRE(m_tx->next_used().has_value());
    collect_rx();
}

void Harness::send_raw(std::span<std::byte const> bytes)
{
    REQUIRE(m_memory.write(m_tx_buffer, bytes));
    m_tx->add_chain({ VirtqueueDriver::readable(m_tx_buffer, static_cast<uint32_t>(bytes.size())) });
    m_device->queue_notify(vs::TX_QUEUE);
    REQUIRE(m_tx->next_used().has_value());
    collect_rx();
}

void Harness::post_rx(size_t count)
{
    for (size_t i = 0; i < count; ++i) {
        auto address = m_rx->alloc(m_rx_buffer_size);
        uint16_t head = m_rx->add_chain({ VirtqueueDriver::writable(address, m_rx_buffer_size) });
        m_rx_buffers[head] = address;
    }
    m_device->queue_notify(vs::RX_QUEUE);
    collect_rx();
}

void Harness::collect_rx()
{
    for (bool again = true; again;) {
        again = false;
        while (auto used = m_rx->next_used()) {
            auto it = m_rx_buffers.find(static_cast<uint16_t>(used->id));
            REQUIRE(it != m_rx_buffers.end());
            auto address = it->second;
            m_rx_buffers.erase(it);
            REQUIRE(used->length <= m_rx_buffer_size);
            // An empty read would hand memcpy a null pointer (UBSan): skip it.
            auto bytes = used->length > 0 ? m_rx->read_bytes(address, used->length) : std::vector<std::byte> {};
            if (bytes.size() >= vs::HEADER_SIZE) {
                auto header = vs::decode_header(bytes);
                REQUIRE(header);
                // The used length is exactly header plus payload (section 5.10.6).
                REQUIRE(used->length == vs::HEADER_SIZE + header->length);
                received.push_back({ *header, std::vector<std::byte>(bytes.begin() + vs::HEADER_SIZE, bytes.end()) });
            }
            if (repost_rx) {
                uint16_t head = m_rx->add_chain({ VirtqueueDriver::writable(address, m_rx_buffer_size) });
                m_rx_buffers[head] = address;
                again = true;
            }
        }
        if (again)
            m_device->queue_notify(vs::RX_QUEUE);
    }
}

std::optional<RxPacket> Harness::wait_for(std::function<bool(RxPacket const&)> match, std::chrono::milliseconds timeout)
{
    auto find = [&] { return std::find_if(received.begin(), received.end(), match); };
    if (!run_until([&] { return find() != received.end(); }, timeout))
        return std::nullopt;
    auto it = find();
    RxPacket packet = std::move(*it);
    received.erase(it);
    return packet;
}

std::optional<RxPacket> Harness::wait_for_op(vs::Op op, std::chrono::milliseconds timeout)
{
    return wait_for([op](RxPacket const& p) { return p.op() == op; }, timeout);
}

void Harness::poll()
{
    m_io.restart();
    m_io.poll();
    collect_rx();
    if (on_poll)
        on_poll();
}

bool Harness::run_until(std::function<bool()> done, std::chrono::milliseconds timeout)
{
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        poll();
        if (done())
            return true;
        if (std::chrono::steady_clock::now() >= deadline)
            return false;
        m_io.restart();
        m_io.run_one_for(2ms);
    }
}

void Harness::run_for(std::chrono::milliseconds duration)
{
    run_until([] { return false; }, duration);
}

HostSocket HostSocket::connect(std::string const& path)
{
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) };
    REQUIRE(fd);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // SAFETY: sockaddr_un is the sockaddr variant for AF_UNIX; the size passed is its own.
    int rc = ::connect(fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof(address));
    INFO("connect(" << path << "): " << std::strerror(errno));
    REQUIRE(rc == 0);
    return HostSocket(std::move(fd));
}

bool HostSocket::pump()
{
    bool got = false;
    std::array<std::byte, 65536> buffer;
    while (!m_eof) {
        ssize_t n = ::recv(m_fd.get(), buffer.data(), buffer.size(), 0);
        if (n > 0) {
            m_pending.insert(m_pending.end(), buffer.begin(), buffer.begin() + n);
            got = true;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        m_eof = true; // 0: orderly EOF; an error (ECONNRESET) ends the stream as well
    }
    return got;
}

void HostSocket::write_all(Harness& harness, std::span<std::byte const> bytes)
{
    size_t offset = 0;
    bool done = harness.run_until([&] {
        while (offset < bytes.size()) {
            ssize_t n = ::send(m_fd.get(), bytes.data() + offset, bytes.size() - offset, MSG_NOSIGNAL);
            if (n <= 0)
                break;
            offset += static_cast<size_t>(n);
        }
        return offset == bytes.size();
    }, 20s);
    REQUIRE(done);
}

void HostSocket::write_all(Harness& harness, std::string_view text)
{
    write_all(harness, std::as_bytes(std::span { text }));
}

std::vector<std::byte> HostSocket::read_exactly(Harness& harness, size_t count, std::chrono::milliseconds timeout)
{
    harness.run_until([&] {
        pump();
        return m_pending.size() >= count || m_eof;
    }, timeout);
    size_t take = std::min(count, m_pending.size());
    std::vector<std::byte> out(m_pending.begin(), m_pending.begin() + take);
    m_pending.erase(m_pending.begin(), m_pending.begin() + take);
    return out;
}

std::string HostSocket::read_line(Harness& harness, std::chrono::milliseconds timeout)
{
    auto has_newline = [&] { return std::find(m_pending.begin(), m_pending.end(), std::byte { '\n' }) != m_pending.end(); };
    harness.run_until([&] {
        pump();
        return has_newline() || m_eof;
    }, timeout);
    auto newline = std::find(m_pending.begin(), m_pending.end(), std::byte { '\n' });
    std::string line = text_of(std::span(m_pending.begin(), newline));
    m_pending.erase(m_pending.begin(), newline == m_pending.end() ? newline : newline + 1);
    return line;
}

bool HostSocket::wait_eof(Harness& harness, std::vector<std::byte>* data, std::chrono::milliseconds timeout)
{
    bool eof = harness.run_until([&] {
        pump();
        return m_eof;
    }, timeout);
    if (data)
        *data = std::move(m_pending);
    m_pending.clear();
    return eof;
}

std::vector<std::byte> HostSocket::read_available()
{
    pump();
    return std::exchange(m_pending, {});
}

void HostSocket::shutdown_write()
{
    REQUIRE(::shutdown(m_fd.get(), SHUT_WR) == 0);
}

HostListenerSocket::HostListenerSocket(std::string path)
    : m_fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0))
{
    REQUIRE(m_fd);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    REQUIRE(path.size() < sizeof(address.sun_path));
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    // SAFETY: as in HostSocket::connect.
    REQUIRE(::bind(m_fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof(address)) == 0);
    REQUIRE(::listen(m_fd.get(), 16) == 0);
}

std::optional<HostSocket> HostListenerSocket::accept(Harness& harness, std::chrono::milliseconds timeout)
{
    std::optional<HostSocket> accepted;
    harness.run_until([&] {
        int fd = ::accept4(m_fd.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0)
            accepted.emplace(UniqueFd { fd });
        return accepted.has_value();
    }, timeout);
    return accepted;
}

HostInitiated open_from_host(Harness& harness, uint32_t guest_port)
{
    auto client = HostSocket::connect(harness.socket_path());
    client.write_all(harness, "CONNECT " + std::to_string(guest_port) + "\n");
    auto request = harness.wait_for_op(vs::Op::Request);
    REQUIRE(request);
    CHECK(request->header.src_cid == vs::HOST_CID);
    CHECK(request->header.dst_cid == GUEST_CID);
    CHECK(request->header.dst_port == guest_port);
    CHECK(request->header.src_port >= vs::FIRST_EPHEMERAL_PORT);
    CHECK(request->header.type == static_cast<uint16_t>(vs::SocketType::Stream));
    uint32_t host_port = request->header.src_port;
    harness.send(harness.header(vs::Op::Response, guest_port, host_port));
    REQUIRE(client.read_line(harness) == "OK " + std::to_string(host_port));
    return { std::move(client), host_port, guest_port };
}

GuestInitiated open_from_guest(Harness& harness, HostListenerSocket& listener, uint32_t guest_port, uint32_t host_port)
{
    harness.send(harness.header(vs::Op::Request, guest_port, host_port));
    auto server = listener.accept(harness);
    REQUIRE(server);
    auto response = harness.wait_for_op(vs::Op::Response);
    REQUIRE(response);
    CHECK(response->header.src_port == host_port);
    CHECK(response->header.dst_port == guest_port);
    CHECK(response->header.dst_cid == GUEST_CID);
    return { std::move(*server), host_port, guest_port };
}

std::vector<std::byte> bytes_of(std::string_view text)
{
    auto bytes = std::as_bytes(std::span { text });
    return { bytes.begin(), bytes.end() };
}

std::string text_of(std::span<std::byte const> bytes)
{
    // SAFETY: bytes viewed as characters of the same size, copied into the string.
    return std::string(reinterpret_cast<char const*>(bytes.data()), bytes.size());
}

std::vector<std::byte> pattern(size_t size, uint32_t seed)
{
    std::vector<std::byte> out(size);
    uint32_t state = seed * 2654435761U + 1;
    for (auto& byte : out) {
        state = state * 1103515245U + 12345U;
        byte = static_cast<std::byte>(state >> 16);
    }
    return out;
}

} // namespace monarch::test::vsock

// SPDX-License-Identifier: Apache-2.0
// Test harness for virtio-vsock: a VsockDevice activated on VecGuestMemory with three
// VirtqueueDrivers playing the guest driver, an io_context the test drives, real Unix sockets
// in a temporary directory, and small host-side socket helpers.
#pragma once

#include "common/unique_fd.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"
#include "vmm/virtio/vsock/vsock_device.h"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::test::vsock {

namespace vs = vmm::virtio::vsock;
using namespace std::chrono_literals;

inline constexpr uint64_t GUEST_CID = 42;

struct RxPacket {
    vs::PacketHeader header;
    std::vector<std::byte> payload;
    [[nodiscard]] vs::Op op() const { return static_cast<vs::Op>(header.op); }
};

class FakeInterrupt final : public vmm::virtio::VirtioInterrupt {
public:
    void signal_queue(uint16_t queue_index) override { ++queue_signals[queue_index]; }
    void signal_config() override { ++config_signals; }
    std::map<uint16_t, int> queue_signals;
    int config_signals { 0 };
};

// A temporary directory, removed with everything in it.
class TempDir {
public:
    TempDir();
    ~TempDir();
    [[nodiscard]] std::string const& path() const { return m_path; }

private:
    std::string m_path;
};

class Harness {
public:
    explicit Harness(vs::VsockLimits limits = {}, uint32_t rx_buffer_size = 4096 + vs::HEADER_SIZE, size_t rx_buffers = 64);
    ~Harness();

    // The guest side ----------------------------------------------------------------------
    // Our (the guest's) receive buffer as told to the device in every packet we send.
    uint32_t buf_alloc { 256 * 1024 };
    uint32_t fwd_cnt { 0 };
    // When false, used rx buffers are not given back (to test a stalled rx queue).
    bool repost_rx { true };
    // Called after every poll, once received packets are collected: a test's guest model
    // (consuming data, sending credit updates) runs here while host sockets are driven.
    std::function<void()> on_poll;

    [[nodiscard]] vs::PacketHeader header(vs::Op op, uint32_t guest_port, uint32_t host_port, uint32_t length = 0, uint32_t flags = 0) const;
    // Puts the packet on the tx queue and notifies it.
    void send(vs::PacketHeader const& header, std::span<std::byte const> payload = {});
    void send_raw(std::span<std::byte const> bytes); // header bytes of our choosing
    // Posts `count` more rx buffers (each one descriptor) and notifies the rx queue.
    void post_rx(size_t count);

    // Packets the device put in rx buffers, in order, not yet taken by a test.
    std::deque<RxPacket> received;
    // The first received packet matching `match`, waiting for it up to `timeout`.
    std::optional<RxPacket> wait_for(std::function<bool(RxPacket const&)> match, std::chrono::milliseconds timeout = 5s);
    std::optional<RxPacket> wait_for_op(vs::Op op, std::chrono::milliseconds timeout = 5s);

    // The event loop ------------------------------------------------------------------------
    // Runs ready handlers once (and collects rx packets).
    void poll();
    // Runs the loop until `done()` holds or `timeout` passes; whether it held.
    bool run_until(std::function<bool()> done, std::chrono::milliseconds timeout = 5s);
    void run_for(std::chrono::milliseconds duration);

    [[nodiscard]] std::string const& socket_path() const { return m_socket_path; }
    [[nodiscard]] vs::VsockDevice& device() { return *m_device; }
    [[nodiscard]] vs::VsockCounters const& counters() const { return m_device->counters(); }
    [[nodiscard]] FakeInterrupt& interrupt() { return m_interrupt; }
    [[nodiscard]] boost::asio::io_context& io() { return m_io; }
    [[nodiscard]] VirtqueueDriver& event_driver() { return *m_event; }
    // Activate again after a reset (fresh rings: the driver reinitializes them).
    void reactivate();

private:
    void activate();
    void collect_rx();

    TempDir m_dir;
    std::string m_socket_path;
    boost::asio::io_context m_io;
    VecGuestMemory m_memory;
    std::optional<VirtqueueDriver> m_rx;
    std::optional<VirtqueueDriver> m_tx;
    std::optional<VirtqueueDriver> m_event;
    FakeInterrupt m_interrupt;
    std::vector<vmm::virtio::Virtqueue> m_queues;
    std::unique_ptr<vs::VsockDevice> m_device;
    uint32_t m_rx_buffer_size;
    size_t m_rx_count;
    std::map<uint16_t, GuestPhysAddr> m_rx_buffers; // descriptor head -> buffer
    GuestPhysAddr m_tx_buffer;
};

// A host-side Unix stream socket, non-blocking, driven by the harness's loop.
class HostSocket {
public:
    explicit HostSocket(UniqueFd fd) : m_fd(std::move(fd)) {}
    [[nodiscard]] static HostSocket connect(std::string const& path);

    // Writes everything, running the loop while the socket is full.
    void write_all(Harness& harness, std::span<std::byte const> bytes);
    void write_all(Harness& harness, std::string_view text);
    // Reads until `count` bytes have arrived (or EOF, or the timeout).
    std::vector<std::byte> read_exactly(Harness& harness, size_t count, std::chrono::milliseconds timeout = 10s);
    // Reads one line (without '\n').
    std::string read_line(Harness& harness, std::chrono::milliseconds timeout = 5s);
    // Runs the loop until the peer's EOF (true) or the timeout; data before it is returned in `data`.
    bool wait_eof(Harness& harness, std::vector<std::byte>* data = nullptr, std::chrono::milliseconds timeout = 5s);
    // Whatever has arrived, without waiting.
    std::vector<std::byte> read_available();
    void shutdown_write();
    void close() { m_fd.reset(); }
    [[nodiscard]] bool eof() const { return m_eof; }

private:
    // Reads what is there into m_pending; false when nothing was.
    bool pump();

    UniqueFd m_fd;
    std::vector<std::byte> m_pending;
    bool m_eof { false };
};

// A test-owned listener at "<socket>_<port>", non-blocking.
class HostListenerSocket {
public:
    explicit HostListenerSocket(std::string path);
    std::optional<HostSocket> accept(Harness& harness, std::chrono::milliseconds timeout = 5s);

private:
    UniqueFd m_fd;
};

// A host-initiated connection after CONNECT, OP_REQUEST, OP_RESPONSE and "OK <port>".
struct HostInitiated {
    HostSocket client;
    uint32_t host_port { 0 };   // the device's ephemeral local port
    uint32_t guest_port { 0 };
};
[[nodiscard]] HostInitiated open_from_host(Harness& harness, uint32_t guest_port);

// A guest-initiated connection to "<socket>_<host_port>", accepted by `listener`.
struct GuestInitiated {
    HostSocket server;
    uint32_t host_port { 0 };
    uint32_t guest_port { 0 };
};
[[nodiscard]] GuestInitiated open_from_guest(Harness& harness, HostListenerSocket& listener, uint32_t guest_port, uint32_t host_port);

[[nodiscard]] std::vector<std::byte> bytes_of(std::string_view text);
[[nodiscard]] std::string text_of(std::span<std::byte const> bytes);
// Deterministic pseudo-random data (a test can fail on a byte out of place).
[[nodiscard]] std::vector<std::byte> pattern(size_t size, uint32_t seed);

} // namespace monarch::test::vsock

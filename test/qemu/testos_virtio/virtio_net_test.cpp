// SPDX-License-Identifier: Apache-2.0
// testos's virtio-net driver against QEMU's virtio-net with a `-netdev socket,udp=` back end:
// every frame the guest sends arrives here as one UDP datagram, and a datagram sent back is a
// frame the guest receives. The test is the peer: it checks the guest's ping and answers it.
#include "qemu_virtio.h"
#include "testos/abi.h"
#include "testos/virtio_pattern.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

using namespace monarch::test;
using namespace monarch::test::virtio;

namespace {

struct Socket {
    int fd { -1 };
    Socket() : fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) { }
    ~Socket()
    {
        if (fd >= 0)
            ::close(fd);
    }
    Socket(Socket const&) = delete;
    Socket& operator=(Socket const&) = delete;
};

// Binds to 127.0.0.1 on a free port; returns the port.
uint16_t bind_loopback(Socket const& socket)
{
    sockaddr_in address {};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // SAFETY: sockaddr_in is the sockaddr for AF_INET; the length says which.
    REQUIRE(::bind(socket.fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    socklen_t length = sizeof(address);
    // SAFETY: as above.
    REQUIRE(::getsockname(socket.fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

struct PeerResult {
    bool got_ping { false };
    std::vector<uint8_t> ping;
};

// Waits up to 40 s for the guest's ping (broadcast, type 0x88b5, "ping <seed>") and answers
// each one with the pong, addressed to the sender's MAC.
void run_peer(int fd, uint64_t seed, PeerResult& result)
{
    std::string const expected = TESTOS_NET_PING + std::to_string(seed);
    std::string const pong = TESTOS_NET_PONG + std::to_string(seed);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(40);
    while (std::chrono::steady_clock::now() < deadline) {
        pollfd p { fd, POLLIN, 0 };
        if (::poll(&p, 1, 200) <= 0)
            continue;
        uint8_t frame[2048];
        sockaddr_in from {};
        socklen_t from_length = sizeof(from);
        // SAFETY: sockaddr_in is large enough for an AF_INET source address.
        ssize_t n = ::recvfrom(fd, frame, sizeof(frame), 0, reinterpret_cast<sockaddr*>(&from), &from_length);
        if (n < 14 + static_cast<ssize_t>(expected.size()) || frame[12] != 0x88 || frame[13] != 0xb5
            || std::memcmp(frame + 14, expected.data(), expected.size()) != 0)
            continue;
        result.got_ping = true;
        result.ping.assign(frame, frame + n);
        std::vector<uint8_t> reply(60, 0);
        std::memcpy(reply.data(), frame + 6, 6); // to the guest's MAC
        uint8_t const source[6] = { 0x02, 0, 0, 0, 0, 0x02 };
        std::memcpy(reply.data() + 6, source, 6);
        reply[12] = 0x88;
        reply[13] = 0xb5;
        std::memcpy(reply.data() + 14, pong.data(), pong.size());
        // SAFETY: from holds the AF_INET address recvfrom filled in.
        ::sendto(fd, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_length);
        return;
    }
}

void require_ping_pong(Machine machine)
{
    Socket peer, reserve;
    REQUIRE(peer.fd >= 0);
    REQUIRE(reserve.fd >= 0);
    uint16_t peer_port = bind_loopback(peer);
    uint16_t guest_port = bind_loopback(reserve);
    ::close(reserve.fd); // QEMU binds it next: a small race with other programs, not with us
    reserve.fd = -1;
    uint64_t seed = fresh_seed();
    PeerResult peer_result;
    std::thread peer_thread(run_peer, peer.fd, seed, std::ref(peer_result));
    std::vector<std::string> extra { "-netdev", "socket,id=n0,udp=127.0.0.1:" + std::to_string(peer_port)
        + ",localaddr=127.0.0.1:" + std::to_string(guest_port) };
    auto net = device(machine, "virtio-net", ",netdev=n0,mac=52:54:00:ab:cd:ef");
    extra.insert(extra.end(), net.begin(), net.end());
    auto result = boot(machine, "testos.run=virtio-net testos.seed=" + std::to_string(seed), extra);
    peer_thread.join();
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    INFO(result.output);
    REQUIRE(peer_result.got_ping);
    uint8_t const guest_mac[6] = { 0x52, 0x54, 0x00, 0xab, 0xcd, 0xef };
    REQUIRE(std::memcmp(peer_result.ping.data() + 6, guest_mac, 6) == 0); // the MAC from the device's config
    REQUIRE(peer_result.ping.size() >= 60);
    REQUIRE(result_field(result.output, "virtio-net: ", "result") == "ok");
    REQUIRE(result_field(result.output, "virtio-net: ", "transport") == (is_mmio(machine) ? "mmio" : "pci"));
}

} // namespace

TEST_CASE("virtio-net sends a frame and receives the answer over virtio-pci", "[qemu][virtio][net]")
{
    require_ping_pong(Machine::Q35);
}

TEST_CASE("virtio-net sends a frame and receives the answer over virtio-mmio", "[qemu][virtio][net]")
{
    require_ping_pong(Machine::Microvm);
}

TEST_CASE("virtio-net fails when nobody answers", "[qemu][virtio][net]")
{
    Socket silent;
    uint16_t port = bind_loopback(silent); // receives the pings, never answers
    auto net = device(Machine::Microvm, "virtio-net", ",netdev=n0");
    std::vector<std::string> extra { "-netdev", "socket,id=n0,udp=127.0.0.1:" + std::to_string(port) + ",localaddr=127.0.0.1:0" };
    extra.insert(extra.end(), net.begin(), net.end());
    auto result = boot(Machine::Microvm, "testos.run=virtio-net", extra);
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    REQUIRE(result_field(result.output, "virtio-net: ", "result") == "failed");
}

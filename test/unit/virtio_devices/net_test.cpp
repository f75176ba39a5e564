// SPDX-License-Identifier: Apache-2.0
// virtio-net on a real tap inside a network namespace this test creates and removes: a frame
// from the guest side appears on a packet socket bound to the tap, a frame sent on the tap
// reaches the guest's receive buffers (whole, or merged over several with MRG_RXBUF), and the
// configuration space and tap errors. Skips (with the reason) without /dev/net/tun,
// CAP_NET_ADMIN or `ip netns`.
#include "device_harness.h"
#include "support/skip.h"
#include "support/subprocess.h"
#include "vmm/virtio/net/virtio_net.h"

#include "common/scope_guard.h"

#include <arpa/inet.h>
#include <catch2/catch.hpp>
#include <fcntl.h>
#include <fstream>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::virtio;

namespace {

constexpr uint16_t TEST_ETHERTYPE = 0x88b5; // IEEE 802 local experimental
constexpr char const* TAP_NAME = "mtap0";

bool has_net_admin()
{
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.rfind("CapEff:", 0) == 0)
            return (std::stoull(line.substr(7), nullptr, 16) >> 12) & 1; // CAP_NET_ADMIN = 12
    }
    return false;
}

// Creates a network namespace, moves this (single-threaded) test process into it, and undoes
// both on destruction. Each Catch2 test case runs in its own process under ctest.
class NetNamespace {
public:
    NetNamespace()
    {
        if (::access("/dev/net/tun", R_OK | W_OK) != 0)
            skip("/dev/net/tun is missing or not accessible");
        if (!has_net_admin())
            skip("CAP_NET_ADMIN is needed to create a tap");
        require_program("ip");
        m_name = "monarch-net-" + std::to_string(::getpid());
        auto added = run_process({ "ip", "netns", "add", m_name });
        if (!added.exited || added.exit_code != 0)
            skip("ip netns add failed: " + added.output);
        m_original = UniqueFd { ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC) };
        UniqueFd target { ::open(("/run/netns/" + m_name).c_str(), O_RDONLY | O_CLOEXEC) };
        REQUIRE(m_original);
        REQUIRE(target);
        REQUIRE(::setns(target.get(), CLONE_NEWNET) == 0);
        // No IPv6 chatter (router solicitations, MLD) on the tap: only our frames travel.
        std::ofstream("/proc/sys/net/ipv6/conf/default/disable_ipv6") << "1";
        std::ofstream("/proc/sys/net/ipv6/conf/all/disable_ipv6") << "1";
    }
    ~NetNamespace()
    {
        if (m_original)
            (void)::setns(m_original.get(), CLONE_NEWNET);
        (void)run_process({ "ip", "netns", "del", m_name });
    }

private:
    std::string m_name;
    UniqueFd m_original;
};

std::vector<std::byte> make_frame(machine::MacAddress const& destination, machine::MacAddress const& source, size_t payload_bytes, uint8_t seed)
{
    std::vector<std::byte> frame(14 + payload_bytes);
    std::memcpy(frame.data(), destination.data(), 6);
    std::memcpy(frame.data() + 6, source.data(), 6);
    frame[12] = std::byte { TEST_ETHERTYPE >> 8 };
    frame[13] = std::byte { TEST_ETHERTYPE & 0xff };
    for (size_t i = 0; i < payload_bytes; ++i)
        frame[14 + i] = std::byte(static_cast<uint8_t>(seed + i * 3));
    return frame;
}

// A raw packet socket on the tap, for our ethertype only.
UniqueFd packet_socket(std::string const& interface)
{
    UniqueFd fd { ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(TEST_ETHERTYPE)) };
    REQUIRE(fd);
    sockaddr_ll address {};
    address.sll_family = AF_PACKET;
    address.sll_protocol = htons(TEST_ETHERTYPE);
    address.sll_ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
    REQUIRE(address.sll_ifindex > 0);
    // SAFETY: sockaddr_ll is the sockaddr of AF_PACKET.
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof address) == 0);
    return fd;
}

void send_on(int fd, std::string const& interface, std::vector<std::byte> const& frame)
{
    sockaddr_ll address {};
    address.sll_family = AF_PACKET;
    address.sll_ifindex = static_cast<int>(::if_nametoindex(interface.c_str()));
    address.sll_halen = 6;
    std::memcpy(address.sll_addr, frame.data(), 6);
    // SAFETY: as above.
    REQUIRE(::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr const*>(&address), sizeof address)
        == static_cast<ssize_t>(frame.size()));
}

struct NetFixture {
    explicit NetFixture(uint64_t features_mask = ~uint64_t { 0 })
    {
        machine::NetConfig config;
        config.tap = TAP_NAME;
        config.mac = machine::MacAddress { 0x02, 0x00, 0x00, 0x00, 0x00, 0x07 };
        auto created = VirtioNet::create(io, config);
        INFO((created ? std::string() : to_string(created.error())));
        REQUIRE(created);
        device = std::move(*created);
        harness.activate(*device, device->device_features() & features_mask);
        packets = packet_socket(device->tap_name());
    }

    // Posts `count` receive chains of `size` bytes; returns their addresses in posting order.
    std::vector<GuestPhysAddr> post_receive(size_t count, uint32_t size)
    {
        auto& rx = harness.drivers[VirtioNet::RECEIVE_QUEUE];
        std::vector<GuestPhysAddr> buffers;
        for (size_t i = 0; i < count; ++i) {
            buffers.push_back(rx.alloc(size));
            rx.add_chain({ VirtqueueDriver::writable(buffers.back(), size) });
        }
        device->queue_notify(VirtioNet::RECEIVE_QUEUE);
        return buffers;
    }

    NetNamespace netns; // first: the tap is created inside it
    boost::asio::io_context io;
    DeviceHarness harness { 2, 256 };
    std::unique_ptr<VirtioNet> device;
    UniqueFd packets;
};

machine::MacAddress const BROADCAST { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
machine::MacAddress const HOST_MAC { 0x02, 0x00, 0x00, 0x00, 0x00, 0x99 };

} // namespace

TEST_CASE("virtio-net sends a guest frame out of the tap", "[unit][virtio-net]")
{
    NetFixture fixture;
    auto frame = make_frame(BROADCAST, fixture.device->mac(), 100, 7);
    std::vector<std::byte> header(VirtioNet::HEADER_BYTES); // no offloads: all zero
    auto& tx = fixture.harness.drivers[VirtioNet::TRANSMIT_QUEUE];
    auto head = tx.add_chain({ VirtqueueDriver::readable(tx.put_bytes(header), 12),
        VirtqueueDriver::readable(tx.put_bytes(frame), static_cast<uint32_t>(frame.size())) });
    fixture.device->queue_notify(VirtioNet::TRANSMIT_QUEUE);
    auto used = tx.next_used();
    REQUIRE(used);
    CHECK(used->id == head);
    CHECK(fixture.device->counters().tx_frames == 1);

    pollfd waiter { fixture.packets.get(), POLLIN, 0 };
    REQUIRE(::poll(&waiter, 1, 2000) == 1);
    std::vector<std::byte> received(2048);
    ssize_t length = ::recv(fixture.packets.get(), received.data(), received.size(), 0);
    REQUIRE(length > 0);
    received.resize(static_cast<size_t>(length));
    CHECK(received == frame);
}

TEST_CASE("virtio-net delivers a frame from the tap into a receive buffer", "[unit][virtio-net]")
{
    NetFixture fixture(~net_feature::MRG_RXBUF);
    auto buffers = fixture.post_receive(4, 2048);
    auto frame = make_frame(fixture.device->mac(), HOST_MAC, 200, 11);
    send_on(fixture.packets.get(), fixture.device->tap_name(), frame);

    auto& rx = fixture.harness.drivers[VirtioNet::RECEIVE_QUEUE];
    std::optional<VirtqueueDriver::UsedEntry> used;
    run_until(fixture.io, [&] { return (used = rx.next_used()).has_value(); });
    REQUIRE(used->length == VirtioNet::HEADER_BYTES + frame.size());
    auto bytes = rx.read_bytes(buffers[used->id], used->length);
    CHECK(bytes[10] == std::byte { 1 }); // num_buffers is 1 without MRG_RXBUF (5.1.6.4)
    CHECK(bytes[11] == std::byte { 0 });
    CHECK(std::vector<std::byte>(bytes.begin() + 12, bytes.end()) == frame);
    CHECK(fixture.harness.interrupt.queue_signals.back() == VirtioNet::RECEIVE_QUEUE);
}

TEST_CASE("virtio-net merges a frame over several receive buffers with MRG_RXBUF", "[unit][virtio-net]")
{
    NetFixture fixture;
    REQUIRE((fixture.device->device_features() & net_feature::MRG_RXBUF) != 0);
    auto buffers = fixture.post_receive(8, 512);
    auto frame = make_frame(fixture.device->mac(), HOST_MAC, 1400, 5); // 12 + 1414 bytes: 3 buffers
    send_on(fixture.packets.get(), fixture.device->tap_name(), frame);

    auto& rx = fixture.harness.drivers[VirtioNet::RECEIVE_QUEUE];
    std::vector<VirtqueueDriver::UsedEntry> used;
    run_until(fixture.io, [&] {
        while (auto entry = rx.next_used())
            used.push_back(*entry);
        return used.size() >= 3;
    });
    REQUIRE(used.size() == 3);
    std::vector<std::byte> bytes;
    for (auto const& entry : used) {
        auto piece = rx.read_bytes(buffers[entry.id], entry.length);
        bytes.insert(bytes.end(), piece.begin(), piece.end());
    }
    REQUIRE(bytes.size() == 12 + frame.size());
    CHECK(bytes[10] == std::byte { 3 }); // num_buffers
    CHECK(std::vector<std::byte>(bytes.begin() + 12, bytes.end()) == frame);
}

TEST_CASE("virtio-net holds a frame until the guest posts receive buffers", "[unit][virtio-net]")
{
    NetFixture fixture;
    auto frame = make_frame(fixture.device->mac(), HOST_MAC, 64, 9);
    send_on(fixture.packets.get(), fixture.device->tap_name(), frame);
    fixture.io.restart();
    fixture.io.run_for(std::chrono::milliseconds(100)); // the tap is readable, no buffers yet
    auto& rx = fixture.harness.drivers[VirtioNet::RECEIVE_QUEUE];
    CHECK_FALSE(rx.next_used());

    auto buffers = fixture.post_receive(1, 2048); // queue_notify delivers the held frame
    std::optional<VirtqueueDriver::UsedEntry> used;
    run_until(fixture.io, [&] { return (used = rx.next_used()).has_value(); });
    auto bytes = rx.read_bytes(buffers[0], used->length);
    CHECK(std::vector<std::byte>(bytes.begin() + 12, bytes.end()) == frame);
}

TEST_CASE("virtio-net reports its MAC and link status and offers the tap's offloads", "[unit][virtio-net]")
{
    NetFixture fixture;
    std::array<std::byte, 8> config {};
    fixture.device->read_config(0, config);
    CHECK(std::memcmp(config.data(), fixture.device->mac().data(), 6) == 0);
    CHECK(config[6] == std::byte { VirtioNet::STATUS_LINK_UP });
    auto features = fixture.device->device_features();
    for (auto bit : { net_feature::MAC, net_feature::STATUS, net_feature::MRG_RXBUF, net_feature::CSUM, F_VERSION_1 })
        CHECK((features & bit) != 0);
    CHECK((features & net_feature::GUEST_CSUM) != 0);   // every tap since Linux 2.6.27 takes it
    CHECK((features & net_feature::GUEST_TSO4) != 0);
    // The tap is up (the device brings it up). Asked through a socket of this namespace:
    // /sys/class/net still shows the namespace sysfs was mounted in.
    UniqueFd socket { ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) };
    ifreq request {};
    std::strncpy(request.ifr_name, fixture.device->tap_name().c_str(), IFNAMSIZ - 1);
    // SAFETY: SIOCGIFFLAGS fills ifr_flags of the ifreq we pass.
    REQUIRE(::ioctl(socket.get(), SIOCGIFFLAGS, &request) == 0);
    CHECK((request.ifr_flags & IFF_UP) != 0);
}

TEST_CASE("virtio-net: bad tap names and non-tap interfaces are clear errors", "[unit][virtio-net]")
{
    NetNamespace netns;
    boost::asio::io_context io;
    machine::NetConfig too_long;
    too_long.tap = "a-name-much-too-long";
    auto long_result = VirtioNet::create(io, too_long);
    REQUIRE_FALSE(long_result);
    CHECK(long_result.error().code == Errc::InvalidArgument);

    machine::NetConfig loopback;
    loopback.tap = "lo"; // exists, and is not a tap
    auto lo_result = VirtioNet::create(io, loopback);
    REQUIRE_FALSE(lo_result);
    CHECK(lo_result.error().code == Errc::InvalidArgument);
    CHECK(to_string(lo_result.error()).find("not a tap") != std::string::npos);

    machine::NetConfig kernel_named; // empty: the kernel names it
    auto named = VirtioNet::create(io, kernel_named);
    REQUIRE(named);
    CHECK_FALSE((*named)->tap_name().empty());
    auto mac = (*named)->mac();
    CHECK((mac[0] & 0x03) == 0x02); // random, locally administered, unicast
}

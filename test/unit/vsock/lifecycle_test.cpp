// SPDX-License-Identifier: Apache-2.0
// virtio-vsock lifecycle: configuration space, host clients that disconnect, device reset with
// connections open, and the TRANSPORT_RESET event.

#include "vsock_harness.h"

#include "common/byte_access.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::test::vsock;
using vs::Op;

TEST_CASE("configuration space holds the guest CID, VERSION_1 is the only feature", "[unit][vsock]")
{
    Harness h;
    auto& device = h.device();
    CHECK(device.device_type() == vmm::virtio::DeviceType::Vsock);
    CHECK(device.device_features() == vmm::virtio::F_VERSION_1);
    CHECK(device.queue_max_sizes().size() == 3);

    std::array<std::byte, 8> config {};
    device.read_config(0, config);
    CHECK(load_le<uint64_t>(config, 0) == GUEST_CID);
    std::array<std::byte, 4> high { std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff } };
    device.read_config(4, high);
    CHECK(load_le<uint32_t>(high, 0) == 0u);
    std::array<std::byte, 4> beyond { std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff } };
    device.read_config(6, beyond); // half inside, half outside: the outside reads zero
    CHECK(load_le<uint32_t>(beyond, 0) == 0u);
    device.write_config(0, std::array<std::byte, 8> {}); // read-only: ignored
    device.read_config(0, config);
    CHECK(load_le<uint64_t>(config, 0) == GUEST_CID);
}

TEST_CASE("a host client that disconnects: the guest gets SHUTDOWN, and RST once it sends", "[unit][vsock]")
{
    Harness h;
    auto connection = open_from_host(h, 5100);
    connection.client.close();
    auto shutdown = h.wait_for_op(Op::Shutdown);
    REQUIRE(shutdown);
    CHECK((shutdown->header.flags & vs::SHUTDOWN_SEND) != 0);
    // The host side is gone for good: writing to it fails, and the guest is reset.
    auto payload = bytes_of("anyone there?");
    h.send(h.header(Op::Rw, 5100, connection.host_port, static_cast<uint32_t>(payload.size())), payload);
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.dst_port == 5100);
    CHECK(h.counters().host_io_errors == 1);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("a guest RST closes the host socket", "[unit][vsock]")
{
    Harness h;
    HostListenerSocket listener { h.socket_path() + "_6500" };
    auto connection = open_from_guest(h, listener, 2500, 6500);
    h.send(h.header(Op::Rst, 2500, 6500));
    CHECK(connection.server.wait_eof(h));
    CHECK(h.device().connection_count() == 0);
    h.run_for(20ms);
    CHECK(h.received.empty()); // no reply to an RST
}

TEST_CASE("reset() with connections open closes them all, the device works after reactivation", "[unit][vsock]")
{
    Harness h;
    auto from_host = open_from_host(h, 5200);
    HostListenerSocket listener { h.socket_path() + "_6600" };
    auto from_guest = open_from_guest(h, listener, 2600, 6600);
    from_host.client.write_all(h, "pending data");
    CHECK(h.device().connection_count() == 2);

    h.device().reset();
    CHECK(h.device().connection_count() == 0);
    CHECK(from_host.client.wait_eof(h));
    CHECK(from_guest.server.wait_eof(h));
    CHECK(h.counters().connections_closed == 2);

    h.reactivate();
    auto again = open_from_host(h, 5201);
    again.client.write_all(h, "after reset");
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "after reset");
}

TEST_CASE("host clients that connect before the driver is ready are served once it is", "[unit][vsock]")
{
    Harness h;
    h.device().reset();
    auto client = HostSocket::connect(h.socket_path());
    client.write_all(h, "CONNECT 5300\n");
    h.run_for(20ms);
    CHECK(h.device().connection_count() == 1);
    h.reactivate();
    auto request = h.wait_for_op(Op::Request);
    REQUIRE(request);
    h.send(h.header(Op::Response, 5300, request->header.src_port));
    CHECK(client.read_line(h) == "OK " + std::to_string(request->header.src_port));
}

TEST_CASE("transport_reset() closes every connection and posts TRANSPORT_RESET on the event queue", "[unit][vsock]")
{
    Harness h;
    auto connection = open_from_host(h, 5400);
    auto& events = h.event_driver();
    auto buffer = events.alloc(4);
    (void)events.add_chain({ monarch::test::VirtqueueDriver::writable(buffer, 4) });
    auto before = h.interrupt().queue_signals[vs::EVENT_QUEUE];

    CHECK(h.device().transport_reset());
    CHECK(h.device().connection_count() == 0);
    CHECK(connection.client.wait_eof(h));
    auto used = events.next_used();
    REQUIRE(used);
    CHECK(used->length == 4);
    auto id = events.read_bytes(buffer, 4);
    CHECK(load_le<uint32_t>(id, 0) == vs::EVENT_TRANSPORT_RESET);
    CHECK(h.interrupt().queue_signals[vs::EVENT_QUEUE] == before + 1);
    CHECK(h.counters().events_sent == 1);
    // No event buffer left: nothing to post, and nothing breaks.
    CHECK(!h.device().transport_reset());
}

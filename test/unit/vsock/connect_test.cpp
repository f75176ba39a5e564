// SPDX-License-Identifier: Apache-2.0
// virtio-vsock connection set-up over real Unix sockets: host-initiated (CONNECT <port>) and
// guest-initiated (<socket>_<port>), refusals, limits and time-outs.

#include "vsock_harness.h"

#include <catch2/catch.hpp>

#include <filesystem>

using namespace monarch;
using namespace monarch::test::vsock;
using vs::Op;

TEST_CASE("host-initiated connection: CONNECT, REQUEST/RESPONSE, OK line, echo both ways", "[unit][vsock]")
{
    Harness h;
    auto connection = open_from_host(h, 5000);
    CHECK(h.device().connection_count() == 1);

    connection.client.write_all(h, "hello guest");
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "hello guest");
    CHECK(data->header.src_port == connection.host_port);
    CHECK(data->header.dst_port == 5000);
    CHECK(data->header.buf_alloc == vs::VsockLimits {}.buffer_size);

    auto reply = bytes_of("hello host");
    h.send(h.header(Op::Rw, 5000, connection.host_port, static_cast<uint32_t>(reply.size())), reply);
    CHECK(text_of(connection.client.read_exactly(h, reply.size())) == "hello host");
    CHECK(h.counters().connections_opened == 1);
    CHECK(h.counters().tx_packets >= 2);
    CHECK(h.interrupt().queue_signals[vs::RX_QUEUE] > 0);
}

TEST_CASE("bytes a host client sends right after its CONNECT line reach the guest after OK", "[unit][vsock]")
{
    Harness h;
    auto client = HostSocket::connect(h.socket_path());
    client.write_all(h, "CONNECT 77\nearly bytes");
    auto request = h.wait_for_op(Op::Request);
    REQUIRE(request);
    // Nothing but the REQUEST before the guest answers.
    h.run_for(20ms);
    CHECK(h.received.empty());
    h.send(h.header(Op::Response, 77, request->header.src_port));
    CHECK(client.read_line(h) == "OK " + std::to_string(request->header.src_port));
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "early bytes");
}

TEST_CASE("guest-initiated connection reaches the listener at <socket>_<port>, data both ways", "[unit][vsock]")
{
    Harness h;
    HostListenerSocket listener { h.socket_path() + "_6000" };
    auto connection = open_from_guest(h, listener, 1111, 6000);

    auto payload = bytes_of("from the guest");
    h.send(h.header(Op::Rw, 1111, 6000, static_cast<uint32_t>(payload.size())), payload);
    CHECK(text_of(connection.server.read_exactly(h, payload.size())) == "from the guest");

    connection.server.write_all(h, "from the host");
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "from the host");
    CHECK(data->header.src_port == 6000);
    CHECK(data->header.dst_port == 1111);
}

TEST_CASE("guest connect to a host port nobody listens on is answered with RST", "[unit][vsock]")
{
    Harness h;
    h.send(h.header(Op::Request, 2222, 6001));
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.src_port == 6001);
    CHECK(reset->header.dst_port == 2222);
    CHECK(h.counters().host_connect_failures == 1);
    CHECK(h.device().connection_count() == 0);
    CHECK(!h.wait_for_op(Op::Response, 50ms));
}

TEST_CASE("a guest RST in answer to our REQUEST gives the host client an ERR line", "[unit][vsock]")
{
    Harness h;
    auto client = HostSocket::connect(h.socket_path());
    client.write_all(h, "CONNECT 9\n");
    auto request = h.wait_for_op(Op::Request);
    REQUIRE(request);
    h.send(h.header(Op::Rst, 9, request->header.src_port));
    CHECK(client.read_line(h).starts_with("ERR "));
    CHECK(client.wait_eof(h));
    CHECK(h.device().connection_count() == 0);
    CHECK(!h.wait_for_op(Op::Rst, 50ms)); // an RST is never answered
}

TEST_CASE("a host client that sends garbage instead of CONNECT gets an ERR line and is closed", "[unit][vsock]")
{
    Harness h;
    SECTION("a wrong verb") {
        auto client = HostSocket::connect(h.socket_path());
        client.write_all(h, "HELLO 5000\n");
        CHECK(client.read_line(h).starts_with("ERR "));
        CHECK(client.wait_eof(h));
    }
    SECTION("a line longer than any CONNECT line, without a newline") {
        auto client = HostSocket::connect(h.socket_path());
        client.write_all(h, std::string(100, 'x'));
        CHECK(client.read_line(h).starts_with("ERR "));
        CHECK(client.wait_eof(h));
    }
    SECTION("a port beyond 32 bits") {
        auto client = HostSocket::connect(h.socket_path());
        client.write_all(h, "CONNECT 4294967296\n");
        CHECK(client.read_line(h).starts_with("ERR "));
        CHECK(client.wait_eof(h));
    }
    CHECK(h.counters().host_handshake_errors == 1);
    CHECK(h.received.empty()); // the guest never heard of it
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("CONNECT line parsing", "[unit][vsock]")
{
    CHECK(vs::parse_connect_line("CONNECT 0") == 0u);
    CHECK(vs::parse_connect_line("CONNECT 52\r") == 52u);
    CHECK(vs::parse_connect_line("CONNECT 4294967295") == 4294967295u);
    CHECK(!vs::parse_connect_line("CONNECT 4294967296"));
    CHECK(!vs::parse_connect_line("CONNECT "));
    CHECK(!vs::parse_connect_line("CONNECT -1"));
    CHECK(!vs::parse_connect_line("CONNECT 12 34"));
    CHECK(!vs::parse_connect_line("connect 12"));
    CHECK(!vs::parse_connect_line("CONNECT  12"));
    CHECK(!vs::parse_connect_line(""));
}

TEST_CASE("connections beyond the limit: host client gets ERR, guest REQUEST gets RST", "[unit][vsock]")
{
    vs::VsockLimits limits;
    limits.max_connections = 1;
    Harness h { limits };
    auto first = open_from_host(h, 10);

    auto second = HostSocket::connect(h.socket_path());
    second.write_all(h, "CONNECT 11\n");
    CHECK(second.read_line(h).starts_with("ERR "));
    CHECK(second.wait_eof(h));

    HostListenerSocket listener { h.socket_path() + "_7000" };
    h.send(h.header(Op::Request, 3333, 7000));
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.dst_port == 3333);
    CHECK(h.counters().connection_limit_hits == 2);
    CHECK(h.device().connection_count() == 1);
}

TEST_CASE("a guest that does not answer our REQUEST in time: RST to the guest, ERR to the client", "[unit][vsock]")
{
    vs::VsockLimits limits;
    limits.connect_timeout = 100ms;
    Harness h { limits };
    auto client = HostSocket::connect(h.socket_path());
    client.write_all(h, "CONNECT 12\n");
    auto request = h.wait_for_op(Op::Request);
    REQUIRE(request);
    CHECK(client.read_line(h).starts_with("ERR "));
    CHECK(client.wait_eof(h));
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.src_port == request->header.src_port);
    CHECK(h.counters().timeouts == 1);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("create() refuses a reserved CID and a socket path that exists or does not fit", "[unit][vsock]")
{
    boost::asio::io_context io;
    TempDir dir;
    auto path = dir.path() + "/v.sock";
    for (uint64_t cid : { 0ULL, 1ULL, 2ULL, 0xffffffffULL, 1ULL << 32 }) {
        auto device = vs::VsockDevice::create(io, vs::VsockDeviceConfig { cid, path });
        REQUIRE(!device);
        CHECK(device.error().code == Errc::InvalidArgument);
    }
    auto too_long = vs::VsockDevice::create(io, vs::VsockDeviceConfig { 3, dir.path() + "/" + std::string(120, 'a') });
    REQUIRE(!too_long);
    CHECK(too_long.error().code == Errc::InvalidArgument);

    auto no_directory = vs::VsockDevice::create(io, vs::VsockDeviceConfig { 3, dir.path() + "/missing/v.sock" });
    REQUIRE(!no_directory);
    CHECK(no_directory.error().code == Errc::Sys);
    CHECK(no_directory.error().sys_errno == ENOENT);

    auto first = vs::VsockDevice::create(io, vmm::machine::VsockConfig { 3, path });
    REQUIRE(first);
    auto second = vs::VsockDevice::create(io, vs::VsockDeviceConfig { 4, path });
    REQUIRE(!second);
    CHECK(second.error().code == Errc::Sys);
    CHECK(second.error().sys_errno == EADDRINUSE);
    // The device removes its socket file when it goes away.
    first.value().reset(); // destroys the device
    CHECK(!std::filesystem::exists(path));
}

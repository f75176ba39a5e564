// SPDX-License-Identifier: Apache-2.0
// virtio-vsock against a broken or hostile driver: every malformed packet is dropped or
// answered with RST and counted; the device keeps working and never needs a reset.

#include "vsock_harness.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::test::vsock;
using vs::Op;

namespace {

std::vector<std::byte> encoded(vs::PacketHeader const& header, size_t payload_bytes = 0)
{
    std::vector<std::byte> bytes(vs::HEADER_SIZE + payload_bytes);
    vs::encode_header(header, std::span(bytes).first<vs::HEADER_SIZE>());
    return bytes;
}

// The device answered `header` with an RST addressed back to its sender.
void require_reset_for(Harness& h, vs::PacketHeader const& header)
{
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.src_cid == vs::HOST_CID);
    CHECK(reset->header.dst_cid == GUEST_CID);
    CHECK(reset->header.src_port == header.dst_port);
    CHECK(reset->header.dst_port == header.src_port);
}

} // namespace

TEST_CASE("packet header encoding round-trips and is little-endian at the spec's offsets", "[unit][vsock]")
{
    vs::PacketHeader h { 0x1122334455667788, 2, 0xaabbccdd, 7, 9, 1, 5, 3, 4096, 100 };
    std::array<std::byte, vs::HEADER_SIZE> bytes;
    vs::encode_header(h, bytes);
    CHECK(bytes[0] == std::byte { 0x88 });
    CHECK(bytes[7] == std::byte { 0x11 });
    CHECK(bytes[16] == std::byte { 0xdd });  // src_port
    CHECK(bytes[24] == std::byte { 9 });     // len
    CHECK(bytes[28] == std::byte { 1 });     // type
    CHECK(bytes[30] == std::byte { 5 });     // op
    CHECK(bytes[37] == std::byte { 0x10 });  // buf_alloc 4096
    CHECK(bytes[40] == std::byte { 100 });   // fwd_cnt
    CHECK(vs::decode_header(bytes) == h);
    CHECK(!vs::decode_header(std::span(bytes).first(43)));
}

TEST_CASE("malformed guest packets are dropped or reset, and counted", "[unit][vsock]")
{
    Harness h;
    SECTION("a source CID that is not the guest's is dropped without a reply") {
        auto bad = h.header(Op::Request, 1, 2);
        bad.src_cid = 7;
        h.send(bad);
        h.run_for(30ms);
        CHECK(h.received.empty());
        CHECK(h.counters().tx_bad_src_cid == 1);
    }
    SECTION("a destination other than the host gets RST") {
        auto bad = h.header(Op::Request, 1, 2);
        bad.dst_cid = 5;
        h.send(bad);
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_dst_cid == 1);
    }
    SECTION("SEQPACKET (not offered) and unknown types get RST") {
        auto bad = h.header(Op::Request, 1, 2);
        bad.type = static_cast<uint16_t>(vs::SocketType::SeqPacket);
        h.send(bad);
        require_reset_for(h, bad);
        bad.type = 0x77;
        h.send(bad);
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_type == 2);
    }
    SECTION("OP_INVALID and ops beyond CREDIT_REQUEST get RST") {
        auto bad = h.header(Op::Invalid, 1, 2);
        h.send(bad);
        require_reset_for(h, bad);
        bad.op = 8;
        h.send(bad);
        require_reset_for(h, bad);
        bad.op = 0xffff;
        h.send(bad);
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_op == 3);
    }
    SECTION("len larger than the chain's buffers gets RST") {
        auto bad = h.header(Op::Rw, 1, 2, 100);
        h.send_raw(encoded(bad, 10));
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_length == 1);
    }
    SECTION("len beyond 64 KiB gets RST even when the chain is that long") {
        auto bad = h.header(Op::Rw, 1, 2, vs::MAX_PAYLOAD + 1);
        h.send_raw(encoded(bad, vs::MAX_PAYLOAD + 1));
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_length == 1);
    }
    SECTION("a control op with a payload gets RST") {
        auto bad = h.header(Op::CreditUpdate, 1, 2, 4);
        h.send_raw(encoded(bad, 4));
        require_reset_for(h, bad);
        CHECK(h.counters().tx_bad_length == 1);
    }
    SECTION("a chain shorter than a header is returned and counted") {
        h.send_raw(std::vector<std::byte>(20, std::byte { 0xff }));
        h.run_for(30ms);
        CHECK(h.received.empty());
        CHECK(h.counters().tx_short_chain == 1);
    }
    SECTION("data for no connection gets RST; an RST for no connection is ignored") {
        auto stray = h.header(Op::Rw, 1, 2, 3);
        h.send(stray, bytes_of("abc"));
        require_reset_for(h, stray);
        CHECK(h.counters().tx_unknown_connection == 1);
        h.send(h.header(Op::Rst, 1, 2));
        h.run_for(30ms);
        CHECK(h.received.empty());
    }
    CHECK(!h.device().needs_reset());
    CHECK(h.device().connection_count() == 0);
    // The device still works afterwards.
    auto connection = open_from_host(h, 8000);
    connection.client.write_all(h, "ok");
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "ok");
}

TEST_CASE("data before the guest's RESPONSE is a protocol error: RST, and ERR to the host client", "[unit][vsock]")
{
    Harness h;
    auto client = HostSocket::connect(h.socket_path());
    client.write_all(h, "CONNECT 8100\n");
    auto request = h.wait_for_op(Op::Request);
    REQUIRE(request);
    h.send(h.header(Op::Rw, 8100, request->header.src_port, 1), bytes_of("x"));
    REQUIRE(h.wait_for_op(Op::Rst));
    CHECK(client.read_line(h).starts_with("ERR "));
    CHECK(client.wait_eof(h));
    CHECK(h.counters().protocol_errors == 1);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("a second REQUEST on a live port pair resets the connection", "[unit][vsock]")
{
    Harness h;
    HostListenerSocket listener { h.socket_path() + "_6400" };
    auto connection = open_from_guest(h, listener, 2400, 6400);
    h.send(h.header(Op::Request, 2400, 6400));
    REQUIRE(h.wait_for_op(Op::Rst));
    CHECK(connection.server.wait_eof(h));
    CHECK(h.counters().protocol_errors == 1);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("rx buffers too small for a header are given back empty", "[unit][vsock]")
{
    Harness h { {}, 16, 2 };
    h.repost_rx = false;
    h.send(h.header(Op::Rw, 1, 2, 0));  // an RST is now pending
    h.run_for(20ms);
    CHECK(h.counters().rx_buffer_too_small == 2);
    CHECK(h.received.empty());
    CHECK(!h.device().needs_reset());
}

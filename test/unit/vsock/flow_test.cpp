// SPDX-License-Identifier: Apache-2.0
// virtio-vsock data flow: credit-based flow control in both directions (virtio 1.2 section
// 5.10.6.3), stalled rx queues, 1 MiB transfers, and half-close with OP_SHUTDOWN.

#include "vsock_harness.h"

#include <catch2/catch.hpp>

#include <map>

using namespace monarch;
using namespace monarch::test::vsock;
using vs::Op;

namespace {

size_t rw_bytes(std::deque<RxPacket> const& packets)
{
    size_t total = 0;
    for (auto const& p : packets)
        if (p.op() == Op::Rw)
            total += p.payload.size();
    return total;
}

std::vector<std::byte> take_rw_data(std::deque<RxPacket>& packets)
{
    std::vector<std::byte> data;
    for (auto it = packets.begin(); it != packets.end();) {
        if (it->op() == Op::Rw) {
            data.insert(data.end(), it->payload.begin(), it->payload.end());
            it = packets.erase(it);
        } else {
            ++it;
        }
    }
    return data;
}

} // namespace

TEST_CASE("the device never sends more than the guest's buf_alloc and resumes after CREDIT_UPDATE", "[unit][vsock]")
{
    Harness h;
    h.buf_alloc = 1000; // told to the device in our RESPONSE
    auto connection = open_from_host(h, 4000);
    auto sent = pattern(5000, 1);
    connection.client.write_all(h, sent);

    std::vector<std::byte> got;
    uint32_t granted = 0;
    while (got.size() < sent.size()) {
        // Let the device do all it can with the credit it has.
        h.run_for(50ms);
        size_t arrived = rw_bytes(h.received);
        INFO("granted " << granted << ", received " << got.size() << " + " << arrived);
        REQUIRE(arrived > 0);
        REQUIRE(got.size() + arrived <= granted + h.buf_alloc); // never beyond the credit
        // Out of credit: the device asks for an update (once per stall).
        if (got.size() + arrived == granted + h.buf_alloc && got.size() + arrived < sent.size()) {
            auto request = h.wait_for_op(Op::CreditRequest, 0ms);
            CHECK(request);
        }
        auto data = take_rw_data(h.received);
        got.insert(got.end(), data.begin(), data.end());
        // The "application" read it all: grant the space again.
        granted = static_cast<uint32_t>(got.size());
        h.fwd_cnt = granted;
        h.received.clear();
        h.send(h.header(Op::CreditUpdate, 4000, connection.host_port));
    }
    CHECK(got == sent);
}

TEST_CASE("a stalled rx queue resumes when the driver adds buffers", "[unit][vsock]")
{
    Harness h { {}, 4096 + vs::HEADER_SIZE, 4 };
    auto connection = open_from_host(h, 4001);
    h.repost_rx = false;
    h.received.clear();
    // Four buffers are posted (the one the REQUEST used was given back): four packets, then a stall.
    auto sent = pattern(6 * 4096, 2);
    connection.client.write_all(h, sent);
    h.run_for(50ms);
    CHECK(rw_bytes(h.received) == 4 * 4096);
    h.post_rx(1);
    h.run_for(20ms);
    CHECK(rw_bytes(h.received) == 5 * 4096);
    h.repost_rx = true;
    h.post_rx(1);
    REQUIRE(h.run_until([&] { return rw_bytes(h.received) == sent.size(); }));
    CHECK(take_rw_data(h.received) == sent);
}

TEST_CASE("1 MiB from the host to the guest arrives intact", "[unit][vsock]")
{
    Harness h;
    auto connection = open_from_host(h, 4100);
    auto sent = pattern(1 << 20, 3);
    std::vector<std::byte> got;
    uint32_t told_fwd_cnt = 0;
    bool credit_ok = true;
    // The guest model: consume data at once, send a CREDIT_UPDATE every 64 KiB or when asked.
    h.on_poll = [&] {
        while (!h.received.empty()) {
            auto packet = std::move(h.received.front());
            h.received.pop_front();
            if (packet.op() == Op::Rw) {
                got.insert(got.end(), packet.payload.begin(), packet.payload.end());
                credit_ok &= got.size() - told_fwd_cnt <= h.buf_alloc;
                h.fwd_cnt = static_cast<uint32_t>(got.size());
            }
            if (h.fwd_cnt - told_fwd_cnt >= 64 * 1024 || packet.op() == Op::CreditRequest) {
                told_fwd_cnt = h.fwd_cnt;
                h.send(h.header(Op::CreditUpdate, 4100, connection.host_port));
            }
        }
    };
    connection.client.write_all(h, sent);
    REQUIRE(h.run_until([&] { return got.size() >= sent.size(); }, 20s));
    h.on_poll = nullptr;
    CHECK(credit_ok);
    CHECK(got == sent);
}

TEST_CASE("1 MiB from the guest to the host arrives intact, paced by the device's credit", "[unit][vsock]")
{
    Harness h;
    HostListenerSocket listener { h.socket_path() + "_6100" };
    auto connection = open_from_guest(h, listener, 2100, 6100);
    auto sent = pattern(1 << 20, 4);
    std::vector<std::byte> got;
    // The device's receive side as its packets tell it.
    uint32_t peer_buf_alloc = vs::VsockLimits {}.buffer_size;
    uint32_t peer_fwd_cnt = 0;
    int credit_updates = 0;
    h.on_poll = [&] {
        auto data = connection.server.read_available();
        got.insert(got.end(), data.begin(), data.end());
        while (!h.received.empty()) {
            auto packet = std::move(h.received.front());
            h.received.pop_front();
            peer_buf_alloc = packet.header.buf_alloc;
            peer_fwd_cnt = packet.header.fwd_cnt;
            credit_updates += packet.op() == Op::CreditUpdate;
        }
    };
    size_t offset = 0;
    while (offset < sent.size()) {
        auto credit = [&] { return peer_buf_alloc - (static_cast<uint32_t>(offset) - peer_fwd_cnt); };
        REQUIRE(h.run_until([&] { return credit() > 0; }));
        size_t length = std::min<size_t>({ credit(), vs::MAX_PAYLOAD, sent.size() - offset });
        auto chunk = std::span(sent).subspan(offset, length);
        h.send(h.header(Op::Rw, 2100, 6100, static_cast<uint32_t>(length)), chunk);
        offset += length;
    }
    REQUIRE(h.run_until([&] { return got.size() >= sent.size(); }, 20s));
    h.on_poll = nullptr;
    CHECK(got == sent);
    CHECK(credit_updates > 0);
    CHECK(h.counters().credit_violations == 0);
    CHECK(h.device().connection_count() == 1);
}

TEST_CASE("several connections at once keep their streams apart", "[unit][vsock]")
{
    Harness h;
    std::vector<HostInitiated> connections;
    std::vector<std::vector<std::byte>> sent;
    for (uint32_t i = 0; i < 8; ++i) {
        connections.push_back(open_from_host(h, 9000 + i));
        sent.push_back(pattern(20000 + 1000 * i, 10 + i));
    }
    for (uint32_t i = 0; i < 8; ++i)
        connections[i].client.write_all(h, sent[i]);
    std::map<uint32_t, std::vector<std::byte>> got;
    auto all_there = [&] {
        for (auto& packet : h.received)
            if (packet.op() == Op::Rw)
                got[packet.header.dst_port].insert(got[packet.header.dst_port].end(), packet.payload.begin(), packet.payload.end());
        h.received.clear();
        for (uint32_t i = 0; i < 8; ++i)
            if (got[9000 + i].size() < sent[i].size())
                return false;
        return true;
    };
    REQUIRE(h.run_until(all_there));
    for (uint32_t i = 0; i < 8; ++i) {
        INFO("guest port " << 9000 + i);
        CHECK(got[9000 + i] == sent[i]);
        // And back, each on its own connection.
        auto reply = pattern(3000, 100 + i);
        h.send(h.header(Op::Rw, 9000 + i, connections[i].host_port, static_cast<uint32_t>(reply.size())), reply);
        CHECK(connections[i].client.read_exactly(h, reply.size()) == reply);
    }
    CHECK(h.device().connection_count() == 8);
}

TEST_CASE("a guest that sends beyond the device's credit is reset", "[unit][vsock]")
{
    vs::VsockLimits limits;
    limits.buffer_size = 4096;
    Harness h { limits };
    HostListenerSocket listener { h.socket_path() + "_6200" };
    auto connection = open_from_guest(h, listener, 2200, 6200);
    auto chunk = pattern(4096, 5);
    h.send(h.header(Op::Rw, 2200, 6200, 4096), chunk); // exactly the credit: fine
    h.send(h.header(Op::Rw, 2200, 6200, 1), std::span(chunk).first(1)); // no room left yet
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(reset->header.dst_port == 2200);
    CHECK(h.counters().credit_violations == 1);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("guest SHUTDOWN(SEND) half-closes the host socket, the host can still send", "[unit][vsock]")
{
    Harness h;
    HostListenerSocket listener { h.socket_path() + "_6300" };
    auto connection = open_from_guest(h, listener, 2300, 6300);
    auto last = bytes_of("last words");
    h.send(h.header(Op::Rw, 2300, 6300, static_cast<uint32_t>(last.size())), last);
    h.send(h.header(Op::Shutdown, 2300, 6300, 0, vs::SHUTDOWN_SEND));
    std::vector<std::byte> before_eof;
    REQUIRE(connection.server.wait_eof(h, &before_eof));
    CHECK(text_of(before_eof) == "last words");

    connection.server.write_all(h, "still here");
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "still here");
    CHECK(h.device().connection_count() == 1);

    // Now the receive side too: the close completes with our RST (section 5.10.6.5).
    h.send(h.header(Op::Shutdown, 2300, 6300, 0, vs::SHUTDOWN_RECEIVE));
    auto reset = h.wait_for_op(Op::Rst);
    REQUIRE(reset);
    CHECK(h.device().connection_count() == 0);
}

TEST_CASE("host half-close reaches the guest as SHUTDOWN(SEND) after the data, the guest can still send", "[unit][vsock]")
{
    Harness h;
    auto connection = open_from_host(h, 4300);
    connection.client.write_all(h, "bye");
    connection.client.shutdown_write();
    auto data = h.wait_for_op(Op::Rw);
    REQUIRE(data);
    CHECK(text_of(data->payload) == "bye");
    auto shutdown = h.wait_for_op(Op::Shutdown);
    REQUIRE(shutdown);
    CHECK(shutdown->header.flags == vs::SHUTDOWN_SEND);

    auto reply = bytes_of("answer");
    h.send(h.header(Op::Rw, 4300, connection.host_port, static_cast<uint32_t>(reply.size())), reply);
    CHECK(text_of(connection.client.read_exactly(h, reply.size())) == "answer");

    h.send(h.header(Op::Shutdown, 4300, connection.host_port, 0, vs::SHUTDOWN_BOTH));
    REQUIRE(h.wait_for_op(Op::Rst));
    CHECK(connection.client.wait_eof(h));
    CHECK(h.device().connection_count() == 0);
}

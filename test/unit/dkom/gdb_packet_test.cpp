// SPDX-License-Identifier: Apache-2.0
// The GDB remote protocol's byte level: framing, checksums, escapes, run-length, registers.
#include "dkom/qemu/gdb_packet.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::dkom;

namespace {
std::optional<Result<std::string>> feed_all(gdb::PacketDecoder& decoder, std::string_view bytes)
{
    std::optional<Result<std::string>> last;
    for (char c : bytes) {
        if (auto packet = decoder.feed(c))
            last = std::move(packet);
    }
    return last;
}
} // namespace

TEST_CASE("frame computes the modulo-256 checksum", "[unit][dkom][gdb]")
{
    // The GDB manual's example checksum: "qSupported" sums to 0x37.
    CHECK(gdb::frame("qSupported") == "$qSupported#37");
    CHECK(gdb::frame("") == "$#00");
}

TEST_CASE("frame escapes the protocol's special characters", "[unit][dkom][gdb]")
{
    auto const framed = gdb::frame("a#b");
    CHECK(framed.substr(0, 5) == "$a}\x03" "b");
    gdb::PacketDecoder decoder;
    auto const back = feed_all(decoder, framed);
    REQUIRE(back.has_value());
    REQUIRE(back->has_value());
    CHECK(**back == "a#b");
}

TEST_CASE("decoder skips acks and rejects bad checksums", "[unit][dkom][gdb]")
{
    gdb::PacketDecoder decoder;
    auto const good = feed_all(decoder, "++$OK#9a");
    REQUIRE(good.has_value());
    REQUIRE(good->has_value());
    CHECK(**good == "OK");
    auto const bad = feed_all(decoder, "$OK#00");
    REQUIRE(bad.has_value());
    REQUIRE_FALSE(bad->has_value());
    CHECK(bad->error().code == Errc::Corrupt);
}

TEST_CASE("run-length encoding expands", "[unit][dkom][gdb]")
{
    // "0* " is '0' repeated 3 more times (' ' is 32, 32 - 29 = 3).
    auto const text = gdb::unescape("0* 1");
    REQUIRE(text);
    CHECK(*text == "00001");
}

TEST_CASE("registers are little-endian hex", "[unit][dkom][gdb]")
{
    auto const value = gdb::decode_le_register("efbeadde00000000");
    REQUIRE(value);
    CHECK(*value == 0xdeadbeef);
    CHECK(gdb::encode_le_register(0x1122, 4) == "22110000");
    CHECK_FALSE(gdb::decode_le_register("xxxxxxxx")); // unavailable register
}

TEST_CASE("target description lists registers and includes in order", "[unit][dkom][gdb]")
{
    auto const elements = gdb::parse_target_xml(R"(<target><xi:include href="i386-64bit.xml"/>
        <feature name="x"><reg name="rax" bitsize="64" type="int64"/><reg name="cr3" bitsize="64" regnum="70"/></feature></target>)");
    REQUIRE(elements.size() == 3);
    CHECK(elements[0].include_href == "i386-64bit.xml");
    REQUIRE(elements[1].reg);
    CHECK(elements[1].reg->name == "rax");
    CHECK(elements[1].reg->bitsize == 64);
    CHECK_FALSE(elements[1].reg->regnum);
    REQUIRE(elements[2].reg);
    CHECK(elements[2].reg->regnum == 70U);
}

TEST_CASE("registers inside XML comments do not count", "[unit][dkom][gdb]")
{
    auto const elements = gdb::parse_target_xml(R"(<reg name="gs" bitsize="32"/><!--reg name="cs_base" bitsize="64"/>
        <reg name="ss_base" bitsize="64"/--><reg name="fs_base" bitsize="64"/>)");
    REQUIRE(elements.size() == 2);
    CHECK(elements[0].reg->name == "gs");
    CHECK(elements[1].reg->name == "fs_base");
}

TEST_CASE("stop replies name the thread that stopped", "[unit][dkom][gdb]")
{
    CHECK(gdb::stop_reply_thread("T05thread:02;") == 2U);
    CHECK(gdb::stop_reply_thread("T05thread:p1.0a;") == 10U);
    CHECK_FALSE(gdb::stop_reply_thread("S05"));
}

// SPDX-License-Identifier: Apache-2.0
// parse_serial_spec: the accepted --serial forms and the rejected ones.
#include "vmm/chardev/char_backend.h"

#include <catch2/catch.hpp>
#include <string>

using namespace monarch;
using namespace monarch::vmm;
using Kind = SerialSpec::Kind;

TEST_CASE("serial spec accepts the five forms", "[unit][chardev]")
{
    struct Case {
        char const* text;
        Kind kind;
        char const* path;
    };
    for (auto const& c : { Case { "stdio", Kind::Stdio, "" }, Case { "pty", Kind::Pty, "" }, Case { "off", Kind::Off, "" },
             Case { "file:/tmp/console.log", Kind::File, "/tmp/console.log" }, Case { "file:relative/x", Kind::File, "relative/x" },
             Case { "socket:/run/vm.sock", Kind::Socket, "/run/vm.sock" }, Case { "file:a:b", Kind::File, "a:b" } }) {
        INFO(c.text);
        auto spec = parse_serial_spec(c.text);
        REQUIRE(spec);
        CHECK(spec->kind == c.kind);
        CHECK(spec->path == c.path);
        CHECK(to_string(*spec) == c.text);
    }
}

TEST_CASE("serial spec rejects other forms with the accepted ones named", "[unit][chardev]")
{
    for (std::string text : { "", "tty", "STDIO", "stdio ", "file", "file:", "socket:", "pipe:/tmp/x", "off:x" }) {
        INFO("'" << text << "'");
        auto spec = parse_serial_spec(text);
        REQUIRE_FALSE(spec);
        CHECK(spec.error().code == Errc::InvalidArgument);
    }
    auto unknown = parse_serial_spec("tcp:1234");
    REQUIRE_FALSE(unknown);
    for (auto form : { "stdio", "file:PATH", "pty", "socket:PATH", "off" })
        CHECK(unknown.error().context.find(form) != std::string_view::npos);

    auto too_long = parse_serial_spec("socket:/" + std::string(120, 'x'));
    REQUIRE_FALSE(too_long);
    CHECK(too_long.error().code == Errc::InvalidArgument);
    auto with_nul = parse_serial_spec(std::string("file:a\0b", 8));
    REQUIRE_FALSE(with_nul);
}

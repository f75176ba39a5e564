// SPDX-License-Identifier: Apache-2.0
// parse_size, the one size parser of monarch-vmm, monarchd and monarchctl.
#include "common/size_parse.h"

#include <catch2/catch.hpp>

using namespace monarch;

namespace {
constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;
constexpr uint64_t GiB = 1024 * MiB;
} // namespace

TEST_CASE("sizes take binary units and a bare number is MiB", "[unit][common]")
{
    CHECK(parse_size("512M").value() == 512 * MiB);
    CHECK(parse_size("1G").value() == GiB);
    CHECK(parse_size("1024K").value() == MiB);
    CHECK(parse_size("2T").value() == 2048 * GiB);
    CHECK(parse_size("256").value() == 256 * MiB);
    CHECK(parse_size("4096").value() == 4096 * MiB);
    CHECK(parse_size("1g").value() == GiB);
    CHECK(parse_size("1GiB").value() == GiB);
    CHECK(parse_size("64MB").value() == 64 * MiB);
    CHECK(parse_size("64mib").value() == 64 * MiB);
    CHECK(parse_size("0").value() == 0);
}

TEST_CASE("sizes that are not a number and a unit are refused", "[unit][common]")
{
    for (char const* text : { "", "banana", "12X", "M", "-1G", " 1G", "1G ", "1.5G", "1G,shared=on", "size=512M", "1GG", "0x10M", "12B", "1KiBB" }) {
        INFO(text);
        auto size = parse_size(text);
        REQUIRE_FALSE(size);
        CHECK(size.error().code == Errc::InvalidArgument);
    }
    for (char const* text : { "99999999999T", "18446744073709551616", "17179869184G", "17592186044416M" }) {
        INFO(text);
        auto size = parse_size(text);
        REQUIRE_FALSE(size);
        CHECK(size.error().code == Errc::OutOfRange);
    }
    CHECK(parse_size("17592186044415M").value() == 17592186044415ULL * MiB); // the largest MiB count
}

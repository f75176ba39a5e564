// SPDX-License-Identifier: Apache-2.0
#include "common/result.h"
#include "common/strong_int.h"

#include <catch2/catch.hpp>

using namespace monarch;

namespace {

Result<int> parse_positive(int value)
{
    if (value <= 0)
        return fail(Errc::InvalidArgument, "value must be positive");
    return value;
}

Result<int> doubled(int value)
{
    int checked = TRY(parse_positive(value));
    return checked * 2;
}

} // namespace

TEST_CASE("TRY passes values through and returns errors early", "[unit][result]")
{
    REQUIRE(doubled(21).value() == 42);
    auto bad = doubled(-1);
    REQUIRE_FALSE(bad);
    REQUIRE(bad.error().code == Errc::InvalidArgument);
    REQUIRE(to_string(bad.error()) == "value must be positive");
}

TEST_CASE("system errors name the call and the errno text", "[unit][result]")
{
    Error error = Error::from_errno(ENOENT, "open kernel");
    REQUIRE(to_string(error) == "open kernel: No such file or directory");
}

TEST_CASE("checked_add refuses to wrap guest addresses", "[unit][strong_int]")
{
    REQUIRE(checked_add(GuestPhysAddr { 0x1000 }, 0x10)->raw() == 0x1010);
    REQUIRE_FALSE(checked_add(GuestPhysAddr { ~0ull - 4 }, 8).has_value());
}

// SPDX-License-Identifier: Apache-2.0
// TRY_EXPECTED over error types other than Error, and to_json_text on invalid UTF-8.
#include "common/json_text.h"
#include "common/try_expected.h"

#include <catch2/catch.hpp>
#include <string>

namespace {

struct Refusal {
    unsigned status { 0 };
    std::string message;
};

std::expected<int, Refusal> checked(int value)
{
    if (value < 0)
        return std::unexpected(Refusal { 409, "negative" });
    return value;
}

std::expected<void, Refusal> ensure_even(int value)
{
    if (value % 2 != 0)
        return std::unexpected(Refusal { 400, "odd" });
    return {};
}

std::expected<int, Refusal> doubled_even(int value)
{
    int const checked_value = TRY_EXPECTED(checked(value));
    TRY_EXPECTED(ensure_even(checked_value));
    return checked_value * 2;
}

} // namespace

TEST_CASE("TRY_EXPECTED yields the value or returns the error whatever its type", "[unit][common]")
{
    CHECK(doubled_even(4).value() == 8);
    auto negative = doubled_even(-2);
    REQUIRE_FALSE(negative);
    CHECK(negative.error().status == 409);
    CHECK(negative.error().message == "negative");
    auto odd = doubled_even(3);
    REQUIRE_FALSE(odd);
    CHECK(odd.error().status == 400);
}

TEST_CASE("to_json_text replaces invalid UTF-8 instead of throwing", "[unit][common]")
{
    nlohmann::json const value = { { "path", std::string("/tmp/\xff\xfe") }, { "n", 1 } };
    CHECK_THROWS(value.dump()); // what every caller had to guard against
    std::string text;
    REQUIRE_NOTHROW(text = monarch::to_json_text(value));
    CHECK(text == "{\"n\":1,\"path\":\"/tmp/\xEF\xBF\xBD\xEF\xBF\xBD\"}");
    CHECK(monarch::to_json_text(nlohmann::json { { "a", 1 } }, 2) == "{\n  \"a\": 1\n}");
}

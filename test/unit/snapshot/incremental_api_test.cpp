// SPDX-License-Identifier: Apache-2.0
// vm.snapshot's Monarch extension: "incremental" in the body (absent: a full snapshot).
#include "vmm/api/vmcrypt_routes.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm::api;

TEST_CASE("vm.snapshot bodies: incremental is an optional boolean", "[unit][snapshot][api]")
{
    CHECK(incremental_from_body(R"({"destination_url":"file:///a"})") == false);
    CHECK(incremental_from_body(R"({"destination_url":"file:///a","incremental":true})") == true);
    CHECK(incremental_from_body(R"({"destination_url":"file:///a","incremental":false})") == false);
    for (auto body : { R"({"incremental":1})", R"({"incremental":"yes"})", "[]", "not json" }) {
        auto parsed = incremental_from_body(body);
        REQUIRE_FALSE(parsed.has_value());
        CHECK(parsed.error().code == Errc::InvalidArgument);
    }
}

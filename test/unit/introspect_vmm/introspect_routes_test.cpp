// SPDX-License-Identifier: Apache-2.0
// The introspection routes' parsing and validation, and how engine problems become answers.
#include "vmm/api/introspect_routes.h"
#include "vmm/cli/options.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using api::IntrospectCommand;

namespace {

http::HttpRequest request(std::string method, std::string target, std::string body = {})
{
    http::HttpRequest made;
    made.method = std::move(method);
    made.target = target;
    made.path = target.substr(0, target.find('?'));
    made.body = std::move(body);
    return made;
}

unsigned status_of(std::optional<std::expected<IntrospectCommand, api::RouteError>> const& parsed)
{
    REQUIRE(parsed.has_value());
    REQUIRE_FALSE(parsed->has_value());
    return (*parsed).error().status;
}

} // namespace

TEST_CASE("introspection routes: other paths are not ours", "[unit][introspect]")
{
    CHECK_FALSE(api::parse_introspect_request(request("GET", "/api/v1/vm.info")).has_value());
    CHECK_FALSE(api::parse_introspect_request(request("GET", "/api/v1/monarch/memory")).has_value());
}

TEST_CASE("introspection routes: good requests", "[unit][introspect]")
{
    auto ps = api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/ps?threads=1"));
    REQUIRE(ps.has_value());
    REQUIRE(ps->has_value());
    CHECK((*ps)->kind == IntrospectCommand::Kind::Ps);
    CHECK((*ps)->threads);
    auto nice = api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/nice", R"({"pid": 42, "nice": -5})"));
    REQUIRE(nice.has_value());
    REQUIRE(nice->has_value());
    CHECK((*nice)->kind == IntrospectCommand::Kind::Nice);
    CHECK((*nice)->pid == 42);
    CHECK((*nice)->nice == -5);
    auto top = api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/top?interval=0.5&rate=1000"));
    REQUIRE(top.has_value());
    REQUIRE(top->has_value());
    CHECK((*top)->rate_hz == 1000);
    CHECK((*top)->seconds == 0.5);
    auto profile = api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/profile", R"({"path": "/p.json"})"));
    REQUIRE(profile.has_value());
    REQUIRE(profile->has_value());
    CHECK((*profile)->profile_path == "/p.json");
}

TEST_CASE("introspection routes: bad pid, bad nice, bad rate, unknown path, wrong method", "[unit][introspect]")
{
    auto const suspend = [](std::string body) { return api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/suspend", std::move(body))); };
    CHECK(status_of(suspend(R"({"pid": 0})")) == 400);
    CHECK(status_of(suspend(R"({"pid": -3})")) == 400);
    CHECK(status_of(suspend(R"({"pid": 99999999})")) == 400);
    CHECK(status_of(suspend(R"({"pid": "12"})")) == 400);
    CHECK(status_of(suspend(R"({"pid": 1.5})")) == 400);
    CHECK(status_of(suspend(R"({})")) == 400);
    CHECK(status_of(suspend("not json")) == 400);
    CHECK(status_of(suspend("[1]")) == 400);
    auto const nice = [](std::string body) { return api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/nice", std::move(body))); };
    CHECK(status_of(nice(R"({"pid": 5, "nice": 20})")) == 400);
    CHECK(status_of(nice(R"({"pid": 5, "nice": -21})")) == 400);
    CHECK(status_of(nice(R"({"pid": 5})")) == 400);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/top?rate=0"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/top?rate=abc"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/top?interval=600"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/ps?threads=yes"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/profile", R"({"path": ""})"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/profile", R"({"path": "/a", "kernel_image": "/b"})"))) == 400);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/kill"))) == 404);
    CHECK(status_of(api::parse_introspect_request(request("GET", "/api/v1/monarch/introspect/suspend"))) == 405);
    CHECK(status_of(api::parse_introspect_request(request("PUT", "/api/v1/monarch/introspect/ps"))) == 405);
}

TEST_CASE("introspection routes: engine problems map to statuses and reasons", "[unit][introspect]")
{
    using introspect::Problem;
    CHECK(api::route_error({ Problem::NotFound, "x" }).status == 404);
    CHECK(api::route_error({ Problem::NoProfile, "x" }).status == 409);
    CHECK(api::route_error({ Problem::NoProfile, "x" }).reason == "no_profile");
    CHECK(api::route_error({ Problem::NotBooted, "x" }).status == 409);
    CHECK(api::route_error({ Problem::BadRequest, "x" }).status == 400);
    CHECK(api::route_error({ Problem::Guest, "x" }).status == 500);
    CHECK(api::route_error({ Problem::Timeout, "x" }).status == 504);
    auto const response = api::route_error_response({ 404, "no task with pid 7", "not_found" });
    CHECK(response.status == 404);
    CHECK(response.body == R"({"error":"no task with pid 7","reason":"not_found"})");
}

TEST_CASE("monarch-vmm option --introspect profile=PATH: needs --api-socket and a path", "[unit][introspect]")
{
    auto const parse = [](std::vector<char const*> args) {
        args.insert(args.begin(), "monarch-vmm");
        return vmm::cli::parse_command_line(static_cast<int>(args.size()), args.data());
    };
    auto const good = parse({ "--api-socket", "/tmp/x.sock", "--introspect", "profile=/p/linux.isf.json" });
    REQUIRE(good.has_value());
    REQUIRE(good->introspect_profile.has_value());
    CHECK(*good->introspect_profile == "/p/linux.isf.json");
    CHECK_FALSE(parse({ "--api-socket", "/tmp/x.sock" })->introspect_profile.has_value());
    auto const no_api = parse({ "--introspect", "profile=/p.json" });
    REQUIRE_FALSE(no_api.has_value());
    CHECK(no_api.error().text.find("--api-socket") != std::string::npos);
    CHECK_FALSE(parse({ "--api-socket", "/tmp/x.sock", "--introspect", "profile=" }).has_value());
    CHECK_FALSE(parse({ "--api-socket", "/tmp/x.sock", "--introspect", "/p.json" }).has_value());
}

// SPDX-License-Identifier: Apache-2.0
// VMCrypt's REST routes without a VM: which paths they take, methods, the query and body
// parsers. (The sealed bodies themselves are the sealed-view and dump tests' subject.)
#include "vmm/api/vmcrypt_routes.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::api;

namespace {

class NoBackend final : public VmBackend {
public:
    std::expected<void, std::string> boot(machine::VmConfig const&) override { return std::unexpected(std::string("no")); }
    std::expected<void, std::string> pause() override { return {}; }
    void resume() override {}
    void shutdown() override {}
    std::expected<void, std::string> reboot(machine::VmConfig const&) override { return std::unexpected(std::string("no")); }
    void power_button() override {}
    BackendDetails details() const override { return {}; }
    Counters counters() const override { return {}; }
};

http::HttpRequest request(std::string method, std::string target)
{
    http::HttpRequest r;
    r.method = std::move(method);
    r.target = target;
    r.path = target.substr(0, target.find('?'));
    return r;
}

} // namespace

TEST_CASE("VMCrypt routes take only their own paths and need a booted VM", "[unit][vmcrypt][api]")
{
    NoBackend backend;
    VmController controller(backend);
    VmcryptRoutes routes(controller, [] { return static_cast<machine::Vmm*>(nullptr); }, nullptr);
    CHECK_FALSE(routes.handle(request("GET", "/api/v1/vm.info")).has_value());
    CHECK_FALSE(routes.handle(request("PUT", "/api/v1/vm.restore")).has_value()); // ApiHandler's
    auto wrong = routes.handle(request("PUT", "/api/v1/monarch/memory/clear-regions"));
    REQUIRE(wrong.has_value());
    CHECK(wrong->status == 405);
    for (auto const& [method, target] : std::vector<std::pair<std::string, std::string>> {
             { "GET", "/api/v1/monarch/memory/clear-regions" }, { "GET", "/api/v1/monarch/memory?gpa=0&length=4096" },
             { "PUT", "/api/v1/vm.coredump" }, { "PUT", "/api/v1/vm.snapshot" } }) {
        auto response = routes.handle(request(method, target));
        REQUIRE(response.has_value());
        CHECK(response->status == 404);
        CHECK(response->body.find("error") != std::string::npos);
    }
}

TEST_CASE("memory view queries: gpa and length, decimal or hex, both or neither", "[unit][vmcrypt][api]")
{
    auto all = parse_view_query("/api/v1/monarch/memory");
    REQUIRE(all.has_value());
    CHECK_FALSE(all->has_value());
    auto range = parse_view_query("/api/v1/monarch/memory?gpa=0x100000&length=8192");
    REQUIRE(range.has_value());
    REQUIRE(range->has_value());
    CHECK((*range)->gpa.raw() == 0x100000);
    CHECK((*range)->length == 8192);
    for (auto const* bad : { "?gpa=1", "?length=1", "?gpa=x&length=1", "?gpa=1&length=1&other=2", "?gpa", "?gpa=-1&length=1",
             "?gpa=0x&length=1", "?gpa=99999999999999999999999&length=1" })
        CHECK_FALSE(parse_view_query(std::string("/api/v1/monarch/memory") + bad).has_value());
}

TEST_CASE("destination URLs come from a JSON body", "[unit][vmcrypt][api]")
{
    CHECK(url_path_from_body(R"({"destination_url":"file:///srv/dump"})", "destination_url").value() == "/srv/dump");
    CHECK_FALSE(url_path_from_body(R"({"destination_url":"tcp://x"})", "destination_url").has_value());
    CHECK_FALSE(url_path_from_body(R"({"destination_url":5})", "destination_url").has_value());
    CHECK_FALSE(url_path_from_body("not json", "destination_url").has_value());
    CHECK_FALSE(url_path_from_body(R"({"source_url":"file:///a"})", "destination_url").has_value());
}

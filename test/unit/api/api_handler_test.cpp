// SPDX-License-Identifier: Apache-2.0
// ApiHandler's routes over a fake backend: statuses, bodies, 404 for unknown paths, 405 for
// the wrong method, 400 for bad bodies, and the vmm.shutdown hook.
#include "fake_backend.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/ch_compat.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm::api;
using nlohmann::json;

namespace {

struct Fixture {
    test::FakeBackend backend;
    VmController controller { backend };
    int shutdowns { 0 };
    ApiHandler handler { controller, [this] { ++shutdowns; } };

    http::HttpResponse call(std::string method, std::string path, std::string body = {})
    {
        http::HttpRequest request;
        request.method = std::move(method);
        request.target = path;
        request.path = path.substr(0, path.find('?'));
        request.body = std::move(body);
        return handler.handle(request);
    }
};

json body_of(http::HttpResponse const& response)
{
    auto parsed = json::parse(response.body, nullptr, false);
    INFO(response.body);
    REQUIRE_FALSE(parsed.is_discarded());
    return parsed;
}

constexpr char const* MINIMAL_VM = R"({"payload":{"kernel":"/k"},"memory":{"size":67108864},"serial":{"mode":"Pty"}})";

} // namespace

TEST_CASE("api handler: vmm.ping answers the CH API level and our pid", "[unit][api]")
{
    Fixture f;
    auto response = f.call("GET", "/api/v1/vmm.ping");
    CHECK(response.status == 200);
    auto body = body_of(response);
    CHECK(body["version"] == std::string(CH_API_LEVEL));
    CHECK(body["pid"] == ::getpid());
    CHECK(body["build_version"].get<std::string>().starts_with("monarch-vmm "));
}

TEST_CASE("api handler: unknown paths are 404, wrong methods 405", "[unit][api]")
{
    Fixture f;
    for (auto path : { "/api/v1/vm.snapshot", "/api/v2/vm.info", "/", "/api/v1/", "/api/v1/vm.info/extra" }) {
        INFO(path);
        auto response = f.call("GET", path);
        CHECK(response.status == 404);
        CHECK(body_of(response).contains("error"));
    }
    CHECK(f.call("GET", "/api/v1/vm.boot").status == 405);
    CHECK(f.call("PUT", "/api/v1/vm.info").status == 405);
    CHECK(f.call("POST", "/api/v1/vm.create", MINIMAL_VM).status == 405);
    CHECK(f.call("DELETE", "/api/v1/vm.delete").status == 405);
    CHECK(f.controller.state() == VmState::NotCreated);
    CHECK(f.call("GET", "/api/v1/vmm.ping?verbose=1").status == 200); // a query string is not part of the path
}

TEST_CASE("api handler: vm.create and vm.info", "[unit][api]")
{
    Fixture f;
    CHECK(f.call("GET", "/api/v1/vm.info").status == 404);
    auto created = f.call("PUT", "/api/v1/vm.create", MINIMAL_VM);
    CHECK(created.status == 204);
    CHECK(created.body.empty());
    auto info = f.call("GET", "/api/v1/vm.info");
    REQUIRE(info.status == 200);
    auto body = body_of(info);
    CHECK(body["state"] == "Created");
    CHECK(body["memory_actual_size"] == 67108864);
    CHECK(body["config"]["payload"]["kernel"] == "/k");
    CHECK(body["config"]["serial"]["mode"] == "Pty");
    CHECK(body["config"]["serial"]["file"].is_null());
    CHECK(f.call("PUT", "/api/v1/vm.create", MINIMAL_VM).status == 409);

    REQUIRE(f.call("PUT", "/api/v1/vm.boot").status == 204);
    auto running = body_of(f.call("GET", "/api/v1/vm.info"));
    CHECK(running["state"] == "Running");
    CHECK(running["config"]["serial"]["file"] == "/dev/pts/9"); // what libvirt reads for `virsh console`
}

TEST_CASE("api handler: bad vm.create bodies are 400 naming the problem and create nothing", "[unit][api]")
{
    Fixture f;
    auto check = [&](std::string body, std::string_view expected) {
        INFO(body);
        auto response = f.call("PUT", "/api/v1/vm.create", body);
        CHECK(response.status == 400);
        auto message = body_of(response)["error"].get<std::string>();
        CHECK(message.find(expected) != std::string::npos);
        CHECK(f.controller.state() == VmState::NotCreated);
    };
    check("", "body");
    check("{not json", "not valid JSON");
    check(R"({"payload":{"kernel":"/k"},"unknown_field":true})", "unknown_field");
    check(R"({"payload":{"kernel":"/k"},"memory":{"size":-4096}})", "memory.size");
    check(std::string("{\"payload\":{\"kernel\":\"\xff\xfe\"}}"), "not valid JSON"); // invalid UTF-8
}

TEST_CASE("api handler: refused actions carry the controller's status", "[unit][api]")
{
    Fixture f;
    CHECK(f.call("PUT", "/api/v1/vm.boot").status == 404);
    REQUIRE(f.call("PUT", "/api/v1/vm.create", MINIMAL_VM).status == 204);
    auto pause = f.call("PUT", "/api/v1/vm.pause");
    CHECK(pause.status == 405);
    CHECK(body_of(pause)["error"].get<std::string>().find("not booted") != std::string::npos);
    CHECK(f.call("GET", "/api/v1/vm.counters").status == 405);
    f.backend.fail_next_boot = true;
    auto boot = f.call("PUT", "/api/v1/vm.boot");
    CHECK(boot.status == 500);
    CHECK(body_of(boot)["error"] == "no /dev/kvm here");
    CHECK(body_of(f.call("GET", "/api/v1/vm.info"))["state"] == "Created");
}

TEST_CASE("api handler: every action route reaches the controller", "[unit][api]")
{
    Fixture f;
    REQUIRE(f.call("PUT", "/api/v1/vm.create", MINIMAL_VM).status == 204);
    CHECK(f.call("PUT", "/api/v1/vm.boot").status == 204);
    CHECK(f.call("PUT", "/api/v1/vm.pause").status == 204);
    CHECK(body_of(f.call("GET", "/api/v1/vm.info"))["state"] == "Paused");
    CHECK(f.call("PUT", "/api/v1/vm.resume").status == 204);
    CHECK(f.call("PUT", "/api/v1/vm.power-button").status == 204);
    CHECK(f.call("PUT", "/api/v1/vm.reboot").status == 204);
    auto counters = f.call("GET", "/api/v1/vm.counters");
    CHECK(counters.status == 200);
    CHECK(body_of(counters)["vcpus"]["exits"] == 42);
    CHECK(f.call("PUT", "/api/v1/vm.shutdown").status == 204);
    CHECK(body_of(f.call("GET", "/api/v1/vm.info"))["state"] == "Shutdown");
    CHECK(f.call("PUT", "/api/v1/vm.delete").status == 204);
    CHECK(f.call("GET", "/api/v1/vm.info").status == 404);
    CHECK(f.backend.calls == std::vector<std::string> { "boot", "pause", "resume", "power_button", "reboot", "shutdown" });
}

TEST_CASE("api handler: vmm.shutdown stops the VM and exits only after the answer", "[unit][api]")
{
    Fixture f;
    REQUIRE(f.call("PUT", "/api/v1/vm.create", MINIMAL_VM).status == 204);
    REQUIRE(f.call("PUT", "/api/v1/vm.boot").status == 204);
    auto response = f.call("PUT", "/api/v1/vmm.shutdown");
    CHECK(response.status == 204);
    CHECK(f.shutdowns == 0); // not before the response is written
    CHECK_FALSE(f.backend.running);
    REQUIRE(response.after_send);
    response.after_send();
    CHECK(f.shutdowns == 1);
}

// SPDX-License-Identifier: Apache-2.0
// vm.restore, the VM UUID and --restore's options without a VM: the controller's transition
// (409 with a VM, Paused after, nothing left after a refusal), the body's validation, a pause
// that fails failing its request, platform.uuid in the JSON and --platform on the command line.
#include "../api/fake_backend.h"
#include "vmm/api/api_handler.h"
#include "vmm/api/vm_config_json.h"
#include "vmm/api/vm_controller.h"
#include "vmm/cli/options.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::api;
using nlohmann::json;

namespace {

struct Fixture {
    test::FakeBackend backend;
    VmController controller { backend };
    ApiHandler handler { controller, [] {} };

    http::HttpResponse put(std::string path, std::string body)
    {
        http::HttpRequest request;
        request.method = "PUT";
        request.target = path;
        request.path = path;
        request.body = std::move(body);
        return handler.handle(request);
    }
};

machine::VmConfig small_config()
{
    machine::VmConfig config;
    config.kernel = "/k";
    config.memory = 64ULL << 20;
    return config;
}

std::expected<cli::Options, cli::CliExit> parse(std::vector<std::string> args)
{
    args.insert(args.begin(), "monarch-vmm");
    std::vector<char const*> argv;
    for (auto const& arg : args)
        argv.push_back(arg.c_str());
    return cli::parse_command_line(static_cast<int>(argv.size()), argv.data());
}

} // namespace

TEST_CASE("vm.restore: only without a VM, and the restored VM is Paused (Running with resume)", "[unit][api][restore]")
{
    Fixture f;
    auto restored = f.put("/api/v1/vm.restore", R"({"source_url": "file:///snapshots/one", "prefault": true})");
    INFO(restored.body);
    CHECK(restored.status == 204);
    CHECK(f.controller.state() == VmState::Paused);
    CHECK(f.backend.calls == std::vector<std::string> { "restore /snapshots/one" });
    auto info = f.controller.info();
    REQUIRE(info.has_value());
    CHECK(info->config.platform.uuid == "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f");

    auto again = f.put("/api/v1/vm.restore", R"({"source_url": "file:///snapshots/two"})");
    CHECK(again.status == 409);
    CHECK(f.backend.calls.size() == 1); // refused before the backend
    REQUIRE(f.controller.resume());
    CHECK(f.controller.state() == VmState::Running);

    Fixture g;
    REQUIRE(g.controller.create(small_config()));
    CHECK(g.put("/api/v1/vm.restore", R"({"source_url": "file:///s"})").status == 409);
    CHECK(g.backend.calls.empty());

    Fixture h;
    CHECK(h.put("/api/v1/vm.restore", R"({"source_url": "file:///s", "resume": true})").status == 204);
    CHECK(h.controller.state() == VmState::Running);
}

TEST_CASE("vm.restore: a refusal carries the backend's status and leaves no VM", "[unit][api][restore]")
{
    Fixture f;
    f.backend.restore_refusal = "snapshot refused: wrong owner key or damaged key wrap";
    auto response = f.put("/api/v1/vm.restore", R"({"source_url": "file:///s"})");
    CHECK(response.status == 400);
    CHECK(response.body.find("wrong owner key") != std::string::npos);
    CHECK(f.controller.state() == VmState::NotCreated);
    CHECK_FALSE(f.controller.info().has_value());
    // Nothing is left that would refuse a later restore or create.
    f.backend.restore_refusal.reset();
    CHECK(f.put("/api/v1/vm.restore", R"({"source_url": "file:///s"})").status == 204);
}

TEST_CASE("vm.restore: bad bodies are 400 and reach nothing", "[unit][api][restore]")
{
    for (std::string body : { "", "[]", "{}", R"({"source_url": 7})", R"({"source_url": "http://host/snap"})",
             R"({"source_url": "file://relative/snap"})", R"({"source_url": "file:///s?x=1"})", R"({"source_url": "file:///s", "prefault": "yes"})",
             R"({"source_url": "file:///s", "memory_restore_mode": "OnDemand"})", R"({"source_url": "file:///s", "bogus": 1})" }) {
        Fixture f;
        auto response = f.put("/api/v1/vm.restore", body);
        INFO(body << " -> " << response.body);
        CHECK(response.status == 400);
        CHECK(response.body.find("vm.restore") != std::string::npos);
        CHECK(f.backend.calls.empty());
        CHECK(f.controller.state() == VmState::NotCreated);
    }
    Fixture f;
    http::HttpRequest get;
    get.method = "GET";
    get.target = get.path = "/api/v1/vm.restore";
    CHECK(f.handler.handle(get).status == 405);
    CHECK(f.put("/api/v1/vm.restore", R"({"source_url": "file:///s", "memory_restore_mode": "Copy", "net_fds": []})").status == 204);
}

TEST_CASE("a pause the backend cannot do is a 500 and the VM stays Running", "[unit][api][restore]")
{
    Fixture f;
    REQUIRE(f.controller.create(small_config()));
    REQUIRE(f.controller.boot());
    f.backend.fail_pause = true;
    auto paused = f.controller.pause();
    REQUIRE_FALSE(paused.has_value());
    CHECK(paused.error().status == 500);
    CHECK(paused.error().message.find("did not stop") != std::string::npos);
    CHECK(f.controller.state() == VmState::Running);
}

TEST_CASE("vm.create gives a VM without platform.uuid a random one, and keeps a given one", "[unit][api][restore]")
{
    Fixture f;
    REQUIRE(f.controller.create(small_config()));
    auto first = f.controller.info()->config.platform.uuid;
    REQUIRE(first.has_value());
    CHECK(machine::canonical_uuid(*first) == first);
    CHECK((*first)[14] == '4'); // RFC 4122 version 4
    REQUIRE(f.controller.remove());
    REQUIRE(f.controller.create(small_config()));
    CHECK(f.controller.info()->config.platform.uuid != first);
    REQUIRE(f.controller.remove());
    auto given = small_config();
    given.platform.uuid = "11111111-2222-4333-8444-555555555555";
    REQUIRE(f.controller.create(given));
    CHECK(f.controller.info()->config.platform.uuid == given.platform.uuid);
}

TEST_CASE("platform.uuid is parsed to lower case and written back, and bad ones are refused", "[unit][api][restore]")
{
    json body = { { "payload", { { "kernel", "/k" } } }, { "platform", { { "uuid", "0B6F3C1E-2F4A-4D35-9A57-3C0F6B1D2E8F" }, { "num_pci_segments", 1 } } } };
    auto config = vm_config_from_json(body);
    REQUIRE(config.has_value());
    CHECK(config->platform.uuid == "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f");
    auto written = vm_config_to_json(*config);
    CHECK(written["platform"]["uuid"] == "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f");
    auto again = vm_config_from_json(written);
    REQUIRE(again.has_value());
    CHECK(again->platform.uuid == config->platform.uuid);

    auto none = vm_config_from_json(json { { "payload", { { "kernel", "/k" } } } });
    REQUIRE(none.has_value());
    CHECK_FALSE(none->platform.uuid.has_value());
    CHECK(vm_config_to_json(*none)["platform"].is_null());

    for (json platform : { json { { "uuid", "not-a-uuid" } }, json { { "uuid", "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8" } },
             json { { "uuid", "0b6f3c1e22f4a-4d35-9a57-3c0f6b1d2e8f" } }, json { { "uuid", "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8g" } },
             json { { "uuid", 5 } }, json { { "num_pci_segments", 4 } } }) {
        INFO(platform.dump());
        auto refused = vm_config_from_json(json { { "payload", { { "kernel", "/k" } } }, { "platform", platform } });
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().find("platform") != std::string::npos);
    }
}

TEST_CASE("the command line takes the platform UUID and the restore keys", "[unit][cli][restore]")
{
    auto options = parse({ "--platform", "uuid=0B6F3C1E-2F4A-4D35-9A57-3C0F6B1D2E8F" });
    REQUIRE(options.has_value());
    CHECK(options->platform_uuid == "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f");
    for (std::string bad : { "uuid=nope", "serial_number=1", "uuid=" }) {
        auto refused = parse({ "--platform", bad });
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().status == 64);
        CHECK(refused.error().text.find("--platform") != std::string::npos);
    }

    auto restore = parse({ "--owner-key", "file=/k", "--restore", "source_url=file:///s,prefault=on,resume=true,generation=7", "--serial", "off" });
    REQUIRE(restore.has_value());
    REQUIRE(restore->restore.has_value());
    CHECK(restore->restore->source_url == "file:///s");
    CHECK(restore->restore->prefault);
    CHECK(restore->restore->resume);
    CHECK(restore->restore->generation == 7u);
    CHECK(restore->serial_given);
    CHECK(parse({ "--owner-key", "file=/k", "--restore", "source_url=file:///s" })->restore->resume == false);

    for (std::vector<std::string> bad : {
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s,prefault=maybe" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s,source_url=file:///t" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "prefault=on" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s,id=x" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s", "--memory", "1G" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s", "--kernel", "/k" },
             std::vector<std::string> { "--owner-key", "file=/k", "--restore", "source_url=file:///s", "--disk", "path=/d" } }) {
        auto refused = parse(bad);
        INFO(fmt::format("{}", fmt::join(bad, " ")));
        REQUIRE_FALSE(refused.has_value());
        CHECK(refused.error().status == 64);
        CHECK(refused.error().text.find("--restore") != std::string::npos);
    }
}

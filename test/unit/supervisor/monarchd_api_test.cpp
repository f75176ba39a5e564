// SPDX-License-Identifier: Apache-2.0
// monarchd beyond monarchctl's happy paths: one monarchd per state directory, VMMs that died
// while no monarchd ran, and malformed requests on the management API (answered, the daemon
// unharmed).
#include "daemon_fixture.h"
#include "http/http_client.h"
#include "common/size_parse.h"
#include "supervisor/state_dir.h"

#include <catch2/catch.hpp>
#include <csignal>

using namespace monarch::test;
using monarch::http::HttpClient;
using monarch::http::Method;
using nlohmann::json;

TEST_CASE("a second monarchd on the same state directory refuses to start", "[unit][monarchd]")
{
    DaemonFixture daemon;
    daemon.start();
    auto const second = run_process({ MONARCHD, "--state-dir", daemon.state_dir(), "--socket", daemon.dir() + "/other.sock",
                                        "--log-file", "-", "--vmm", MONARCH_VMM },
        { .timeout = std::chrono::seconds(30) });
    INFO(describe(second));
    REQUIRE(second.exited);
    CHECK(second.exit_code == 75);
    CHECK(second.output.find("another monarchd") != std::string::npos);
}

TEST_CASE("VMMs that died while no monarchd ran are restarted by policy at the next start", "[unit][monarchd]")
{
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("back", { "--restart", "on-failure" });
    daemon.create_vm("gone", { "--restart", "never" });
    pid_t const back = pid_of(daemon.ctl_json({ "info", "back" }));
    pid_t const gone = pid_of(daemon.ctl_json({ "info", "gone" }));
    daemon.kill_daemon();
    REQUIRE(signal_vmm(back, SIGKILL));
    REQUIRE(signal_vmm(gone, SIGKILL));
    REQUIRE(eventually([&] { return !process_alive(back) && !process_alive(gone); }, 10));
    daemon.start();

    CHECK(eventually([&] {
        json const vm = daemon.ctl_json({ "info", "back" });
        return pid_of(vm) > 0 && pid_of(vm) != back && vm["state"] == "created";
    }));
    json const crashed = daemon.ctl_json({ "info", "gone" });
    CHECK(crashed["state"] == "crashed");
    CHECK(crashed["pid"].is_null());
    CHECK(crashed["last_exit"] == "exited while monarchd was not running");
}

TEST_CASE("malformed management requests get 4xx answers and leave monarchd serving", "[unit][monarchd]")
{
    DaemonFixture daemon;
    daemon.start();
    auto client = HttpClient::connect(daemon.socket(), std::chrono::seconds(10));
    REQUIRE(client);
    struct Case {
        Method method;
        char const* target;
        char const* body;
        unsigned status;
    };
    for (auto const& c : { Case { Method::Post, "/api/v1/vms", "{not json", 400 },
             Case { Method::Post, "/api/v1/vms", "[]", 400 },
             Case { Method::Post, "/api/v1/vms", R"({"name":"x","kernel":"/k","extra":1})", 400 },
             Case { Method::Delete, "/api/v1/vms", "", 405 },
             Case { Method::Get, "/api/v1/vms/x/start", "", 405 },
             Case { Method::Put, "/api/v1/vms/x/explode", "", 404 },
             Case { Method::Get, "/api/v1/vms/..%2fetc", "", 404 },
             Case { Method::Get, "/api/v2/vms", "", 404 },
             Case { Method::Put, "/api/v1/vms/x/stop", R"({"timeout":-1})", 400 },
             Case { Method::Get, "/api/v1/vms/x/log?bytes=abc", "", 400 } }) {
        auto answer = client->request(c.method, c.target, c.body);
        INFO(c.target << " " << c.body);
        REQUIRE(answer);
        CHECK(answer->status == c.status);
        auto const body = json::parse(answer->body, nullptr, false);
        REQUIRE(body.is_object());
        CHECK(body["error"].is_string());
    }
    auto ping = client->request(Method::Get, "/api/v1/ping");
    REQUIRE(ping);
    CHECK(ping->status == 200);
    CHECK(monarch::supervisor::StateDir::open(daemon.state_dir())->list_vms()->empty());
}

TEST_CASE("monarchctl --memory and a definition's memory read sizes as monarch-vmm's --memory does", "[unit][monarchd]")
{
    DaemonFixture daemon;
    daemon.start();
    // A bare number is MiB, as `monarch-vmm --memory 64`; the VMM is told the same bytes.
    auto const made = daemon.ctl({ "create", "bare", "--kernel", TESTOS, "--memory", "48" });
    INFO(describe(made));
    REQUIRE(made.exited);
    REQUIRE(made.exit_code == 0);
    json const bare = daemon.ctl_json({ "info", "bare" });
    CHECK(bare["memory"] == 48ULL << 20);
    auto const parsed = monarch::parse_size("48");
    REQUIRE(parsed);
    CHECK(bare["memory"] == *parsed);
    CHECK(bare["definition"]["memory"] == 48ULL << 20);
    // In a definition file a JSON number is bytes (Cloud Hypervisor's memory.size), a string a size.
    std::string const file = daemon.dir() + "/vm.json";
    REQUIRE(monarch::supervisor::write_file_atomically(file,
        R"({"name":"bytes","memory":33554432,"kernel":")" + std::string(TESTOS) + R"("})"));
    auto const created = daemon.ctl({ "create", "--from-file", file });
    INFO(describe(created));
    REQUIRE(created.exited);
    CHECK(created.exit_code == 0);
    CHECK(daemon.ctl_json({ "info", "bytes" })["memory"] == 32ULL << 20);
    // What the VMM itself received (its vm.info config) is the same size.
    auto vmm = HttpClient::connect(daemon.state_dir() + "/vms/bytes/api.sock", std::chrono::seconds(10));
    REQUIRE(vmm);
    auto info = vmm->request(Method::Get, "/api/v1/vm.info");
    REQUIRE(info);
    CHECK(json::parse(info->body, nullptr, false)["config"]["memory"]["size"] == 32ULL << 20);
    // A size monarch-vmm would refuse as a size is refused here too (usage, nothing kept).
    auto const bad = daemon.ctl({ "create", "bad", "--kernel", TESTOS, "--memory", "64X" });
    REQUIRE(bad.exited);
    CHECK(bad.exit_code == 2);
}

// SPDX-License-Identifier: Apache-2.0
// monarchd's ordered stop of a VMM that answers nothing and ignores SIGTERM (a stopped
// process): the stop runs on monarchd's event loop without waiting, so the management API and
// the other VMs are served at once all along, and SIGKILL ends the VMM in the end.
#include "daemon_fixture.h"
#include "http/http_client.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <thread>

using namespace monarch::test;
using monarch::http::HttpClient;
using monarch::http::Method;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

// One request on a fresh connection: its answer and how long monarchd took.
std::pair<unsigned, double> timed(std::string const& socket, Method method, std::string const& target, std::string const& body = {})
{
    auto const began = Clock::now();
    auto client = HttpClient::connect(socket, std::chrono::seconds(30));
    REQUIRE(client);
    auto answer = client->request(method, target, body);
    REQUIRE(answer);
    return { answer->status, std::chrono::duration<double>(Clock::now() - began).count() };
}

} // namespace

TEST_CASE("a hung VMM that ignores SIGTERM is stopped without stalling the API or the other VMs", "[unit][monarchd]")
{
    if (!std::filesystem::exists(TESTOS))
        FAIL("the test guest is not built: " << TESTOS);
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("hung");
    daemon.create_vm("fine");
    pid_t const hung = pid_of(daemon.ctl_json({ "info", "hung" }));
    pid_t const fine = pid_of(daemon.ctl_json({ "info", "fine" }));
    REQUIRE(hung > 0);
    REQUIRE(fine > 0);
    // Stopped: its socket still accepts connections (the kernel queues them) but nothing
    // answers, and SIGTERM stays pending; only SIGKILL ends it.
    REQUIRE(signal_vmm(hung, SIGSTOP));

    // With a 5 s timeout, each of vm.shutdown and vmm.shutdown may wait 2 s for an answer:
    // a monarchd that waited would hold this request, and every other one, that long.
    auto const [stop_status, stop_seconds] = timed(daemon.socket(), Method::Put, "/api/v1/vms/hung/stop", R"({"timeout":5})");
    CHECK(stop_status == 202);
    CHECK(stop_seconds < 1.5); // a waiting monarchd: 4 s
    auto const until = Clock::now() + std::chrono::seconds(5);
    int answered = 0;
    while (Clock::now() < until) {
        auto const [info_status, info_seconds] = timed(daemon.socket(), Method::Get, "/api/v1/vms/fine");
        CHECK(info_status == 200);
        CHECK(info_seconds < 1.5); // vm.info of the other VM: its VMM answers at once
        auto const [list_status, list_seconds] = timed(daemon.socket(), Method::Get, "/api/v1/vms");
        CHECK(list_status == 200);
        CHECK(list_seconds < 1.5);
        ++answered;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    CHECK(answered >= 5);
    CHECK(daemon.ctl_json({ "info", "hung" })["state"] == "stopping");

    // SIGTERM 5 s after the calls gave up, SIGKILL 5 s later: the VMM is gone and the VM stopped.
    json vm;
    CHECK(eventually([&] {
        vm = daemon.ctl_json({ "info", "hung" });
        return vm["state"] == "stopped";
    }, 30));
    CHECK(vm["pid"].is_null());
    CHECK(vm["last_exit"] == "killed by signal 9");
    CHECK_FALSE(process_alive(hung));
    auto const events = daemon.events();
    CHECK(count_of(events, "\"signal\":\"SIGTERM\"") == 1);
    CHECK(count_of(events, "\"signal\":\"SIGKILL\"") == 1);
    CHECK(count_of(events, "\"endpoint\":\"vm.shutdown\"") == 1); // the unanswered calls are logged
    CHECK(count_of(events, "\"endpoint\":\"vmm.shutdown\"") == 1);

    // The other VM was never touched.
    json const other = daemon.ctl_json({ "info", "fine" });
    CHECK(other["state"] == "created");
    CHECK(pid_of(other) == fine);
    CHECK(process_alive(fine));
}

TEST_CASE("a forced stop of a hung VMM ends it by SIGKILL a second after SIGTERM", "[unit][monarchd]")
{
    if (!std::filesystem::exists(TESTOS))
        FAIL("the test guest is not built: " << TESTOS);
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("frozen");
    pid_t const pid = pid_of(daemon.ctl_json({ "info", "frozen" }));
    REQUIRE(signal_vmm(pid, SIGSTOP));
    auto const began = Clock::now();
    auto const result = daemon.ctl({ "stop", "frozen", "--force" });
    INFO(describe(result));
    CHECK(result.exited);
    CHECK(result.exit_code == 0);
    auto const seconds = std::chrono::duration<double>(Clock::now() - began).count();
    CHECK(seconds >= 0.9);  // SIGTERM is ignored; SIGKILL waits its second
    CHECK(seconds < 10.0);
    CHECK_FALSE(process_alive(pid));
    CHECK(daemon.ctl_json({ "info", "frozen" })["last_exit"] == "killed by signal 9");
}

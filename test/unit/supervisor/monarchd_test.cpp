// SPDX-License-Identifier: Apache-2.0
// monarchd and monarchctl with real monarch-vmm processes. Without /dev/kvm a VM cannot boot,
// but its VMM runs and answers in state Created, which is enough for every lifecycle the
// supervisor owns: create, list, info, delete, start (the VMM's error surfaced), stop in
// order, monarchd's own restart (adoption), restart policies, leaks and permissions.
#include "daemon_fixture.h"
#include "support/skip.h"
#include "supervisor/state_dir.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <sys/stat.h>

using namespace monarch::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int EXIT_USAGE = 2;
constexpr int EXIT_UNREACHABLE = 3;
constexpr int EXIT_NOT_FOUND = 4;
constexpr int EXIT_REFUSED = 5;
constexpr int EXIT_VMM_ERROR = 6;
constexpr int EXIT_PERMISSION = 7;

void require_testos()
{
    if (!fs::exists(TESTOS))
        FAIL("the test guest is not built: " << TESTOS);
}

int exit_code(ProcessResult const& result)
{
    INFO(describe(result));
    REQUIRE(result.exited);
    return result.exit_code;
}

std::string comm_of(pid_t pid)
{
    auto text = monarch::supervisor::read_text_file("/proc/" + std::to_string(pid) + "/comm");
    return text ? text->substr(0, text->find('\n')) : std::string();
}

} // namespace

TEST_CASE("create list info logs and delete run a real monarch-vmm per VM", "[unit][monarchd]")
{
    require_testos();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("alpha", { "--cpus", "2" });

    json const vm = daemon.ctl_json({ "info", "alpha" });
    REQUIRE(vm.is_object());
    CHECK(vm["state"] == "created");
    CHECK(vm["cpus"] == 2);
    CHECK(vm["memory"] == 64 << 20);
    pid_t const pid = pid_of(vm);
    REQUIRE(pid > 0);
    CHECK(process_alive(pid));
    CHECK(comm_of(pid) == "monarch-vmm");
    CHECK(fs::exists(daemon.state_dir() + "/vms/alpha/definition.json"));
    CHECK(fs::exists(daemon.state_dir() + "/vms/alpha/api.sock"));

    json const list = daemon.ctl_json({ "list" });
    REQUIRE(list.is_array());
    REQUIRE(list.size() == 1);
    CHECK(list[0]["name"] == "alpha");
    CHECK(pid_of(list[0]) == pid);
    auto const table = daemon.ctl({ "list" });
    CHECK(table.output.find("alpha") != std::string::npos);
    CHECK(exit_code(daemon.ctl({ "logs", "alpha" })) == 0);

    CHECK(exit_code(daemon.ctl({ "delete", "alpha" })) == 0);
    CHECK(eventually([&] { return !process_alive(pid); }, 10));
    CHECK_FALSE(fs::exists(daemon.state_dir() + "/vms/alpha"));
    CHECK(exit_code(daemon.ctl({ "info", "alpha" })) == EXIT_NOT_FOUND);
    auto const events = daemon.events();
    CHECK(events.find("\"event\":\"request\"") != std::string::npos);
    CHECK(events.find("\"event\":\"vm.state\"") != std::string::npos);
}

TEST_CASE("start without KVM reports the VMM's own error and leaves the VMM in Created", "[unit][monarchd]")
{
    require_testos();
    if (kvm_unavailable_reason().empty())
        skip("/dev/kvm is usable here: the boot succeeds (test/kvm/supervisor covers it)");
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("nokvm");
    pid_t const pid = pid_of(daemon.ctl_json({ "info", "nokvm" }));
    auto const result = daemon.ctl({ "start", "nokvm" });
    CHECK(exit_code(result) == EXIT_VMM_ERROR);
    // The VMM's message (what it said about vm.boot) reaches the user; it is logged too.
    CHECK(result.output.find("vm.boot") != std::string::npos);
    auto const events = daemon.events();
    auto const at = events.find("\"event\":\"vmm.error\"");
    REQUIRE(at != std::string::npos);
    auto const line = json::parse(events.substr(events.rfind('\n', at) + 1, events.find('\n', at) - events.rfind('\n', at) - 1));
    std::string const vmm_message = line["message"];
    CHECK_FALSE(vmm_message.empty());
    CHECK(result.output.find(vmm_message) != std::string::npos);
    json const vm = daemon.ctl_json({ "info", "nokvm" });
    CHECK(vm["state"] == "created");
    CHECK(pid_of(vm) == pid);
    CHECK(process_alive(pid));
    // The VMM's stderr went to its log, which monarchctl logs shows.
    auto const logs = daemon.ctl({ "logs", "nokvm" });
    CHECK(exit_code(logs) == 0);
    CHECK(logs.output.find("vm.boot") != std::string::npos);
    // Not booted: no serial pty yet, so console is refused.
    CHECK(exit_code(daemon.ctl({ "console", "nokvm" })) == EXIT_REFUSED);
}

TEST_CASE("refused transitions and unknown VMs and bad definitions have their own exit statuses", "[unit][monarchd]")
{
    require_testos();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("idle");
    CHECK(exit_code(daemon.ctl({ "pause", "idle" })) == EXIT_REFUSED);
    CHECK(exit_code(daemon.ctl({ "resume", "idle" })) == EXIT_REFUSED);
    CHECK(exit_code(daemon.ctl({ "create", "idle", "--kernel", TESTOS })) == EXIT_REFUSED);
    CHECK(exit_code(daemon.ctl({ "info", "ghost" })) == EXIT_NOT_FOUND);
    CHECK(exit_code(daemon.ctl({ "stop", "ghost" })) == EXIT_NOT_FOUND);
    CHECK(exit_code(daemon.ctl({ "create", "bad", "--memory", "12X" })) == EXIT_USAGE);
    CHECK(exit_code(daemon.ctl({ "create", "bad", "--restart", "always" })) == EXIT_USAGE);
    CHECK(exit_code(daemon.ctl({ "frobnicate" })) == EXIT_USAGE);
    std::string const file = daemon.dir() + "/vm.json";
    REQUIRE(monarch::supervisor::write_file_atomically(file, R"({"name":"fromfile","memory":"64M","colour":"red"})"));
    auto const unknown = daemon.ctl({ "create", "--from-file", file });
    CHECK(exit_code(unknown) == EXIT_USAGE);
    CHECK(unknown.output.find("colour") != std::string::npos);
    CHECK_FALSE(fs::exists(daemon.state_dir() + "/vms/bad"));
    CHECK_FALSE(fs::exists(daemon.state_dir() + "/vms/fromfile"));

    // Stopped: the VMM exits in order (vmm.shutdown), then a second stop is refused.
    pid_t const pid = pid_of(daemon.ctl_json({ "info", "idle" }));
    CHECK(exit_code(daemon.ctl({ "stop", "idle", "--timeout", "5" })) == 0);
    CHECK_FALSE(process_alive(pid));
    json const stopped = daemon.ctl_json({ "info", "idle" });
    CHECK(stopped["state"] == "stopped");
    CHECK(stopped["pid"].is_null());
    CHECK(exit_code(daemon.ctl({ "stop", "idle" })) == EXIT_REFUSED);
    CHECK(count_of(daemon.events(), "\"event\":\"vmm.signal\"") == 0); // no signal was needed
}

TEST_CASE("monarchctl without a daemon exits with the unreachable status", "[unit][monarchd]")
{
    DaemonFixture daemon; // not started
    auto const result = daemon.ctl({ "list" });
    CHECK(exit_code(result) == EXIT_UNREACHABLE);
    CHECK(result.output.find(daemon.socket()) != std::string::npos);
}

TEST_CASE("kill -9 of monarchd: a new monarchd adopts the running VMMs and starts none twice", "[unit][monarchd]")
{
    require_testos();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("one");
    daemon.create_vm("two", { "--restart", "on-failure" });
    pid_t const one = pid_of(daemon.ctl_json({ "info", "one" }));
    pid_t const two = pid_of(daemon.ctl_json({ "info", "two" }));
    REQUIRE(one > 0);
    REQUIRE(two > 0);
    auto const spawned_before = count_of(daemon.events(), "\"event\":\"vmm.spawned\"");

    daemon.kill_daemon();
    CHECK(process_alive(one)); // the VMMs outlive monarchd
    CHECK(process_alive(two));
    daemon.start();

    json const list = daemon.ctl_json({ "list" });
    REQUIRE(list.is_array());
    REQUIRE(list.size() == 2);
    for (auto const& vm : list) {
        CHECK(vm["state"] == "created");
        CHECK(pid_of(vm) == (vm["name"] == "one" ? one : two));
    }
    auto const events = daemon.events();
    CHECK(count_of(events, "\"event\":\"vm.adopted\"") == 2);
    CHECK(count_of(events, "\"event\":\"vmm.spawned\"") == spawned_before);

    // The adopted VMMs are still driven through their sockets, and watched through pidfds.
    CHECK(exit_code(daemon.ctl({ "pause", "one" })) == EXIT_REFUSED);
    REQUIRE(signal_vmm(two, SIGKILL));
    CHECK(eventually([&] {
        json const vm = daemon.ctl_json({ "info", "two" });
        return pid_of(vm) > 0 && pid_of(vm) != two && vm["state"] == "created";
    }));
    CHECK(exit_code(daemon.ctl({ "delete", "one" })) == 0);
    CHECK(eventually([&] { return !process_alive(one); }, 10));
}

TEST_CASE("a VMM killed by SIGKILL is restarted under on-failure and not under never", "[unit][monarchd]")
{
    require_testos();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("phoenix", { "--restart", "on-failure" });
    daemon.create_vm("mortal", { "--restart", "never" });
    pid_t const phoenix = pid_of(daemon.ctl_json({ "info", "phoenix" }));
    pid_t const mortal = pid_of(daemon.ctl_json({ "info", "mortal" }));
    REQUIRE(signal_vmm(phoenix, SIGKILL));
    REQUIRE(signal_vmm(mortal, SIGKILL));

    json restarted;
    CHECK(eventually([&] {
        restarted = daemon.ctl_json({ "info", "phoenix" });
        return pid_of(restarted) > 0 && pid_of(restarted) != phoenix && restarted["state"] == "created";
    }));
    CHECK(restarted["restarts"] == 1);
    CHECK(restarted["last_exit"] == "killed by signal 9");
    CHECK(process_alive(pid_of(restarted)));

    json const crashed = daemon.ctl_json({ "info", "mortal" });
    CHECK(crashed["state"] == "crashed");
    CHECK(crashed["pid"].is_null());
    CHECK(crashed["restarts"] == 0);
    CHECK(crashed["last_exit"] == "killed by signal 9");
}

TEST_CASE("20 VMs of 64 MiB created and deleted in a loop leak no process or fd or socket or file", "[unit][monarchd]")
{
    require_testos();
    DaemonFixture daemon;
    daemon.start();
    // One request first, so that the baseline includes what the API server keeps open.
    REQUIRE(exit_code(daemon.ctl({ "list" })) == 0);
    // monarchd closes a client's connection when it sees the client go: let it settle.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto const fds_before = daemon.daemon_fd_count();
    for (int round = 0; round < 2; ++round) {
        std::vector<pid_t> pids;
        for (int i = 0; i < 20; ++i) {
            std::string const name = "vm" + std::to_string(i);
            daemon.create_vm(name);
            pids.push_back(pid_of(daemon.ctl_json({ "info", name })));
        }
        json const list = daemon.ctl_json({ "list" });
        REQUIRE(list.size() == 20);
        for (pid_t pid : pids)
            CHECK(process_alive(pid));
        for (int i = 0; i < 20; ++i)
            REQUIRE(exit_code(daemon.ctl({ "delete", "vm" + std::to_string(i) })) == 0);
        for (pid_t pid : pids)
            CHECK(eventually([&] { return !process_alive(pid); }, 10));
        CHECK(fs::is_empty(daemon.state_dir() + "/vms"));
        CHECK(daemon.ctl_json({ "list" }).size() == 0);
        CHECK(eventually([&] { return daemon.daemon_fd_count() == fds_before; }, 5));
        INFO("monarchd fds before " << fds_before << ", after " << daemon.daemon_fd_count());
        CHECK(daemon.daemon_fd_count() == fds_before);
    }
}

TEST_CASE("a user outside monarchd's group is refused by SO_PEERCRED and a member admitted", "[unit][monarchd]")
{
    require_program("setpriv");
    if (::geteuid() != 0)
        skip("needs root to run monarchctl as 'nobody'");
    DaemonFixture daemon;
    // Everyone may reach the socket by file modes, so only monarchd's own check can refuse.
    REQUIRE(::chmod(daemon.dir().c_str(), 0755) == 0);
    daemon.start({ "--group", "monarch-test-no-such-group" });
    REQUIRE(::chmod(daemon.state_dir().c_str(), 0755) == 0);
    REQUIRE(::chmod(daemon.socket().c_str(), 0666) == 0);
    std::vector<std::string> const as_nobody { "setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups" };
    auto const refused = daemon.ctl({ "list" }, as_nobody);
    CHECK(exit_code(refused) == EXIT_PERMISSION);
    CHECK(refused.output.find("permission denied") != std::string::npos);
    CHECK(daemon.events().find("\"status\":403") != std::string::npos);
    CHECK(exit_code(daemon.ctl({ "list" })) == 0); // root

    // The same user admitted once monarchd's group is one it belongs to (its primary group).
    daemon.stop_daemon();
    daemon.start({ "--group", "nogroup" });
    REQUIRE(::chmod(daemon.socket().c_str(), 0666) == 0);
    CHECK(exit_code(daemon.ctl({ "list" }, as_nobody)) == 0);
}

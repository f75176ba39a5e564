// SPDX-License-Identifier: Apache-2.0
// monarchd with booted guests (needs /dev/kvm): start → running, pause, resume, reboot, the
// serial console through monarchctl, stop in order, and an on-failure restart that boots again.
#include "support/skip.h"
#include "unit/supervisor/daemon_fixture.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>

using namespace monarch::test;
using nlohmann::json;

namespace {

int exit_code(ProcessResult const& result)
{
    INFO(describe(result));
    REQUIRE(result.exited);
    return result.exit_code;
}

} // namespace

TEST_CASE("a booted VM runs and pauses and resumes and reboots, takes the power button and stops through monarchctl", "[kvm][monarchd]")
{
    require_kvm();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("guest", { "--cmdline", "testos.run=idle" });
    REQUIRE(exit_code(daemon.ctl({ "start", "guest" })) == 0);
    json const started = daemon.ctl_json({ "info", "guest" });
    INFO("vmm.log:\n" << daemon.vmm_log("guest") << "\nevents:\n" << daemon.events());
    CHECK(started["state"] == "running");
    CHECK(exit_code(daemon.ctl({ "start", "guest" })) == 5); // already running
    REQUIRE(exit_code(daemon.ctl({ "pause", "guest" })) == 0);
    CHECK(daemon.ctl_json({ "info", "guest" })["state"] == "paused");
    REQUIRE(exit_code(daemon.ctl({ "resume", "guest" })) == 0);
    CHECK(daemon.ctl_json({ "info", "guest" })["state"] == "running");
    CHECK(exit_code(daemon.ctl({ "reboot", "guest" })) == 0);
    // The power button reaches the VMM; testos has no ACPI driver, so it ignores the button
    // and keeps running (a Debian guest powers off: linux_debian's power test).
    CHECK(exit_code(daemon.ctl({ "power-button", "guest" })) == 0);
    CHECK(daemon.ctl_json({ "info", "guest" })["state"] == "running");
    json const vm = daemon.ctl_json({ "info", "guest" });
    CHECK(vm["uptime"].is_number_integer());
    REQUIRE(vm["console"].is_string());
    CHECK(std::filesystem::exists(vm["console"].get<std::string>()));
    // console: stdin at its end detaches at once, with status 0.
    CHECK(exit_code(daemon.ctl({ "console", "guest" })) == 0);
    pid_t const pid = pid_of(vm);
    REQUIRE(exit_code(daemon.ctl({ "stop", "guest", "--timeout", "10" })) == 0);
    CHECK_FALSE(process_alive(pid));
    CHECK(daemon.ctl_json({ "info", "guest" })["state"] == "stopped");
}

TEST_CASE("a running VM whose VMM crashes is restarted and booted again under on-failure", "[kvm][monarchd]")
{
    require_kvm();
    DaemonFixture daemon;
    daemon.start();
    daemon.create_vm("phoenix", { "--restart", "on-failure", "--cmdline", "testos.run=idle" });
    REQUIRE(exit_code(daemon.ctl({ "start", "phoenix" })) == 0);
    INFO("vmm.log:\n" << daemon.vmm_log("phoenix") << "\nevents:\n" << daemon.events());
    pid_t const pid = pid_of(daemon.ctl_json({ "info", "phoenix" }));
    REQUIRE(signal_vmm(pid, SIGKILL));
    CHECK(eventually([&] {
        json const vm = daemon.ctl_json({ "info", "phoenix" });
        return pid_of(vm) > 0 && pid_of(vm) != pid && vm["state"] == "running";
    }));
}

// SPDX-License-Identifier: Apache-2.0
// monarch-vmm running guests on /dev/kvm (label kvm): a minimal PVH guest, and testos's
// workloads (hello, smp, spin, exit, triple-fault, emulation-failure, reset), and SIGTERM.
#include "support/guest_console.h"
#include "support/skip.h"
#include "vmm_process.h"

#include "vmm/exit_status.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <fmt/format.h>
#include <regex>

using namespace monarch::test;
using namespace std::chrono_literals;
namespace exit_status = monarch::vmm::exit_status;

namespace {

std::string require_testos()
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built in this tree (guests/testos)");
    return *testos;
}

ProcessResult run_testos(std::string const& workload, int cpus, std::chrono::milliseconds timeout = 60s)
{
    auto testos = require_testos();
    return run_vmm({ "--kernel", testos, "--cpus", std::to_string(cpus), "--cmdline", "testos.run=" + workload, "--serial", "stdio" }, timeout);
}

size_t count(std::string const& text, std::regex const& pattern)
{
    return static_cast<size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), pattern), std::sregex_iterator()));
}

} // namespace

TEST_CASE("a minimal PVH guest's debug-exit value is the exit status", "[kvm][vmm]")
{
    require_kvm();
    auto kernel = scratch_file("exit42.elf", minimal_pvh_guest(42));
    auto result = run_vmm({ "--kernel", kernel, "--memory", "64M" });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 42);
}

TEST_CASE("testos hello on 1 vCPU prints and exits 0", "[kvm][vmm]")
{
    auto result = run_testos("hello", 1);
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("testos: hello from ring 3") != std::string::npos);
}

TEST_CASE("testos smp on 2 and 4 vCPUs: every CPU reports", "[kvm][vmm]")
{
    for (int cpus : { 2, 4 }) {
        auto result = run_testos("smp", cpus);
        INFO(cpus << " vCPUs: " << describe(result));
        REQUIRE(result.exited);
        CHECK(result.exit_code == 0);
        for (int cpu = 0; cpu < cpus; ++cpu)
            CHECK(count(result.output, std::regex(fmt::format(R"(testos: cpu {} \(apic \d+\) online)", cpu))) == 1);
        CHECK(result.output.find(fmt::format("testos: smp: {} of {} CPUs reported", cpus, cpus)) != std::string::npos);
    }
}

TEST_CASE("testos spin:2 on 1 vCPU: both ring-3 spinners advance", "[kvm][vmm]")
{
    auto result = run_testos("spin:2", 1);
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    // Each spinner's counter is non-zero: the timer preempted the other one.
    CHECK(count(result.output, std::regex(R"(testos: spinner pid \d+ counter [1-9]\d* ticks)")) == 2);
    CHECK(result.output.find("testos: spin: every spinner advanced") != std::string::npos);
}

TEST_CASE("testos exit:N exits with N", "[kvm][vmm]")
{
    for (int status : { 0, 7, 63 }) {
        auto result = run_testos(fmt::format("exit:{}", status), 1);
        INFO(describe(result));
        REQUIRE(result.exited);
        CHECK(result.exit_code == status);
    }
}

TEST_CASE("a triple fault is GuestTripleFault with the registers", "[kvm][vmm]")
{
    auto result = run_testos("triple-fault", 1);
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == exit_status::GuestTripleFault);
    CHECK(std::regex_search(result.output, std::regex("triple fault.*rip=0x[0-9a-f]+ rsp=0x[0-9a-f]+ cr0=0x[0-9a-f]+ cr3=0x[0-9a-f]+ cr4=0x[0-9a-f]+ efer=0x[0-9a-f]+")));
}

TEST_CASE("an emulation failure is GuestEmulationFailure with RIP and the bytes", "[kvm][vmm]")
{
    auto result = run_testos("emulation-failure", 1);
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == exit_status::GuestEmulationFailure);
    // testos jumps to 0xfed00000, where no RAM is: KVM reports the bytes it fetched, and
    // there are none to fetch from MMIO (KVM gives none, on SVM as on VMX).
    CHECK(std::regex_search(result.output, std::regex("rip=0xfed00000: bytes ([0-9a-f]{2}( [0-9a-f]{2})*|unavailable)")));
}

TEST_CASE("a guest reset boots the guest again in the same process, keeping the serial console", "[kvm][vmm]")
{
    auto testos = require_testos();
    auto vmm = GuestConsole::spawn({ vmm_path(), "--kernel", testos, "--cmdline", "testos.run=reset", "--serial", "stdio" });
    REQUIRE(vmm);
    std::string const line = "testos: reset: pulsing the reset line";
    REQUIRE(vmm->wait_for(line, 30s));
    // The second boot prints on the same stdout: the same back end, the same process.
    auto const first = vmm->log().find(line);
    CHECK(vmm->wait_for(line, 30s, first + line.size()));
    CHECK(vmm->running());
    vmm->signal(SIGTERM);
    auto const end = vmm->wait_exit(10s);
    INFO(vmm->log());
    REQUIRE(end);
    CHECK(end->exited);
    CHECK(end->exit_code == exit_status::Signalled);
}

TEST_CASE("with --no-reboot a guest reset ends the VM with status 0", "[kvm][vmm]")
{
    auto testos = require_testos();
    auto result = run_vmm({ "--kernel", testos, "--cmdline", "testos.run=reset", "--serial", "stdio", "--no-reboot" });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == exit_status::Success);
    std::string const line = "testos: reset: pulsing the reset line";
    auto const first = result.output.find(line);
    REQUIRE(first != std::string::npos);
    CHECK(result.output.find(line, first + 1) == std::string::npos);
}

// testos's spin workload ends by itself after 300 ms; pio-bench with 4e9 exits runs for minutes
// and keeps the vCPU going in and out of KVM_RUN, the case where a stop must not be lost.
TEST_CASE("SIGTERM during a long workload stops the VM within 1 s with Signalled", "[kvm][vmm]")
{
    auto testos = require_testos();
    // The shell starts the VMM, lets it run, sends SIGTERM, and times how long it takes to end.
    std::string script = fmt::format(
        "'{}' --kernel '{}' --cmdline testos.run=pio-bench:4000000000 --serial off & pid=$!; sleep 2; "
        "start=$(date +%s%N); kill -TERM $pid; wait $pid; status=$?; end=$(date +%s%N); "
        "echo \"status=$status ms=$(( (end - start) / 1000000 ))\"",
        vmm_path(), testos);
    auto result = run_process({ "sh", "-c", script }, { .timeout = 30s });
    INFO(describe(result));
    std::smatch match;
    REQUIRE(std::regex_search(result.output, match, std::regex(R"(status=(\d+) ms=(\d+))")));
    CHECK(std::stoi(match[1]) == exit_status::Signalled);
    CHECK(std::stoi(match[2]) < 1000);
}

TEST_CASE("monarch-vmm with no options boots the built-in test guest", "[kvm][vmm]")
{
    require_testos();
    auto result = run_vmm({});
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("testos: hello from ring 3") != std::string::npos);
}

TEST_CASE("MONARCH_TESTOS chooses the built-in guest", "[kvm][vmm]")
{
    require_kvm();
    auto guest = scratch_file("exit9.elf", minimal_pvh_guest(9));
    auto result = run_process({ vmm_path(), "--memory", "64M" }, { .timeout = 30s, .extra_environment = { "MONARCH_TESTOS=" + guest } });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 9);
}

TEST_CASE("a guest status above 63 is clamped to 63", "[kvm][vmm]")
{
    require_kvm();
    auto kernel = scratch_file("exit200.elf", minimal_pvh_guest(200));
    auto result = run_vmm({ "--kernel", kernel, "--memory", "64M" });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == exit_status::GuestStatusMax);
}

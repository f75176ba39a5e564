// SPDX-License-Identifier: Apache-2.0
// Power as the stock guest uses it: `reboot` boots it again in the same monarch-vmm process;
// the ACPI power button (the API's vm.power-button) makes systemd shut down cleanly and the VMM
// end with status 0; a panic with --pvpanic ends it with 83.
#include "debian_vm.h"
#include "vmm_process.h"
#include "vmm_api_process.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <csignal>

using namespace monarch::test;

TEST_CASE("reboot in the guest boots it again in the same process, on the same disk", "[linux][power]")
{
    std::string why;
    auto vm = DebianVm::boot({}, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    auto const first_boot = trimmed(vm->run("cat /proc/sys/kernel/random/boot_id"));
    REQUIRE(vm->run("echo before-reboot > /root/mark; sync"));
    size_t const mark = vm->shell().mark();
    REQUIRE(vm->shell().send("reboot\n"));
    REQUIRE(vm->wait_for_login(std::chrono::seconds(240), mark));
    CHECK(vm->vmm().running());
    CHECK(trimmed(vm->run("cat /proc/sys/kernel/random/boot_id")) != first_boot);
    CHECK(trimmed(vm->run("cat /root/mark")) == "before-reboot");
    // SIGTERM keeps its meaning after a reboot: stop now, status 143.
    vm->vmm().signal(SIGTERM);
    auto const end = vm->vmm().wait_exit(std::chrono::seconds(10));
    REQUIRE(end);
    CHECK(end->exit_code == 143);
}

TEST_CASE("the ACPI power button shuts the guest down cleanly and monarch-vmm ends with 0", "[linux][power]")
{
    std::string why;
    std::string const api = scratch_directory() + "/api.sock";
    auto vm = DebianVm::boot({ .extra = { "--api-socket", api } }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    REQUIRE(api_call(api, "PUT", "vm.power-button").status == 204);
    auto const end = vm->vmm().wait_exit(std::chrono::seconds(120));
    REQUIRE(end);
    CHECK(end->exited);
    CHECK(end->exit_code == 0);
    // systemd-logind handled the button: an orderly shutdown to the kernel's last line, with the
    // root file system unmounted cleanly (ext4 marks itself clean only then).
    CHECK(vm->vmm().log().find("reboot: Power down") != std::string::npos);
    auto const state = run_process({ "dumpe2fs", "-h", vm->disk() });
    INFO(describe(state));
    CHECK(state.output.find("Filesystem state:         clean") != std::string::npos);
}

TEST_CASE("a guest panic is reported through pvpanic: monarch-vmm ends with 83 instead of rebooting", "[linux][power]")
{
    std::string why;
    auto vm = DebianVm::boot({ .extra = { "--pvpanic" } }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    // udev bound Linux's pvpanic-pci driver to the device (1b36:0011) by its PCI IDs.
    CHECK(trimmed(vm->run("for d in /sys/bus/pci/devices/*/driver; do basename $(readlink $d); done | grep pvpanic")) == "pvpanic-pci");
    REQUIRE(vm->shell().send("echo c > /proc/sysrq-trigger\n"));
    auto const end = vm->vmm().wait_exit(std::chrono::seconds(60));
    REQUIRE(end);
    CHECK(end->exited);
    CHECK(end->exit_code == 83);
    // The guest's panic=1 timer never fired: no second boot began.
    CHECK(vm->vmm().log().find("Rebooting in") == std::string::npos);
}

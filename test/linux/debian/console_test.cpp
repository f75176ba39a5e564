// SPDX-License-Identifier: Apache-2.0
// Logging in on each console a user can choose: the serial port (ttyS0, on monarch-vmm's
// stdio here) and the virtio console (hvc0, on a Unix socket here, with the serial port off).
#include "debian_vm.h"
#include "vmm_process.h"

#include <catch2/catch.hpp>

using namespace monarch::test;

TEST_CASE("the serial port gives a login on ttyS0", "[linux][console]")
{
    std::string why;
    auto vm = DebianVm::boot({}, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    CHECK(trimmed(vm->run("tty")) == "/dev/ttyS0");
    CHECK(trimmed(vm->run("id -un")) == "root");
}

TEST_CASE("the virtio console gives a login on hvc0", "[linux][console]")
{
    std::string why;
    auto vm = DebianVm::boot({ .console_socket = scratch_directory() + "/console.sock" }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    CHECK(trimmed(vm->run("tty")) == "/dev/hvc0");
    CHECK(trimmed(vm->run("id -un")) == "root");
    // The kernel's console is hvc0 as well; the serial port is off, so nothing reached stdout.
    CHECK(trimmed(vm->run("cat /sys/class/tty/console/active")).find("hvc0") != std::string::npos);
    CHECK(vm->vmm().log().empty());
}

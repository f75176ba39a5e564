// SPDX-License-Identifier: Apache-2.0
// Booting the stock Debian image: through the 64-bit boot protocol (bzImage) and through PVH
// (vmlinux), to a login shell, with what the guest itself reports as the oracle: its CPUs,
// its memory, its PCI and virtio devices and their drivers, its clock and its random numbers.
#include "debian_vm.h"
#include "vmm_process.h"

#include <catch2/catch.hpp>
#include <ctime>
#include <string>

using namespace monarch::test;

TEST_CASE("the bzImage boots Debian to a login with 4 vCPUs, 2 GiB, every virtio device, a clock and random numbers",
    "[linux][boot]")
{
    std::string why;
    std::string const vsock = scratch_directory() + "/vsock.sock";
    auto vm = DebianVm::boot({ .cpus = 4, .memory = "2G",
                                 .extra = { "--rng", "--vsock", "cid=3,socket=" + vsock, "--disk",
                                     "path=" + copy_debian_disk("second.raw") + ",readonly=on" } },
        why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());

    CHECK(trimmed(vm->run("nproc")) == "4");
    auto const kib = std::stoull("0" + trimmed(vm->run("awk '/^MemTotal:/ { print $2 }' /proc/meminfo")));
    // The kernel keeps its own image and reserved areas out of MemTotal: a little below 2 GiB.
    CHECK(kib > 1800ULL * 1024);
    CHECK(kib <= 2048ULL * 1024);

    // virtio-pci IDs (modern: 0x1040 + device type): block 2 (twice), rng 4, vsock 19.
    auto const pci = vm->run("lspci -n");
    REQUIRE(pci);
    CHECK(pci->find("1af4:1042") != std::string::npos);
    CHECK(pci->find("1af4:1044") != std::string::npos);
    CHECK(pci->find("1af4:1053") != std::string::npos);
    // Each virtio device is bound to its driver.
    auto const drivers = trimmed(vm->run("for d in /sys/bus/virtio/devices/*; do basename $(readlink $d/driver); done | sort | tr '\\n' ' '"));
    CHECK(drivers == "virtio_blk virtio_blk virtio_rng vmw_vsock_virtio_transport");

    // The clock: the guest's wall time is the host's (CMOS RTC at boot, kvmclock since).
    auto const guest_time = std::stoll("0" + trimmed(vm->run("date +%s")));
    CHECK(std::llabs(guest_time - static_cast<long long>(std::time(nullptr))) < 10);
    CHECK(trimmed(vm->run("cat /sys/devices/system/clocksource/clocksource0/current_clocksource")) == "kvm-clock");
    // Random numbers from virtio-rng: the kernel's hwrng uses it and gives bytes that vary.
    CHECK(trimmed(vm->run("cat /sys/devices/virtual/misc/hw_random/rng_current")).starts_with("virtio_rng"));
    auto const first = trimmed(vm->run("head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"));
    auto const second = trimmed(vm->run("head -c 16 /dev/hwrng | od -An -tx1 | tr -d ' \\n'"));
    CHECK(first.size() == 32);
    CHECK(first != second);
    // The bzImage came through the 64-bit boot protocol: our loader's type_of_loader (0xff).
    CHECK(trimmed(vm->run("od -An -tx1 -j 528 -N 1 /sys/kernel/boot_params/data")) == "ff");

    REQUIRE(vm->shell().send("poweroff\n"));
    auto const end = vm->vmm().wait_exit(std::chrono::seconds(120));
    REQUIRE(end);
    CHECK(end->exited);
    CHECK(end->exit_code == 0);
}

TEST_CASE("vmlinux boots Debian to a login through PVH", "[linux][boot]")
{
    std::string why;
    auto vm = DebianVm::boot({ .pvh = true, .cpus = 2 }, why);
    INFO(why);
    REQUIRE(vm);
    INFO(vm->report());
    CHECK(trimmed(vm->run("nproc")) == "2");
    // The PVH entry, not the 64-bit boot protocol, started this kernel: Linux's PVH code fills
    // its boot_params itself, type_of_loader 0xb0 outside Xen (arch/x86/platform/pvh); our
    // bzImage loader writes 0xff.
    CHECK(trimmed(vm->run("od -An -tx1 -j 528 -N 1 /sys/kernel/boot_params/data")) == "b0");
    CHECK(trimmed(vm->run("findmnt -n -o SOURCE /")) == "/dev/vda");
}

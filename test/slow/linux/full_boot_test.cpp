// SPDX-License-Identifier: Apache-2.0
// Debian's kernel boots fully on monarch-vmm to a busybox /init, on 1 and 2 vCPUs, and powers
// off through ACPI S5 (exit status 0). Needs hardware virtualization: on PVM hosts the kernel's
// ring-0 code is emulated and hits instructions KVM cannot emulate (docs/monarch-vmm.md).
#include "linux_run.h"

#include "support/skip.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <fstream>

using namespace monarch::test;

namespace {

// An initramfs with busybox as /bin/busybox and an /init that reports the CPU count and powers
// off (busybox poweroff -f: reboot(2) with RB_POWER_OFF, which Linux does through ACPI S5).
std::string build_initramfs()
{
    require_program("busybox");
    require_program("cpio");
    std::string root = scratch_path("initramfs");
    std::string image = scratch_path("initramfs.cpio");
    std::string script = fmt::format(
        "set -e; mkdir -p '{0}/bin' '{0}/proc' '{0}/sys' '{0}/dev'; cp \"$(command -v busybox)\" '{0}/bin/busybox'; "
        "printf '#!/bin/busybox sh\\n/bin/busybox mount -t proc proc /proc\\n"
        "echo \"monarch-init: reached /init with $(/bin/busybox nproc) cpus\"\\n/bin/busybox poweroff -f\\n' > '{0}/init'; "
        "chmod 755 '{0}/init'; cd '{0}' && find . | cpio -o -H newc --quiet > '{1}'",
        root, image);
    auto result = run_process({ "sh", "-c", script });
    INFO(describe(result));
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 0);
    return image;
}

void boot_to_init(int cpus)
{
    require_hardware_kvm();
    auto kernel = linux_kernel_directory() + "/vmlinuz";
    auto initramfs = build_initramfs();
    std::string expected = fmt::format("monarch-init: reached /init with {} cpus", cpus);
    auto run = run_until({ "--kernel", kernel, "--initrd", initramfs, "--memory", "512M", "--cpus", std::to_string(cpus),
                             "--cmdline", "console=ttyS0 reboot=k panic=-1 rdinit=/init" },
        [&](std::string const& console) { return console.find(expected) != std::string::npos; }, std::chrono::seconds(240));
    INFO(run.console);
    CHECK(run.satisfied);
}

} // namespace

TEST_CASE("Linux boots to a busybox /init on 1 vCPU", "[slow][hw][linux]")
{
    boot_to_init(1);
}

TEST_CASE("Linux boots to a busybox /init on 2 vCPUs", "[slow][hw][linux]")
{
    boot_to_init(2);
}

// SPDX-License-Identifier: Apache-2.0
// monarch-vmm refuses bad input with one clear line and a distinct exit status, before it needs
// /dev/kvm: these run on every host (label unit). Each runs the real program as a subprocess.
#include "support/skip.h"
#include "vmm_process.h"

#include "vmm/exit_status.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace monarch::test;
namespace exit_status = monarch::vmm::exit_status;

namespace {

// The whole output is one "monarch-vmm: error: ..." line containing every one of `needles`.
void require_one_error_line(ProcessResult const& result, int status, std::vector<std::string> const& needles)
{
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == status);
    auto lines = error_lines(result.output);
    REQUIRE(lines.size() == 1);
    CHECK(result.output == lines[0] + "\n");
    for (auto const& needle : needles)
        CHECK(lines[0].find(needle) != std::string::npos);
}

std::string text_file() { return scratch_file("notes.txt", { 'h', 'e', 'l', 'l', 'o', '\n' }); }

} // namespace

TEST_CASE("monarch-vmm --version prints the program and its version", "[unit][vmm]")
{
    auto result = run_vmm({ "--version" });
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(result.output == std::string("monarch-vmm ") + MONARCH_VERSION + "\n");
}

TEST_CASE("monarch-vmm --help teaches the options and ends with examples", "[unit][vmm]")
{
    auto result = run_vmm({ "--help" });
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    for (char const* text : { "--kernel", "--initrd", "--cmdline", "--memory", "--cpus", "--serial", "--log-level", "Examples:" })
        CHECK(result.output.find(text) != std::string::npos);
}

TEST_CASE("a missing kernel is NoInput naming the path", "[unit][vmm]")
{
    std::string path = scratch_directory() + "/no-such-kernel";
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::NoInput, { path, "No such file" });
}

TEST_CASE("a directory given as kernel is NoInput", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--kernel", scratch_directory() }), exit_status::NoInput, { scratch_directory() });
}

TEST_CASE("an unreadable kernel is NoInput", "[unit][vmm]")
{
    if (::geteuid() == 0)
        skip("running as root, which reads a mode-000 file anyway (the directory case covers an unreadable path)");
    std::string path = scratch_file("locked.elf", minimal_pvh_guest(0));
    REQUIRE(::chmod(path.c_str(), 0) == 0);
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::NoInput, { path, "Permission denied" });
}

TEST_CASE("a text file given as kernel is BadImage", "[unit][vmm]")
{
    auto path = text_file();
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::BadImage, { path, "neither" });
}

TEST_CASE("an empty kernel file is BadImage", "[unit][vmm]")
{
    auto path = scratch_file("empty.elf", {});
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::BadImage, { path });
}

TEST_CASE("a truncated ELF kernel is BadImage", "[unit][vmm]")
{
    auto image = minimal_pvh_guest(0);
    image.resize(100); // inside the program header table
    auto path = scratch_file("truncated.elf", image);
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::BadImage, { path, "ELF" });
}

TEST_CASE("a truncated testos.elf is BadImage", "[unit][vmm]")
{
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built in this tree (guests/testos)");
    std::vector<uint8_t> bytes(4096);
    int fd = ::open(testos->c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto count = ::read(fd, bytes.data(), bytes.size());
    ::close(fd);
    REQUIRE(count > 64);
    bytes.resize(static_cast<size_t>(count) / 2);
    auto path = scratch_file("testos-truncated.elf", bytes);
    require_one_error_line(run_vmm({ "--kernel", path }), exit_status::BadImage, { path });
}

TEST_CASE("an initrd larger than guest RAM is Config", "[unit][vmm]")
{
    auto kernel = scratch_file("guest.elf", minimal_pvh_guest(0));
    std::string initrd = scratch_directory() + "/huge.initrd";
    int fd = ::open(initrd.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, 64LL << 20) == 0); // sparse: costs no disk
    ::close(fd);
    require_one_error_line(run_vmm({ "--kernel", kernel, "--initrd", initrd, "--memory", "32M" }), exit_status::Config,
        { initrd, "--memory" });
}

TEST_CASE("monarch-vmm --memory 0 is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--memory", "0" }), exit_status::Usage, { "--memory", "0" });
}

TEST_CASE("monarch-vmm --memory more than the host has is Config with both sizes", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--memory", "9999T" }), exit_status::Config, { "9999 TiB", "MemTotal" });
}

TEST_CASE("monarch-vmm --memory banana is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--memory", "banana" }), exit_status::Usage, { "--memory", "banana" });
}

TEST_CASE("monarch-vmm --memory below the minimum is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--memory", "4M" }), exit_status::Usage, { "--memory", "16 MiB" });
}

TEST_CASE("monarch-vmm --cpus 0 is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--cpus", "0" }), exit_status::Usage, { "--cpus", "0" });
}

TEST_CASE("monarch-vmm --cpus 100000 is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--cpus", "100000" }), exit_status::Usage, { "--cpus", "100000" });
}

TEST_CASE("monarch-vmm --serial bogus is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--serial", "bogus" }), exit_status::Usage, { "--serial", "bogus" });
}

TEST_CASE("an unknown option is a usage error", "[unit][vmm]")
{
    require_one_error_line(run_vmm({ "--frobnicate" }), exit_status::Usage, { "--frobnicate" });
}

TEST_CASE("without /dev/kvm a valid guest fails with KvmUnavailable", "[unit][vmm]")
{
    if (kvm_unavailable_reason().empty())
        skip("this host has a usable /dev/kvm; the kvm-labelled tests run the guest instead");
    if (::access("/dev/kvm", F_OK) == 0)
        skip("/dev/kvm exists but cannot be opened here: that is the permission case, not this one");
    auto kernel = scratch_file("guest.elf", minimal_pvh_guest(0));
    require_one_error_line(run_vmm({ "--kernel", kernel }), exit_status::KvmUnavailable, { "/dev/kvm", "KVM is not available" });
}

// Device back ends are opened before /dev/kvm, so their errors are the same on every host.
TEST_CASE("a missing disk image is NoInput naming the --disk option and the path", "[unit][vmm][virtio]")
{
    std::string path = scratch_directory() + "/no-such-disk.img";
    require_one_error_line(run_vmm({ "--kernel", scratch_file("guest.elf", minimal_pvh_guest(0)), "--disk", "path=" + path }),
        exit_status::NoInput, { "--disk path=" + path });
}

TEST_CASE("a disk image shorter than a sector is a Config error", "[unit][vmm][virtio]")
{
    std::string path = scratch_file("short.img", { 'x' });
    require_one_error_line(run_vmm({ "--kernel", scratch_file("guest.elf", minimal_pvh_guest(0)), "--disk", "path=" + path }),
        exit_status::Config, { "--disk path=" + path });
}

TEST_CASE("a vsock socket path that already exists cannot be created", "[unit][vmm][virtio]")
{
    std::string path = scratch_file("taken.sock", { 'x' });
    require_one_error_line(run_vmm({ "--kernel", scratch_file("guest.elf", minimal_pvh_guest(0)), "--vsock", "cid=3,socket=" + path }),
        exit_status::CannotCreate, { "--vsock cid=3,socket=" + path });
}

TEST_CASE("the virtio console and the serial port cannot both take stdio (usage error)", "[unit][vmm][virtio]")
{
    require_one_error_line(run_vmm({ "--console", "stdio", "--serial", "stdio" }), exit_status::Usage, { "--console stdio", "--serial stdio" });
}

TEST_CASE("a transport other than pci or mmio is a usage error naming the option", "[unit][vmm][virtio]")
{
    require_one_error_line(run_vmm({ "--disk", "path=/d.img,transport=virtio" }), exit_status::Usage, { "--disk", "transport", "'virtio'" });
    require_one_error_line(run_vmm({ "--console", "pty,transport=isa" }), exit_status::Usage, { "--console", "transport", "'isa'" });
}

TEST_CASE("more transport=mmio devices than the virtio-mmio window has slots is a usage error", "[unit][vmm][virtio]")
{
    std::vector<std::string> args;
    for (int index = 0; index < 10; ++index) {
        args.push_back("--disk");
        args.push_back("path=/d" + std::to_string(index) + ".img,transport=mmio");
    }
    require_one_error_line(run_vmm(args), exit_status::Usage, { "transport", "10 devices ask for mmio", "9 slots" });
}

// SPDX-License-Identifier: Apache-2.0
// The whole virsh walk on a booting guest (Debian's kernel and the busybox initramfs of
// scripts/make-linux-guest): start, dominfo, the console, suspend, resume, reboot, destroy
// after a flushed disk write, start again, shutdown, destroy, undefine; each step checked
// against monarch-vmm's own vm.info. Needs /dev/kvm with hardware virtualization (a stock
// Linux guest): skips without it, with the reason.
#include "domain_xml.h"
#include "libvirt_ch.h"
#include "support/skip.h"
#include "support/subprocess.h"
#include "vmm_api.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <fcntl.h>
#include <poll.h>
#include <regex>
#include <termios.h>
#include <thread>
#include <unistd.h>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

// The guest's serial console, opened where libvirt says it is (the pty monarch-vmm reported in
// vm.info's config.serial.file), in raw mode so that nothing is echoed back into the guest.
class Console {
public:
    explicit Console(std::string const& path)
        : m_fd(::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC))
    {
        REQUIRE(m_fd >= 0);
        termios mode {};
        REQUIRE(::tcgetattr(m_fd, &mode) == 0);
        ::cfmakeraw(&mode);
        REQUIRE(::tcsetattr(m_fd, TCSANOW, &mode) == 0);
    }
    ~Console() { ::close(m_fd); }
    Console(Console const&) = delete;
    Console& operator=(Console const&) = delete;

    void send(std::string const& text) { REQUIRE(::write(m_fd, text.data(), text.size()) == ssize_t(text.size())); }

    // Reads until `marker` appears in what arrived since the last wait; false after `timeout`.
    bool wait_for(std::string const& marker, std::chrono::seconds timeout)
    {
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        while (m_seen.find(marker) == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline)
                return false;
            pollfd ready { m_fd, POLLIN, 0 };
            if (::poll(&ready, 1, 200) <= 0)
                continue;
            char buffer[4096];
            auto n = ::read(m_fd, buffer, sizeof buffer);
            if (n > 0)
                m_seen.append(buffer, static_cast<size_t>(n));
        }
        m_seen.erase(0, m_seen.find(marker) + marker.size());
        return true;
    }

    // Runs a shell command in the guest and waits for its marker, which the shell computes
    // (so the typed command line itself never matches). Typed again every 5 s: input that
    // arrives before the guest's shell has opened its tty is dropped by the UART driver.
    bool run(std::string const& command, int tag, std::chrono::seconds timeout = 60s)
    {
        auto const marker = std::to_string(tag * 1000 + 1) + "-done";
        auto const deadline = std::chrono::steady_clock::now() + timeout;
        do {
            send(command + "; echo $((" + std::to_string(tag) + " * 1000 + 1))-done\n");
            if (wait_for(marker, 5s))
                return true;
        } while (std::chrono::steady_clock::now() < deadline);
        return false;
    }

private:
    int m_fd;
    std::string m_seen;
};

std::string state_of(Virtchd const& daemon, std::string const& name)
{
    auto state = daemon.virsh({ "domstate", name });
    INFO(describe(state));
    REQUIRE(state.exit_code == 0);
    auto text = state.output;
    text.erase(text.find_last_not_of("\n ") + 1);
    return text;
}

void virsh_ok(Virtchd const& daemon, std::vector<std::string> const& arguments)
{
    auto result = daemon.virsh(arguments);
    INFO(describe(result));
    REQUIRE(result.exit_code == 0);
}

std::string serial_pty(Virtchd const& daemon, std::string const& name)
{
    auto xml = daemon.virsh({ "dumpxml", name });
    std::smatch path;
    INFO(describe(xml));
    REQUIRE(std::regex_search(xml.output, path, std::regex(R"(<serial type='pty'>\s*<source path='([^']+)')")));
    return path[1];
}

} // namespace

TEST_CASE("virsh walks a Linux guest on monarch-vmm from start to destroy and undefine", "[libvirt]")
{
    require_kvm();
    // The guest is Debian's stock kernel: its ring 0 cannot run on KVM's PVM back end
    // (README, Host requirements), only with hardware virtualization.
    require_hardware_kvm();
    auto guest = run_process({ MONARCH_SOURCE_DIR "/scripts/make-linux-guest" }, { .timeout = std::chrono::minutes(10) });
    INFO(describe(guest));
    REQUIRE(guest.exit_code == 0);
    std::string guest_dir = guest.output.substr(0, guest.output.find_last_not_of("\n") + 1);
    guest_dir = guest_dir.substr(guest_dir.rfind('\n') + 1);

    Virtchd daemon;
    TemporaryDirectory files;
    DomainSpec const spec {
        .name = "monarch-walk-" + std::to_string(::getpid()),
        .kernel = guest_dir + "/vmlinuz",
        .initrd = guest_dir + "/initramfs.cpio.gz",
        .cmdline = "console=ttyS0 monarch.spinners=0 panic=-1",
        .disk = (files.path() / "disk.raw").string(),
        .memory_mib = 256,
        .vcpus = 2,
        .pty = PtyDevice::Serial,
    };
    write_text_file(spec.disk, std::string(1 << 20, '\0'));
    write_text_file(files.path() / "domain.xml", domain_xml(spec));
    virsh_ok(daemon, { "define", (files.path() / "domain.xml").string() });
    auto const socket = daemon.api_socket(spec.name);

    virsh_ok(daemon, { "start", spec.name });
    CHECK(state_of(daemon, spec.name) == "running");
    CHECK(vm_info_state(socket) == "Running");
    CHECK(daemon.children().size() == 1);

    Console console(serial_pty(daemon, spec.name));
    REQUIRE(console.run("true", 1, 180s));

    virsh_ok(daemon, { "suspend", spec.name });
    CHECK(state_of(daemon, spec.name) == "paused");
    CHECK(vm_info_state(socket) == "Paused");
    virsh_ok(daemon, { "resume", spec.name });
    CHECK(state_of(daemon, spec.name) == "running");
    CHECK(vm_info_state(socket) == "Running");
    REQUIRE(console.run("true", 2));

    virsh_ok(daemon, { "reboot", spec.name });
    REQUIRE(console.wait_for("MONARCH-GUEST-READY", 180s));
    CHECK(vm_info_state(socket) == "Running");

    // destroy is SIGTERM, then SIGKILL 10 ms later: what the guest had flushed must be on disk.
    REQUIRE(console.run("printf monarch-disk-check | dd of=/dev/vda conv=fsync 2>/dev/null", 3));
    virsh_ok(daemon, { "destroy", spec.name });
    CHECK(state_of(daemon, spec.name) == "shut off");
    CHECK(daemon.children().empty());
    CHECK_FALSE(std::filesystem::exists(socket));
    CHECK(read_text_file(spec.disk).starts_with("monarch-disk-check"));

    // Still defined after destroy (libvirt 9.0 unfixed drops it), and it starts again.
    virsh_ok(daemon, { "start", spec.name });
    Console again(serial_pty(daemon, spec.name));
    REQUIRE(again.run("true", 4, 180s));
    virsh_ok(daemon, { "shutdown", spec.name });
    CHECK(state_of(daemon, spec.name) == "in shutdown");
    // Cloud Hypervisor drops the VM at vm.shutdown and reports its kept config as "Created".
    auto const after_shutdown = vm_info_state(socket);
    CHECK((after_shutdown == "Shutdown" || after_shutdown == "Created"));
    virsh_ok(daemon, { "destroy", spec.name });
    CHECK(daemon.children().empty());
    virsh_ok(daemon, { "undefine", spec.name });
    CHECK(daemon.virsh({ "dominfo", spec.name }).exit_code != 0);
}

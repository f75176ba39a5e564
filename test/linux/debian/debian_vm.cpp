// SPDX-License-Identifier: Apache-2.0
#include "debian_vm.h"

#include "support/skip.h"
#include "support/subprocess.h"
#include "vmm_process.h"

#include <fstream>
#include <sstream>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

namespace monarch::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string last_line(std::string const& text)
{
    std::string trimmed_text = text;
    while (!trimmed_text.empty() && (trimmed_text.back() == '\n' || trimmed_text.back() == ' '))
        trimmed_text.pop_back();
    auto const newline = trimmed_text.rfind('\n');
    return newline == std::string::npos ? trimmed_text : trimmed_text.substr(newline + 1);
}

std::string tail(std::string const& text, size_t bytes)
{
    return text.size() <= bytes ? text : "[...]" + text.substr(text.size() - bytes);
}

std::string read_text(std::string const& path)
{
    std::ifstream in(path);
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

// Connects to the VMM's console socket, which exists once the VMM has set up its devices.
int connect_when_ready(std::string const& path, GuestConsole& vmm, std::chrono::seconds timeout)
{
    auto const deadline = Clock::now() + timeout;
    while (Clock::now() < deadline && vmm.running()) {
        int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address {};
        address.sun_family = AF_UNIX;
        path.copy(address.sun_path, sizeof address.sun_path - 1);
        if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0)
            return fd;
        ::close(fd);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
}

} // namespace

std::string debian_image_directory()
{
    static std::string const directory = [] {
        auto const made = run_process({ std::string(MONARCH_SOURCE_DIR) + "/scripts/make-debian-image" },
            { .timeout = std::chrono::minutes(15) });
        if (!made.exited || made.exit_code != 0)
            skip("scripts/make-debian-image could not make the Debian image: " + last_line(made.output));
        return last_line(made.output);
    }();
    return directory;
}

std::string copy_debian_disk(std::string const& name)
{
    std::string const copy = scratch_directory() + "/" + name;
    auto const copied = run_process({ "cp", "--sparse=always", debian_image_directory() + "/debian.raw", copy });
    if (!copied.exited || copied.exit_code != 0)
        return {};
    return copy;
}

std::unique_ptr<DebianVm> DebianVm::boot(DebianBoot const& boot, std::string& why, std::chrono::seconds login_timeout)
{
    require_kvm();
    std::string const image = debian_image_directory();
    std::string disk = boot.disk.empty() ? copy_debian_disk() : boot.disk;
    if (disk.empty()) {
        why = "cannot copy the Debian image into " + scratch_directory();
        return nullptr;
    }
    bool const serial_console = boot.console_socket.empty();
    // Debian's cloud kernel has virtio_console as a module: hvc0 does not exist yet when the
    // kernel opens the initial console for /init, and with console=hvc0 alone the initramfs
    // runs without one and never mounts the root. ttyS0 serves that first moment (its output
    // goes nowhere with --serial off); hvc0, named last, is /dev/console once it registers.
    std::string cmdline = std::string("root=/dev/vda ") + (serial_console ? "console=ttyS0" : "console=ttyS0 console=hvc0") + " quiet";
    if (!boot.cmdline_extra.empty())
        cmdline += " " + boot.cmdline_extra;
    std::vector<std::string> argv { vmm_path(), "--kernel", image + (boot.pvh ? "/vmlinux" : "/vmlinuz"), "--initrd",
        image + "/initrd.img", "--disk", "path=" + disk, "--cmdline", cmdline, "--cpus", std::to_string(boot.cpus), "--memory",
        boot.memory };
    if (serial_console) {
        argv.insert(argv.end(), { "--serial", "stdio" });
    } else {
        argv.insert(argv.end(), { "--serial", "off", "--console", "socket=" + boot.console_socket });
    }
    argv.insert(argv.end(), boot.extra.begin(), boot.extra.end());
    std::string const stderr_file = scratch_directory() + "/monarch-vmm.stderr";
    auto spawned = GuestConsole::spawn(argv, stderr_file);
    if (!spawned) {
        why = "cannot start " + vmm_path();
        return nullptr;
    }
    std::unique_ptr<DebianVm> vm { new DebianVm(std::move(*spawned)) };
    vm->m_disk = disk;
    vm->m_stderr_file = stderr_file;
    if (!serial_console) {
        int const fd = connect_when_ready(boot.console_socket, vm->m_vmm, std::chrono::seconds(30));
        if (fd < 0) {
            why = "cannot connect to the console socket " + boot.console_socket + "\n" + vm->report();
            return nullptr;
        }
        vm->m_shell_console.emplace(GuestConsole::over_socket(fd));
    }
    if (!vm->wait_for_login(login_timeout)) {
        why = "no root shell within " + std::to_string(login_timeout.count()) + " s\n" + vm->report();
        return nullptr;
    }
    return vm;
}

bool DebianVm::wait_for_login(std::chrono::milliseconds timeout, size_t from)
{
    // agetty's autologin, then bash's prompt; the shell is then made quiet for the markers, and
    // the kernel's messages (a warning from a mount, say) kept off the console but for emergencies.
    if (!shell().wait_for("root@monarch-guest:~#", timeout, from))
        return false;
    return shell().shell("stty -echo; export TERM=dumb; dmesg -n 1", std::chrono::seconds(30)).has_value();
}

std::optional<std::string> DebianVm::run(std::string const& command, std::chrono::milliseconds timeout)
{
    return shell().shell(command, timeout);
}

std::string DebianVm::report()
{
    std::string text = "--- serial console (end) ---\n" + tail(m_vmm.log(), 6000);
    if (m_shell_console)
        text += "\n--- virtio console (end) ---\n" + tail(m_shell_console->log(), 6000);
    text += "\n--- monarch-vmm stderr ---\n" + tail(read_text(m_stderr_file), 4000);
    return text;
}

std::string trimmed(std::optional<std::string> const& output)
{
    if (!output)
        return "<no answer>";
    size_t begin = output->find_first_not_of(" \n\r\t");
    size_t end = output->find_last_not_of(" \n\r\t");
    return begin == std::string::npos ? std::string() : output->substr(begin, end - begin + 1);
}

} // namespace monarch::test

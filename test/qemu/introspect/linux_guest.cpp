// SPDX-License-Identifier: Apache-2.0
// Booting the test guest and talking to its shell over the serial console.
#include "linux_guest.h"

#include "dkom/profile/read_file.h"
#include "support/subprocess.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace monarch::dkom::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string trim(std::string text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' '))
        text.pop_back();
    return text;
}

} // namespace

std::unique_ptr<LinuxGuest> LinuxGuest::boot(std::string& why, int spinners, std::string const& cpu)
{
    std::string const script = std::string(MONARCH_SOURCE_DIR) + "/scripts/make-linux-guest";
    auto const built = monarch::test::run_process({ script }, { .timeout = std::chrono::minutes(5) });
    if (!built.exited || built.exit_code != 0) {
        why = "make-linux-guest failed: " + built.output;
        return nullptr;
    }
    std::unique_ptr<LinuxGuest> guest { new LinuxGuest };
    char pattern[] = "/tmp/monarch-introspect-XXXXXX";
    if (::mkdtemp(pattern) == nullptr) {
        why = "mkdtemp failed";
        return nullptr;
    }
    guest->m_directory = pattern;
    guest->m_memory_file = guest->m_directory + "/mem";
    guest->m_gdb_address = "unix:" + guest->m_directory + "/gdb.sock";
    guest->m_kernel_image = trim(built.output.substr(built.output.rfind('\n', built.output.size() - 2) + 1)) + "/vmlinuz";
    int in[2];
    int out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
        why = "pipe failed";
        return nullptr;
    }
    pid_t const child = ::fork();
    if (child == 0) {
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(out[1], 2);
        ::setpgid(0, 0);
        std::string const count = std::to_string(spinners);
        ::execl(script.c_str(), script.c_str(), "boot", "--memory-file", guest->m_memory_file.c_str(), "--gdb",
            guest->m_gdb_address.c_str(), "--spinners", count.c_str(), "--cpu", cpu.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    guest->m_qemu = child;
    guest->m_to_guest = in[1];
    guest->m_from_guest = out[0];
    if (!guest->wait_for("MONARCH-GUEST-READY", std::chrono::seconds(120), 0)) {
        why = "the guest did not come up; console:\n" + guest->m_console;
        return nullptr;
    }
    // The init script starts the spinners in the background: under a loaded TCG host one may
    // not have exec'd yet when the shell first answers. Wait (bounded, by the guest's own
    // account) until each has written its first count, so every test sees all of them.
    std::string const wait_spinners = "for i in $(seq 300); do [ $(ls /run/spin | wc -l) -ge " + std::to_string(spinners)
        + " ] && break; sleep 0.1; done; ls /run/spin | wc -l";
    auto const counted = guest->shell(wait_spinners, std::chrono::seconds(60));
    if (!counted) {
        why = "the guest's shell does not answer; console:\n" + guest->m_console;
        return nullptr;
    }
    if (std::strtol(counted->c_str(), nullptr, 10) < spinners) {
        why = "only " + trim(*counted) + " of " + std::to_string(spinners) + " spinners started; console:\n" + guest->m_console;
        return nullptr;
    }
    return guest;
}

LinuxGuest::~LinuxGuest()
{
    kill_qemu();
    if (m_to_guest >= 0)
        ::close(m_to_guest);
    if (m_from_guest >= 0)
        ::close(m_from_guest);
    if (!m_directory.empty()) {
        ::unlink(m_memory_file.c_str());
        ::unlink((m_directory + "/gdb.sock").c_str());
        ::rmdir(m_directory.c_str());
    }
}

void LinuxGuest::kill_qemu()
{
    if (m_qemu <= 0)
        return;
    ::kill(m_qemu, SIGKILL);
    ::waitpid(m_qemu, nullptr, 0);
    m_qemu = -1;
}

bool LinuxGuest::alive()
{
    return m_qemu > 0 && ::waitpid(m_qemu, nullptr, WNOHANG) == 0;
}

void LinuxGuest::pump(std::chrono::milliseconds wait)
{
    pollfd pfd { m_from_guest, POLLIN, 0 };
    if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0)
        return;
    char buffer[4096];
    ssize_t const got = ::read(m_from_guest, buffer, sizeof(buffer));
    if (got > 0)
        m_console.append(buffer, static_cast<size_t>(got));
}

bool LinuxGuest::wait_for(std::string const& marker, std::chrono::milliseconds timeout, size_t from)
{
    auto const deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
        if (m_console.find(marker, from) != std::string::npos)
            return true;
        if (!alive())
            return false;
        pump(std::chrono::milliseconds(100));
    }
    return m_console.find(marker, from) != std::string::npos;
}

std::optional<std::string> LinuxGuest::shell(std::string const& command, std::chrono::milliseconds timeout)
{
    // The markers are computed by the guest's shell ($((N+1))), so the console's echo of the
    // command line never matches them.
    int const id = ++m_sequence * 2;
    std::string const begin = "@@B" + std::to_string(id + 1) + "@@";
    std::string const end = "@@E" + std::to_string(id + 1) + "@@";
    std::string const line = "echo @@B$((" + std::to_string(id) + "+1))@@; " + command + "; echo @@E$((" + std::to_string(id) + "+1))@@\n";
    size_t const from = m_console.size();
    if (::write(m_to_guest, line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return std::nullopt;
    if (!wait_for(end, timeout, from))
        return std::nullopt;
    auto const start = m_console.find(begin, from);
    auto const stop = m_console.find(end, from);
    if (start == std::string::npos || stop < start)
        return std::nullopt;
    std::string output = m_console.substr(start + begin.size(), stop - start - begin.size());
    std::erase(output, '\r');
    return output;
}

Profile const* guest_profile(std::string& why)
{
    static std::optional<Result<Profile>> s_profile;
    if (!s_profile) {
        std::string const script = std::string(MONARCH_SOURCE_DIR) + "/scripts/fetch-linux-kernel";
        auto const fetched = monarch::test::run_process({ script }, { .timeout = std::chrono::minutes(5) });
        if (!fetched.exited || fetched.exit_code != 0) {
            why = "fetch-linux-kernel failed: " + fetched.output;
            return nullptr;
        }
        std::string const directory = trim(fetched.output.substr(fetched.output.rfind('\n', fetched.output.size() - 2) + 1));
        auto const image = read_whole_file(directory + "/vmlinuz");
        if (!image) {
            why = "cannot read the kernel image: " + to_string(image.error());
            return nullptr;
        }
        s_profile = Profile::from_kernel_image(*image);
    }
    if (!*s_profile) {
        why = "no profile from the kernel image: " + to_string(s_profile->error());
        return nullptr;
    }
    return &**s_profile;
}

} // namespace monarch::dkom::test

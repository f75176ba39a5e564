// SPDX-License-Identifier: Apache-2.0
// Booting the test guest and talking to its shell over the serial console.
#include "linux_guest.h"

#include "dkom/profile/read_file.h"
#include "support/subprocess.h"

#include <csignal>
#include <cstdlib>
#include <unistd.h>

namespace monarch::dkom::test {

namespace {

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
    auto console = monarch::test::GuestConsole::spawn({ script, "boot", "--memory-file", guest->m_memory_file, "--gdb",
        guest->m_gdb_address, "--spinners", std::to_string(spinners), "--cpu", cpu });
    if (!console) {
        why = "cannot start " + script;
        return nullptr;
    }
    guest->m_console.emplace(std::move(*console));
    if (!guest->m_console->wait_for("MONARCH-GUEST-READY", std::chrono::seconds(120))) {
        why = "the guest did not come up; console:\n" + guest->console();
        return nullptr;
    }
    // The init script starts the spinners in the background: under a loaded TCG host one may
    // not have exec'd yet when the shell first answers. Wait (bounded, by the guest's own
    // account) until each has written its first count, so every test sees all of them.
    std::string const wait_spinners = "for i in $(seq 300); do [ $(ls /run/spin | wc -l) -ge " + std::to_string(spinners)
        + " ] && break; sleep 0.1; done; ls /run/spin | wc -l";
    auto const counted = guest->shell(wait_spinners, std::chrono::seconds(60));
    if (!counted) {
        why = "the guest's shell does not answer; console:\n" + guest->console();
        return nullptr;
    }
    if (std::strtol(counted->c_str(), nullptr, 10) < spinners) {
        why = "only " + trim(*counted) + " of " + std::to_string(spinners) + " spinners started; console:\n" + guest->console();
        return nullptr;
    }
    return guest;
}

LinuxGuest::~LinuxGuest()
{
    kill_qemu();
    if (!m_directory.empty()) {
        ::unlink(m_memory_file.c_str());
        ::unlink((m_directory + "/gdb.sock").c_str());
        ::rmdir(m_directory.c_str());
    }
}

void LinuxGuest::kill_qemu()
{
    if (!m_console)
        return;
    m_console->signal(SIGKILL);
    (void)m_console->wait_exit(std::chrono::seconds(10));
}

bool LinuxGuest::alive()
{
    return m_console && m_console->running();
}

std::optional<std::string> LinuxGuest::shell(std::string const& command, std::chrono::milliseconds timeout)
{
    if (!m_console)
        return std::nullopt;
    return m_console->shell(command, timeout);
}

std::string const& LinuxGuest::console() const
{
    static std::string const none;
    return m_console ? m_console->log() : none;
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

// SPDX-License-Identifier: Apache-2.0
// DebianVm: the stock Debian image of scripts/make-debian-image booted on monarch-vmm, driven
// through a console the way a user at a terminal would (autologin as root, then a shell).
// Each test case is a process of its own (ctest), so each boots its own VM, on a private copy
// of the image in the scratch directory (the runner's tmpfs inside the nested-KVM L1).
#pragma once

#include "support/guest_console.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace monarch::test {

// scripts/make-debian-image's directory (debian.raw, vmlinuz, initrd.img, vmlinux); skips the
// test with the script's reason when the image cannot be made here (no archive, no mmdebstrap).
[[nodiscard]] std::string debian_image_directory();
// A private, sparse copy of the image's root disk in this test's scratch directory.
[[nodiscard]] std::string copy_debian_disk(std::string const& name = "debian.raw");

struct DebianBoot {
    bool pvh { false };            // the uncompressed vmlinux through PVH instead of the bzImage
    unsigned cpus { 1 };
    std::string memory { "1G" };
    std::string disk;               // the root image; empty: a fresh copy_debian_disk()
    // The login console: "serial" (COM1 on our pipes, console=ttyS0) or a Unix socket path for
    // --console socket=PATH (hvc0; the serial port is then off).
    std::string console_socket;
    std::vector<std::string> extra; // further monarch-vmm options (--net, --vsock, --rng...)
    std::string cmdline_extra;
};

class DebianVm {
public:
    // Starts monarch-vmm and waits for the root shell on the chosen console (up to
    // `login_timeout`); nullptr with `why` (the console log and the VMM's stderr) otherwise.
    [[nodiscard]] static std::unique_ptr<DebianVm> boot(DebianBoot const& boot, std::string& why,
        std::chrono::seconds login_timeout = std::chrono::seconds(240));

    // The console the shell runs on (serial or hvc0).
    [[nodiscard]] GuestConsole& shell() { return m_shell_console ? *m_shell_console : m_vmm; }
    // The monarch-vmm process (its stdout is COM1 with the serial console).
    [[nodiscard]] GuestConsole& vmm() { return m_vmm; }
    [[nodiscard]] std::string const& disk() const { return m_disk; }
    // Runs `command` in the guest's shell; its output, or nullopt on timeout.
    [[nodiscard]] std::optional<std::string> run(std::string const& command,
        std::chrono::milliseconds timeout = std::chrono::seconds(60));
    // Waits for the root shell's prompt after offset `from` of the shell console and makes the
    // shell quiet (no echo); false at the deadline.
    bool wait_for_login(std::chrono::milliseconds timeout, size_t from = 0);
    // What a failing test attaches: the end of the console(s) and monarch-vmm's stderr.
    [[nodiscard]] std::string report();

private:
    DebianVm(GuestConsole vmm) : m_vmm(std::move(vmm)) {}

    GuestConsole m_vmm;
    std::optional<GuestConsole> m_shell_console;
    std::string m_disk;
    std::string m_stderr_file;
};

// The trimmed output of a guest command, for comparisons.
[[nodiscard]] std::string trimmed(std::optional<std::string> const& output);

} // namespace monarch::test

// SPDX-License-Identifier: Apache-2.0
// LinuxGuest: a Debian kernel + busybox guest (scripts/make-linux-guest) booted under QEMU TCG
// for the introspection tests, with its serial console driven through pipes: the guest's own
// shell is the oracle the tests compare introspection against.
#pragma once

#include "dkom/profile/profile.h"
#include "support/guest_console.h"

#include <chrono>
#include <memory>
#include <string>
#include <sys/types.h>

namespace monarch::dkom::test {

class LinuxGuest {
public:
    // Boots a guest; nullptr (with `why`) when it cannot be built or does not come up.
    // `cpu` is QEMU's -cpu model: "max" gives the guest LA57 (5-level paging).
    static std::unique_ptr<LinuxGuest> boot(std::string& why, int spinners = 2, std::string const& cpu = "qemu64");
    ~LinuxGuest();
    LinuxGuest(LinuxGuest const&) = delete;
    LinuxGuest& operator=(LinuxGuest const&) = delete;

    // Runs a shell command in the guest and returns its output (without the echo of the
    // command line), or nullopt on timeout.
    std::optional<std::string> shell(std::string const& command, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    // Kills QEMU (the "target went away" case).
    void kill_qemu();
    [[nodiscard]] bool alive();

    [[nodiscard]] std::string const& gdb_address() const { return m_gdb_address; }
    [[nodiscard]] std::string const& memory_file() const { return m_memory_file; }
    [[nodiscard]] std::string const& kernel_image() const { return m_kernel_image; }
    [[nodiscard]] std::string const& console() const; // everything the guest wrote to its serial console

private:
    LinuxGuest() = default;

    std::string m_directory;
    std::string m_gdb_address;
    std::string m_memory_file;
    std::string m_kernel_image;
    std::optional<monarch::test::GuestConsole> m_console; // QEMU, its serial console on our pipes
};

// The profile of the guest's kernel, made once per test process from the image.
Profile const* guest_profile(std::string& why);

} // namespace monarch::dkom::test

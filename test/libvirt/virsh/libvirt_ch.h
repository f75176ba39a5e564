// SPDX-License-Identifier: Apache-2.0
// A private virtchd (libvirt 9.0's Cloud Hypervisor driver daemon, built by scripts/libvirt-ch)
// for one test: started on sockets under a temporary directory with monarch-vmm's ch-compat
// directory first on its PATH, and stopped when the object goes away.
#pragma once

#include "support/subprocess.h"

#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

namespace monarch::test {

class Virtchd {
public:
    // Builds libvirt if needed (normally the ctest fixture "libvirt: build libvirt-ch" did),
    // then starts the daemon. Fails the test (Catch2 REQUIRE) if either does not work.
    Virtchd();
    ~Virtchd();
    Virtchd(Virtchd const&) = delete;
    Virtchd& operator=(Virtchd const&) = delete;

    [[nodiscard]] std::string const& uri() const { return m_uri; }
    [[nodiscard]] pid_t pid() const { return m_pid; }
    [[nodiscard]] std::filesystem::path const& directory() const { return m_directory; }

    // The built virsh, connected to this daemon.
    [[nodiscard]] ProcessResult virsh(std::vector<std::string> const& arguments) const;
    // What the daemon wrote to stdout and stderr. libvirt 9.0's curl calls leave their default
    // write callback, so the VMM's answers to body-less PUTs (its error messages) land here.
    [[nodiscard]] std::string daemon_output() const;
    // The daemon's children (the emulators it started), zombies included: libvirt must reap.
    [[nodiscard]] std::vector<pid_t> children() const;
    // The ch driver's per-domain API socket, where libvirt 9.0 puts it when privileged
    // (<prefix>/var/run/libvirt/ch/<name>-socket) or per user.
    [[nodiscard]] std::filesystem::path api_socket(std::string const& domain) const;

private:
    std::filesystem::path m_directory;
    std::filesystem::path m_prefix;
    std::string m_uri;
    pid_t m_pid { -1 };
};

// A temporary directory removed with everything in it when the object goes away.
class TemporaryDirectory {
public:
    TemporaryDirectory();
    ~TemporaryDirectory();
    TemporaryDirectory(TemporaryDirectory const&) = delete;
    TemporaryDirectory& operator=(TemporaryDirectory const&) = delete;
    [[nodiscard]] std::filesystem::path const& path() const { return m_path; }

private:
    std::filesystem::path m_path;
};

[[nodiscard]] std::string read_text_file(std::filesystem::path const&);
void write_text_file(std::filesystem::path const&, std::string const&);

// The ch-compat entry point of this build, and what it says to --version.
[[nodiscard]] std::filesystem::path ch_compat_directory();

} // namespace monarch::test

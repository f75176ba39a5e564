// SPDX-License-Identifier: Apache-2.0
// A real monarchd in a fresh state directory, run as a background process with the build
// tree's monarch-vmm, and monarchctl run against it. The destructor stops monarchd and kills
// every VMM its state directory still names, so a failing test leaks no process.
#pragma once

#include "support/subprocess.h"

#include <nlohmann/json.hpp>
#include <string>
#include <sys/types.h>
#include <vector>

namespace monarch::test {

inline constexpr char const* MONARCHD = MONARCH_BINARY_DIR "/src/supervisor/monarchd";
inline constexpr char const* MONARCHCTL = MONARCH_BINARY_DIR "/src/supervisor/monarchctl";
inline constexpr char const* MONARCH_VMM = MONARCH_BINARY_DIR "/src/vmm/monarch-vmm";
inline constexpr char const* TESTOS = MONARCH_BINARY_DIR "/guests/testos/testos.elf";

class DaemonFixture {
public:
    DaemonFixture();
    ~DaemonFixture();
    DaemonFixture(DaemonFixture const&) = delete;
    DaemonFixture& operator=(DaemonFixture const&) = delete;

    // Starts monarchd and waits until its API answers (fails the test after 30 s).
    void start(std::vector<std::string> const& extra_arguments = {});
    void kill_daemon();     // SIGKILL, reaped
    void stop_daemon();     // SIGTERM, reaped
    [[nodiscard]] pid_t daemon_pid() const { return m_pid; }

    // monarchctl --socket S ARGS...; `prefix` runs it through another program (setpriv).
    [[nodiscard]] ProcessResult ctl(std::vector<std::string> const& arguments, std::vector<std::string> const& prefix = {}) const;
    // monarchctl --json ARGS..., its output parsed (discarded JSON on garbage).
    [[nodiscard]] nlohmann::json ctl_json(std::vector<std::string> const& arguments) const;
    // `create NAME --kernel testos --memory 64M` plus `extra`; requires success.
    void create_vm(std::string const& name, std::vector<std::string> const& extra = {}) const;

    [[nodiscard]] std::string const& dir() const { return m_dir; }
    [[nodiscard]] std::string state_dir() const { return m_dir + "/state"; }
    [[nodiscard]] std::string socket() const { return m_dir + "/d.sock"; }
    [[nodiscard]] std::string events() const; // the structured log's text
    [[nodiscard]] std::string vmm_log(std::string const& name) const; // a VM's vmm.log
    [[nodiscard]] size_t daemon_fd_count() const;

private:
    std::string m_dir;
    pid_t m_pid { -1 };
};

// A process that runs and is not a zombie.
[[nodiscard]] bool process_alive(pid_t);
// The "pid" of a VM as monarchd answers it; -1 when null or absent.
[[nodiscard]] pid_t pid_of(nlohmann::json const& vm);
// kill(2) for a pid read from monarchd's answers: false for 0 and -1 (pid_of's "none"), which
// kill(2) would take for the caller's process group or every process it may signal.
[[nodiscard]] bool signal_vmm(pid_t pid, int signal);
// How many times `needle` occurs in `text` (events in the structured log).
[[nodiscard]] size_t count_of(std::string const& text, std::string const& needle);
// Polls `condition` every 50 ms up to `seconds`; true when it held.
template<typename Condition>
bool eventually(Condition condition, double seconds = 20);

} // namespace monarch::test

#include <chrono>
#include <thread>

template<typename Condition>
bool monarch::test::eventually(Condition condition, double seconds)
{
    auto const deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    while (std::chrono::steady_clock::now() < deadline) {
        if (condition())
            return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return condition();
}

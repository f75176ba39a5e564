// SPDX-License-Identifier: Apache-2.0
// GuestConsole: a guest's console as a test drives it, expect-style: a child process (a VMM with
// its serial console on stdin/stdout) or a connected socket (a console served on a Unix socket).
// Everything the guest writes is kept, so that a failing test can attach the whole log.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace monarch::test {

struct ChildEnd {
    bool exited { false };
    int exit_code { -1 }; // when exited
    int signal { 0 };     // when killed by a signal
};

class GuestConsole {
public:
    // Starts argv[0] with the console on stdin/stdout; its stderr goes to `stderr_file` (merged
    // into the console when empty). The child leads its own process group.
    [[nodiscard]] static std::optional<GuestConsole> spawn(std::vector<std::string> const& argv, std::string const& stderr_file = "");
    // A console reached through a connected stream socket (owned from now on).
    [[nodiscard]] static GuestConsole over_socket(int fd);

    GuestConsole(GuestConsole&& other) noexcept;
    GuestConsole& operator=(GuestConsole&&) = delete;
    GuestConsole(GuestConsole const&) = delete;
    ~GuestConsole(); // SIGKILLs and reaps a child that still runs

    // Waits until `marker` appears in the console after offset `from`; false at the deadline,
    // or when the child ended (or the socket closed) without printing it.
    bool wait_for(std::string const& marker, std::chrono::milliseconds timeout, size_t from = 0);
    // Runs a shell command in the guest and returns its output without the echo of the command
    // line, or nullopt on timeout. Needs a shell at a prompt on this console.
    [[nodiscard]] std::optional<std::string> shell(std::string const& command,
        std::chrono::milliseconds timeout = std::chrono::seconds(30));
    // Types `text` into the console as it is.
    bool send(std::string const& text);

    [[nodiscard]] std::string const& log() const { return m_log; }
    [[nodiscard]] size_t mark() const { return m_log.size(); }
    [[nodiscard]] pid_t pid() const { return m_child; }

    // The child's end: waits (reading the console meanwhile) up to `timeout`; nullopt if it runs on.
    [[nodiscard]] std::optional<ChildEnd> wait_exit(std::chrono::milliseconds timeout);
    [[nodiscard]] bool running();
    void signal(int number);

private:
    GuestConsole() = default;
    void pump(std::chrono::milliseconds wait);

    int m_to { -1 };
    int m_from { -1 };
    pid_t m_child { -1 };
    std::optional<ChildEnd> m_end;
    bool m_closed { false };
    std::string m_log;
    int m_sequence { 0 };
};

} // namespace monarch::test

// SPDX-License-Identifier: Apache-2.0
#include "support/guest_console.h"

#include <csignal>
#include <cstdint>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

namespace monarch::test {
namespace {

using Clock = std::chrono::steady_clock;

ChildEnd decode(int status)
{
    if (WIFEXITED(status))
        return { .exited = true, .exit_code = WEXITSTATUS(status) };
    return { .exited = false, .signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0 };
}

} // namespace

std::optional<GuestConsole> GuestConsole::spawn(std::vector<std::string> const& argv, std::string const& stderr_file)
{
    int in[2];
    int out[2];
    if (argv.empty() || ::pipe2(in, O_CLOEXEC) != 0)
        return std::nullopt;
    if (::pipe2(out, O_CLOEXEC) != 0) {
        ::close(in[0]);
        ::close(in[1]);
        return std::nullopt;
    }
    std::vector<char*> args;
    for (auto const& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t const child = ::fork();
    if (child == 0) {
        ::setpgid(0, 0);
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        int err = out[1];
        if (!stderr_file.empty())
            err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        ::dup2(err >= 0 ? err : out[1], 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    if (child < 0) {
        ::close(in[1]);
        ::close(out[0]);
        return std::nullopt;
    }
    GuestConsole console;
    console.m_to = in[1];
    console.m_from = out[0];
    console.m_child = child;
    return console;
}

GuestConsole GuestConsole::over_socket(int fd)
{
    GuestConsole console;
    console.m_to = fd;
    console.m_from = fd;
    return console;
}

GuestConsole::GuestConsole(GuestConsole&& other) noexcept
    : m_to(std::exchange(other.m_to, -1))
    , m_from(std::exchange(other.m_from, -1))
    , m_child(std::exchange(other.m_child, -1))
    , m_end(other.m_end)
    , m_closed(other.m_closed)
    , m_log(std::move(other.m_log))
    , m_sequence(other.m_sequence)
{
}

GuestConsole::~GuestConsole()
{
    if (m_child > 0 && !m_end) {
        ::kill(m_child, SIGKILL);
        ::waitpid(m_child, nullptr, 0);
    }
    if (m_to >= 0)
        ::close(m_to);
    if (m_from >= 0 && m_from != m_to)
        ::close(m_from);
}

void GuestConsole::pump(std::chrono::milliseconds wait)
{
    if (m_closed || m_from < 0) {
        ::poll(nullptr, 0, static_cast<int>(wait.count()));
        return;
    }
    pollfd pfd { m_from, POLLIN, 0 };
    if (::poll(&pfd, 1, static_cast<int>(wait.count())) <= 0)
        return;
    char buffer[8192];
    ssize_t const got = ::read(m_from, buffer, sizeof buffer);
    if (got > 0)
        m_log.append(buffer, static_cast<size_t>(got));
    else
        m_closed = true; // EOF (the child closed its stdout) or an error
}

bool GuestConsole::running()
{
    if (m_child <= 0)
        return !m_closed;
    if (m_end)
        return false;
    int status = 0;
    if (::waitpid(m_child, &status, WNOHANG) == m_child) {
        m_end = decode(status);
        return false;
    }
    return true;
}

bool GuestConsole::wait_for(std::string const& marker, std::chrono::milliseconds timeout, size_t from)
{
    auto const deadline = Clock::now() + timeout;
    for (;;) {
        if (m_log.find(marker, from) != std::string::npos)
            return true;
        // The end of the stream (the child and everything it started closed the console, or
        // the peer closed the socket): nothing more can come.
        if (m_closed || Clock::now() >= deadline)
            return false;
        pump(std::chrono::milliseconds(100));
    }
}

bool GuestConsole::send(std::string const& text)
{
    size_t done = 0;
    while (done < text.size()) {
        ssize_t const wrote = ::write(m_to, text.data() + done, text.size() - done);
        if (wrote <= 0)
            return false;
        done += static_cast<size_t>(wrote);
    }
    return true;
}

std::optional<std::string> GuestConsole::shell(std::string const& command, std::chrono::milliseconds timeout)
{
    // The markers are computed by the guest's shell ($((N+1))), so the console's echo of the
    // command line never matches them.
    int const id = ++m_sequence * 2;
    std::string const begin = "@@B" + std::to_string(id + 1) + "@@";
    std::string const end = "@@E" + std::to_string(id + 1) + "@@";
    std::string const line = "echo @@B$((" + std::to_string(id) + "+1))@@; " + command + "; echo @@E$((" + std::to_string(id) + "+1))@@\n";
    size_t const from = m_log.size();
    if (!send(line))
        return std::nullopt;
    if (!wait_for(end, timeout, from))
        return std::nullopt;
    auto const start = m_log.find(begin, from);
    auto const stop = m_log.find(end, from);
    if (start == std::string::npos || stop < start)
        return std::nullopt;
    std::string output = m_log.substr(start + begin.size(), stop - start - begin.size());
    std::erase(output, '\r');
    return output;
}

std::optional<ChildEnd> GuestConsole::wait_exit(std::chrono::milliseconds timeout)
{
    auto const deadline = Clock::now() + timeout;
    while (running()) {
        if (Clock::now() >= deadline)
            return std::nullopt;
        pump(std::chrono::milliseconds(100));
    }
    // What the child wrote just before it ended may still be in the pipe: read until it is empty.
    for (size_t before = SIZE_MAX; !m_closed && m_log.size() != before;) {
        before = m_log.size();
        pump(std::chrono::milliseconds(0));
    }
    return m_end;
}

void GuestConsole::signal(int number)
{
    if (m_child > 0 && running())
        ::kill(m_child, number);
}

} // namespace monarch::test

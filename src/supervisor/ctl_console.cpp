// SPDX-License-Identifier: Apache-2.0
// The console relay: poll(2) over stdin and the pty, byte for byte in both directions.
#include "supervisor/ctl_console.h"

#include "common/unique_fd.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

namespace monarch::supervisor::ctl {

namespace {

bool write_all(int fd, char const* data, size_t length)
{
    while (length > 0) {
        ssize_t const n = ::write(fd, data, length);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        length -= static_cast<size_t>(n);
    }
    return true;
}

// Raw mode on the controlling terminal for the session, the old settings back on scope exit.
class RawTerminal {
public:
    RawTerminal()
    {
        if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &m_saved) != 0)
            return;
        termios raw = m_saved;
        ::cfmakeraw(&raw);
        m_active = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
    }
    ~RawTerminal()
    {
        if (m_active)
            ::tcsetattr(STDIN_FILENO, TCSANOW, &m_saved);
    }
    RawTerminal(RawTerminal const&) = delete;
    RawTerminal& operator=(RawTerminal const&) = delete;

private:
    termios m_saved {};
    bool m_active { false };
};

} // namespace

bool attach_console(std::string const& pty_path, std::string& error)
{
    UniqueFd pty { ::open(pty_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC) };
    if (!pty) {
        error = "cannot open the console " + pty_path + ": " + std::strerror(errno);
        return false;
    }
    if (::isatty(pty.get())) {
        termios settings {};
        if (::tcgetattr(pty.get(), &settings) == 0) {
            ::cfmakeraw(&settings); // our side passes bytes through unchanged
            ::tcsetattr(pty.get(), TCSANOW, &settings);
        }
    }
    RawTerminal raw;
    char buffer[4096];
    for (;;) {
        pollfd fds[2] = { { STDIN_FILENO, POLLIN, 0 }, { pty.get(), POLLIN, 0 } };
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            error = std::string("poll: ") + std::strerror(errno);
            return false;
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t const n = ::read(pty.get(), buffer, sizeof(buffer));
            if (n <= 0) {
                error = "the console closed (the VM stopped)";
                return false;
            }
            write_all(STDOUT_FILENO, buffer, static_cast<size_t>(n));
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t const n = ::read(STDIN_FILENO, buffer, sizeof(buffer));
            if (n <= 0)
                return true; // end of input: detach
            auto const* escape = static_cast<char const*>(std::memchr(buffer, CONSOLE_ESCAPE, static_cast<size_t>(n)));
            size_t const forward = escape ? static_cast<size_t>(escape - buffer) : static_cast<size_t>(n);
            if (!write_all(pty.get(), buffer, forward)) {
                error = "the console closed (the VM stopped)";
                return false;
            }
            if (escape)
                return true;
        }
    }
}

} // namespace monarch::supervisor::ctl

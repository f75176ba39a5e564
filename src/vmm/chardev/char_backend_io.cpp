// SPDX-License-Identifier: Apache-2.0
// CharBackend: the data path. Output is written from vCPU threads and never waits long; input
// is read by the back end's own thread, which poll()s its fd and an eventfd that stop() signals.
#include "vmm/chardev/char_backend.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <poll.h>
#include <system_error>
#include <sys/socket.h>
#include <unistd.h>

namespace monarch::vmm {

namespace {
constexpr int STDOUT_TIMEOUT_MS = 100; // a terminal or pipe reader may lag a little
constexpr int FILE_TIMEOUT_MS = -1;    // regular files are always writable
constexpr int PEER_TIMEOUT_MS = 0;     // a pty or socket peer that is not reading loses bytes
} // namespace

size_t CharBackend::write_some(int fd, std::span<std::byte const> bytes, int timeout_ms, bool is_socket)
{
    size_t done = 0;
    while (done < bytes.size()) {
        // poll first, so that a blocking fd (stdout may be a full pipe) never blocks the caller.
        pollfd ready { fd, POLLOUT, 0 };
        int const polled = ::poll(&ready, 1, timeout_ms);
        if (polled < 0 && errno == EINTR)
            continue;
        if (polled <= 0 || (ready.revents & (POLLERR | POLLHUP | POLLNVAL)))
            break;
        // At most PIPE_BUF per write: a pipe that polls writable takes that much without blocking.
        size_t const chunk = std::min<size_t>(bytes.size() - done, PIPE_BUF);
        ssize_t const written = is_socket ? ::send(fd, bytes.data() + done, chunk, MSG_NOSIGNAL | MSG_DONTWAIT)
                                          : ::write(fd, bytes.data() + done, chunk);
        if (written > 0) {
            done += static_cast<size_t>(written);
            continue;
        }
        if (written < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        break;
    }
    return done;
}

void CharBackend::write(std::span<std::byte const> bytes)
{
    if (bytes.empty())
        return;
    size_t written = 0;
    switch (m_kind) {
    case SerialSpec::Kind::Off: return;
    case SerialSpec::Kind::Stdio: written = write_some(m_output.get(), bytes, STDOUT_TIMEOUT_MS, false); break;
    case SerialSpec::Kind::File: written = write_some(m_output.get(), bytes, FILE_TIMEOUT_MS, false); break;
    case SerialSpec::Kind::Pty: written = write_some(m_output.get(), bytes, PEER_TIMEOUT_MS, false); break;
    case SerialSpec::Kind::Socket: {
        // Only the input thread closes the client; holding the mutex keeps the fd valid here.
        std::lock_guard lock { m_client_mutex };
        if (m_client)
            written = write_some(m_client.get(), bytes, PEER_TIMEOUT_MS, true);
        break;
    }
    }
    m_bytes_written.fetch_add(written, std::memory_order_relaxed);
    m_bytes_dropped.fetch_add(bytes.size() - written, std::memory_order_relaxed);
}

Result<void> CharBackend::start_input(std::function<void(std::span<std::byte const>)> on_input)
{
    std::lock_guard lock { m_thread_mutex };
    if (!m_wake)
        return {}; // a back end without input (file, off)
    if (stopping()) {
        // Stopped before: a new VM (a reboot) takes this back end over. The old thread is
        // joined (stop() did, unless it was called from that thread) and its wake-up consumed.
        if (m_thread.joinable())
            m_thread.join();
        uint64_t count = 0;
        (void)!::read(m_wake.get(), &count, sizeof count);
        m_stopping.store(false, std::memory_order_release);
    } else if (m_thread.joinable()) {
        return {}; // already running
    }
    m_on_input = std::move(on_input);
    // std::thread reports a failure to create the thread (process or memory limits) by
    // throwing; it ends here as a Result.
    try {
        if (m_kind == SerialSpec::Kind::Socket)
            m_thread = std::thread([this] { socket_loop(); });
        else
            m_thread = std::thread([this] { input_loop(); });
    } catch (std::system_error const& error) {
        return Failure(Error::from_errno(error.code().value(), "serial: cannot start the input thread"));
    }
    return {};
}

void CharBackend::stop()
{
    std::lock_guard lock { m_thread_mutex };
    m_stopping.store(true, std::memory_order_release);
    if (m_wake) {
        uint64_t const one = 1;
        (void)!::write(m_wake.get(), &one, sizeof one);
    }
    // From the input thread itself (an on_input that calls stop()), the loop ends when the
    // callback returns; the thread is joined later, from another thread or the destructor.
    if (m_thread.joinable() && m_thread.get_id() != std::this_thread::get_id())
        m_thread.join();
}

bool CharBackend::pump(int fd)
{
    std::array<std::byte, 4096> buffer;
    ssize_t const count = ::read(fd, buffer.data(), buffer.size());
    if (count < 0)
        return errno == EINTR || errno == EAGAIN;
    if (count == 0)
        return false;
    m_bytes_read.fetch_add(static_cast<uint64_t>(count), std::memory_order_relaxed);
    if (m_on_input)
        m_on_input(std::span<std::byte const>(buffer.data(), static_cast<size_t>(count)));
    return true;
}

// stdio and pty: read until end of file (stdin from /dev/null or a file ends; the pty does
// not, since its slave stays open), then just wait for stop().
void CharBackend::input_loop()
{
    bool open = static_cast<bool>(m_input);
    while (!stopping()) {
        std::array<pollfd, 2> fds { pollfd { m_wake.get(), POLLIN, 0 }, pollfd { m_input.get(), POLLIN, 0 } };
        int const polled = ::poll(fds.data(), open ? 2 : 1, -1);
        if (polled < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[0].revents)
            return;
        if (open && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            open = pump(m_input.get());
        if (open && (fds[1].revents & POLLNVAL))
            open = false;
    }
}

void CharBackend::drop_client()
{
    std::lock_guard lock { m_client_mutex };
    m_client.reset();
}

// socket: accept one client, read from it until it hangs up, then accept the next.
void CharBackend::socket_loop()
{
    while (!stopping()) {
        int client = -1;
        {
            std::lock_guard lock { m_client_mutex };
            client = m_client.get();
        }
        std::array<pollfd, 2> fds { pollfd { m_wake.get(), POLLIN, 0 }, pollfd { client >= 0 ? client : m_listen.get(), POLLIN, 0 } };
        int const polled = ::poll(fds.data(), fds.size(), -1);
        if (polled < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        if (fds[0].revents)
            return;
        if (client < 0) {
            if (!(fds[1].revents & POLLIN))
                continue;
            UniqueFd accepted { ::accept4(m_listen.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK) };
            if (!accepted)
                continue; // the client went away before accept, or EAGAIN
            m_clients.fetch_add(1, std::memory_order_relaxed);
            std::lock_guard lock { m_client_mutex };
            m_client = std::move(accepted);
        } else if (fds[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            if (!pump(client))
                drop_client();
        }
    }
}

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// RawUnixClient: blocking socket calls with poll() deadlines; good enough for tests only.
#include "raw_unix_client.h"

#include <cctype>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace monarch::test {

RawUnixClient::RawUnixClient(std::string const& path)
{
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    if (path.size() >= sizeof(address.sun_path))
        return;
    std::memcpy(address.sun_path, path.data(), path.size());
    m_fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (m_fd < 0)
        return;
    // SAFETY: a complete sockaddr_un and its size.
    if (::connect(m_fd, reinterpret_cast<sockaddr const*>(&address), sizeof(address)) != 0) {
        ::close(m_fd);
        m_fd = -1;
    }
}

RawUnixClient::~RawUnixClient()
{
    if (m_fd >= 0)
        ::close(m_fd);
}

bool RawUnixClient::send(std::string_view bytes)
{
    while (!bytes.empty()) {
        auto const written = ::send(m_fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (written <= 0)
            return false;
        bytes.remove_prefix(static_cast<size_t>(written));
    }
    return true;
}

bool RawUnixClient::fill(std::chrono::steady_clock::time_point deadline)
{
    auto const remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (remaining.count() <= 0 || m_eof)
        return false;
    pollfd entry { m_fd, POLLIN, 0 };
    if (::poll(&entry, 1, static_cast<int>(remaining.count())) <= 0)
        return false;
    char chunk[4096];
    auto const count = ::recv(m_fd, chunk, sizeof(chunk), 0);
    if (count <= 0) {
        m_eof = true;
        return false;
    }
    m_pending.append(chunk, static_cast<size_t>(count));
    return true;
}

std::optional<std::string> RawUnixClient::read_until(std::string_view marker, std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        auto const at = m_pending.find(marker);
        if (at != std::string::npos) {
            auto result = m_pending.substr(0, at + marker.size());
            m_pending.erase(0, at + marker.size());
            return result;
        }
        if (!fill(deadline))
            return std::nullopt;
    }
}

std::optional<std::string> RawUnixClient::read_response(std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    auto head = read_until("\r\n\r\n", timeout);
    if (!head)
        return std::nullopt;
    size_t length = 0;
    std::string lower = *head;
    for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (auto at = lower.find("content-length:"); at != std::string::npos)
        length = std::stoul(lower.substr(at + 15));
    while (m_pending.size() < length)
        if (!fill(deadline))
            return std::nullopt;
    auto response = *head + m_pending.substr(0, length);
    m_pending.erase(0, length);
    return response;
}

bool RawUnixClient::wait_closed(std::chrono::milliseconds timeout)
{
    auto const deadline = std::chrono::steady_clock::now() + timeout;
    while (!m_eof)
        if (!fill(deadline) && !m_eof)
            return false;
    return true;
}

int status_of(std::string_view response)
{
    if (!response.starts_with("HTTP/1.") || response.size() < 12)
        return 0;
    int status = 0;
    for (char c : response.substr(9, 3)) {
        if (c < '0' || c > '9')
            return 0;
        status = status * 10 + (c - '0');
    }
    return status;
}

std::string body_of(std::string_view response)
{
    auto const at = response.find("\r\n\r\n");
    return at == std::string_view::npos ? std::string() : std::string(response.substr(at + 4));
}

std::string make_request(std::string_view method, std::string_view target, std::string_view body)
{
    return fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n{}\r\n{}", method, target,
                       body.size(), body.empty() ? "" : "Content-Type: application/json\r\n", body);
}

} // namespace monarch::test

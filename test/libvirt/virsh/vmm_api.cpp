// SPDX-License-Identifier: Apache-2.0
#include "vmm_api.h"

#include "common/unique_fd.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace monarch::test {

namespace {

bool send_all(int fd, std::string const& data)
{
    size_t sent = 0;
    while (sent < data.size()) {
        ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        sent += static_cast<size_t>(n);
    }
    return true;
}

std::string receive_all(int fd)
{
    std::string data;
    char buffer[4096];
    for (;;) {
        ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return data;
        data.append(buffer, static_cast<size_t>(n));
    }
}

// RFC 9112 section 7.1: chunk-size in hex, CRLF, data, CRLF; a zero size ends the body.
std::string dechunked(std::string const& body)
{
    std::string out;
    size_t at = 0;
    for (;;) {
        auto line_end = body.find("\r\n", at);
        if (line_end == std::string::npos)
            return out;
        size_t size = std::strtoul(body.substr(at, line_end - at).c_str(), nullptr, 16);
        if (size == 0 || line_end + 2 + size > body.size())
            return out;
        out.append(body, line_end + 2, size);
        at = line_end + 2 + size + 2;
    }
}

} // namespace

std::optional<HttpAnswer> http_get_unix(std::filesystem::path const& socket, std::string const& target)
{
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    auto const path = socket.string();
    if (path.size() >= sizeof address.sun_path)
        return std::nullopt;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd { ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) };
    if (!fd)
        return std::nullopt;
    // SAFETY: address is a fully initialised sockaddr_un; the cast is the sockets API's own.
    if (::connect(fd.get(), reinterpret_cast<sockaddr const*>(&address), sizeof address) != 0)
        return std::nullopt;
    // Connection: close, so that the answer ends where the stream ends.
    if (!send_all(fd.get(), "GET " + target + " HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                                              "Connection: close\r\n\r\n"))
        return std::nullopt;
    auto const answer = receive_all(fd.get());
    int status = 0;
    if (std::sscanf(answer.c_str(), "HTTP/1.%*d %d", &status) != 1)
        return std::nullopt;
    auto const head_end = answer.find("\r\n\r\n");
    if (head_end == std::string::npos)
        return HttpAnswer { status, {} };
    auto head = answer.substr(0, head_end);
    for (auto& c : head)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto body = answer.substr(head_end + 4);
    if (head.find("transfer-encoding: chunked") != std::string::npos)
        body = dechunked(body);
    return HttpAnswer { status, std::move(body) };
}

std::string vm_info_state(std::filesystem::path const& socket)
{
    auto answer = http_get_unix(socket, "/api/v1/vm.info");
    if (!answer || answer->status != 200)
        return {};
    auto info = nlohmann::json::parse(answer->body, nullptr, /*allow_exceptions=*/false);
    if (!info.is_object() || !info.contains("state") || !info["state"].is_string())
        return {};
    return info["state"].get<std::string>();
}

} // namespace monarch::test

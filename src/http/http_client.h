// SPDX-License-Identifier: Apache-2.0
// HttpClient: a synchronous HTTP/1.1 client over a Unix stream socket (Boost.Beast), with one
// keep-alive connection, a timeout on every request, and errors as Result (never exceptions).
// Used by monarchd to drive monarch-vmm's API and by monarchctl to talk to monarchd.
#pragma once

#include "common/result.h"

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace monarch::http {

enum class Method { Get, Put, Post, Delete };

struct ClientResponse {
    unsigned status { 0 };
    std::string body;
    std::string content_type;

    [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
public:
    // Connects to the socket at `socket_path` now, so that a missing daemon is reported here.
    // Errors: Sys (ENOENT, ECONNREFUSED, EACCES...), Timeout.
    [[nodiscard]] static Result<HttpClient> connect(std::string socket_path, std::chrono::milliseconds timeout);

    HttpClient(HttpClient&&) noexcept;
    HttpClient& operator=(HttpClient&&) noexcept;
    ~HttpClient();

    // One request; the connection is kept for the next. A connection that the server closed
    // while idle is reopened once, but only when no byte of an answer arrived (so a request is
    // never sent twice after the server saw it). A body is sent with Content-Length (also 0).
    // Errors: Sys (connection failed), Timeout (no full answer within the timeout; the
    // connection is then closed), Corrupt (not HTTP, or an answer larger than the limit).
    [[nodiscard]] Result<ClientResponse> request(Method, std::string_view target, std::string_view body = {},
        std::string_view content_type = "application/json");

    void set_timeout(std::chrono::milliseconds timeout) { m_timeout = timeout; }
    [[nodiscard]] std::chrono::milliseconds timeout() const { return m_timeout; }
    [[nodiscard]] std::string const& socket_path() const { return m_socket_path; }

    // Answers larger than this are refused (Corrupt): 16 MiB, far above any JSON we exchange.
    static constexpr uint64_t MAX_RESPONSE_BODY = 16ULL * 1024 * 1024;

    struct Connection; // opaque: the socket and its io_context

private:
    HttpClient(std::string socket_path, std::chrono::milliseconds timeout);
    [[nodiscard]] Result<void> open();

    std::string m_socket_path;
    std::chrono::milliseconds m_timeout;
    std::unique_ptr<Connection> m_connection;
};

} // namespace monarch::http

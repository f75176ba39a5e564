// SPDX-License-Identifier: Apache-2.0
// A deliberately primitive HTTP client for tests: raw bytes over a Unix socket, so that a
// test controls exactly what the server sees (half requests, chunked bodies, garbage).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace monarch::test {

class RawUnixClient {
public:
    // Connects to `path`; connected() says whether that worked.
    explicit RawUnixClient(std::string const& path);
    ~RawUnixClient();
    RawUnixClient(RawUnixClient const&) = delete;
    RawUnixClient& operator=(RawUnixClient const&) = delete;

    [[nodiscard]] bool connected() const { return m_fd >= 0; }
    bool send(std::string_view bytes);
    // Reads until `marker` appears in what has been received (kept for later reads) or the
    // timeout passes; returns everything up to and including the marker.
    std::optional<std::string> read_until(std::string_view marker, std::chrono::milliseconds timeout);
    // Reads one full response (headers and Content-Length body); nullopt on timeout/EOF.
    std::optional<std::string> read_response(std::chrono::milliseconds timeout);
    // True when the server closed the connection within the timeout.
    bool wait_closed(std::chrono::milliseconds timeout);

private:
    bool fill(std::chrono::steady_clock::time_point deadline);

    int m_fd { -1 };
    std::string m_pending;
    bool m_eof { false };
};

// The status code of a response ("HTTP/1.1 204 No Content..." → 204), 0 if unparsable.
[[nodiscard]] int status_of(std::string_view response);
// The body of a response (after the blank line).
[[nodiscard]] std::string body_of(std::string_view response);

// A GET or PUT request with a Content-Length body (empty body: Content-Length: 0).
[[nodiscard]] std::string make_request(std::string_view method, std::string_view target, std::string_view body = {});

} // namespace monarch::test

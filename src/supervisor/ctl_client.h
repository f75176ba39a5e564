// SPDX-License-Identifier: Apache-2.0
// monarchctl's side of monarchd's API: one request, its JSON answer, and every failure mapped
// to one of monarchctl's documented exit statuses (docs/monarchctl.md).
#pragma once

#include "common/try_expected.h"
#include "http/http_client.h"

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace monarch::supervisor::ctl {

namespace exit_status {
inline constexpr int Success = 0;
inline constexpr int Failure = 1;          // anything else (a daemon error, a malformed answer)
inline constexpr int Usage = 2;            // bad command line, or a definition monarchd refused (400)
inline constexpr int Unreachable = 3;      // monarchd's socket cannot be reached
inline constexpr int NotFound = 4;         // no such VM (404)
inline constexpr int Refused = 5;          // the transition is not allowed in the VM's state (409)
inline constexpr int VmmError = 6;         // the VM's monarch-vmm failed or did not answer (502)
inline constexpr int PermissionDenied = 7; // not root and not in monarchd's group (403)
inline constexpr int Timeout = 8;          // a stop or delete did not complete in time
} // namespace exit_status

struct CtlError {
    int exit_status { exit_status::Failure };
    std::string message;
};
template<typename T>
using CtlResult = std::expected<T, CtlError>;

// $MONARCH_SOCKET; else /var/lib/monarch/monarchd.sock when it exists or we are root; else the
// socket in this user's default state directory.
[[nodiscard]] std::string default_socket_path();

[[nodiscard]] int exit_status_for_http(unsigned status);

class DaemonClient {
public:
    explicit DaemonClient(std::string socket_path) : m_socket_path(std::move(socket_path)) {}

    struct Answer {
        unsigned status { 0 };
        nlohmann::json body;   // the parsed JSON, or the text as a string for text/plain
    };
    // Any 2xx is an Answer; anything else a CtlError with the daemon's message.
    [[nodiscard]] CtlResult<Answer> call(http::Method, std::string const& target, std::string const& body = {});

private:
    std::string m_socket_path;
    std::optional<http::HttpClient> m_client;
};

} // namespace monarch::supervisor::ctl

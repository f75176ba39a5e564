// SPDX-License-Identifier: Apache-2.0
// DaemonClient: HttpClient to monarchd, with errors as monarchctl's exit statuses.
#include "supervisor/ctl_client.h"

#include "supervisor/error_body.h"
#include "supervisor/state_dir.h"

#include <cstdlib>
#include <unistd.h>

namespace monarch::supervisor::ctl {

using nlohmann::json;

namespace {
// Long enough for monarchd's slowest synchronous step (a VMM call times out after 10 s).
constexpr std::chrono::seconds REQUEST_TIMEOUT { 30 };
constexpr char const* SYSTEM_SOCKET = "/var/lib/monarch/monarchd.sock";
} // namespace

std::string default_socket_path()
{
    if (char const* socket = std::getenv("MONARCH_SOCKET"); socket && socket[0] != '\0')
        return socket;
    if (::geteuid() == 0 || ::access(SYSTEM_SOCKET, F_OK) == 0)
        return SYSTEM_SOCKET;
    return default_state_dir() + "/monarchd.sock";
}

int exit_status_for_http(unsigned status)
{
    switch (status) {
    case 400: return exit_status::Usage;
    case 403: return exit_status::PermissionDenied;
    case 404: return exit_status::NotFound;
    case 409: return exit_status::Refused;
    case 502: return exit_status::VmmError;
    default: return status >= 200 && status < 300 ? exit_status::Success : exit_status::Failure;
    }
}

CtlResult<DaemonClient::Answer> DaemonClient::call(http::Method method, std::string const& target, std::string const& body)
{
    if (!m_client) {
        auto client = http::HttpClient::connect(m_socket_path, REQUEST_TIMEOUT);
        if (!client)
            return std::unexpected(CtlError { exit_status::Unreachable, "cannot reach monarchd at " + m_socket_path + ": " + to_string(client.error()) });
        m_client = std::move(*client);
    }
    auto response = m_client->request(method, target, body);
    if (!response) {
        m_client.reset();
        bool const timed_out = response.error().code == Errc::Timeout;
        return std::unexpected(CtlError { timed_out ? exit_status::Failure : exit_status::Unreachable,
            "monarchd at " + m_socket_path + ": " + to_string(response.error()) });
    }
    Answer answer;
    answer.status = response->status;
    if (response->content_type.starts_with("application/json")) {
        answer.body = json::parse(response->body, nullptr, false);
        if (answer.body.is_discarded())
            return std::unexpected(CtlError { exit_status::Failure, "monarchd answered malformed JSON" });
    } else {
        answer.body = response->body;
    }
    if (response->ok())
        return answer;
    std::string message = "monarchd answered " + std::to_string(response->status);
    if (auto error = error_message_of(answer.body))
        message = *error;
    return std::unexpected(CtlError { exit_status_for_http(response->status), message });
}

} // namespace monarch::supervisor::ctl

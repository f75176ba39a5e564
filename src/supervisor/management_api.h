// SPDX-License-Identifier: Apache-2.0
// ManagementApi: monarchd's REST API (docs/monarchd.md), one handler for the HttpServer on
// monarchd's socket. It authorizes each request by the peer's SO_PEERCRED uid, routes it to
// the Supervisor, answers JSON ({"error": "..."} on failure) and logs it as one JSON line.
#pragma once

#include "http/http_server.h"
#include "supervisor/event_log.h"
#include "supervisor/peer_auth.h"
#include "supervisor/supervisor.h"

namespace monarch::supervisor {

inline constexpr std::string_view API_PREFIX = "/api/v1/";
inline constexpr std::string_view MONARCH_API_VERSION = "1";
inline constexpr uint64_t DEFAULT_LOG_BYTES = 64 * 1024;
inline constexpr uint64_t MAX_LOG_BYTES = 4 * 1024 * 1024;
inline constexpr std::chrono::seconds DEFAULT_STOP_TIMEOUT { 30 };

class ManagementApi {
public:
    ManagementApi(Supervisor& supervisor, PeerAuthorizer authorizer, EventLog& log)
        : m_supervisor(supervisor)
        , m_authorizer(std::move(authorizer))
        , m_log(log)
    {
    }

    [[nodiscard]] http::HttpResponse handle(http::HttpRequest const&);

private:
    [[nodiscard]] http::HttpResponse route(http::HttpRequest const&);
    [[nodiscard]] http::HttpResponse route_vm(http::HttpRequest const&, std::string const& name, std::string_view action);

    Supervisor& m_supervisor;
    PeerAuthorizer m_authorizer;
    EventLog& m_log;
};

} // namespace monarch::supervisor

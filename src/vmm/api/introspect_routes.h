// SPDX-License-Identifier: Apache-2.0
// Introspection's REST endpoints (docs/monarch-vmm.md, "Introspection"): the guest's task
// list, suspend/resume/nice of a task, VMM-sampled CPU time, and the guest kernel's profile.
// Every request runs on the IntrospectEngine's worker thread and is answered from there
// through an HttpResponder: these operations wait for the guest, and the event-loop thread
// must stay free to serve its devices meanwhile.
#pragma once

#include "http/http_server.h"
#include "vmm/introspect/introspect_engine.h"

#include <expected>
#include <functional>
#include <optional>
#include <string>

namespace monarch::vmm::api {

inline constexpr std::string_view INTROSPECT_PREFIX = "/api/v1/monarch/introspect/";

// A validated request.
struct IntrospectCommand {
    enum class Kind : uint8_t { Ps, Suspend, Resume, Nice, Top, Profile };
    Kind kind { Kind::Ps };
    int32_t pid { 0 };
    int32_t nice { 0 };
    bool threads { false };     // ps?threads=1
    double rate_hz { 100 };     // top?rate=HZ (1..10000)
    double seconds { 1 };       // top?interval=S (0.1..60)
    std::string profile_path;   // profile: {"path": ...} (ISF JSON)
    std::string kernel_image;   // profile: {"kernel_image": ...} (bzImage or vmlinux)
};

// An answer that is an error: the HTTP status, the message, and a short machine-readable
// reason (monarch-introspect maps it to its exit status).
struct RouteError {
    unsigned status { 400 };
    std::string message;
    std::string reason { "bad_request" };
};

// nullopt: not an introspection path (someone else's). Otherwise the command, or 404 for an
// unknown path below the prefix, 405 for a wrong method, 400 for a bad value.
[[nodiscard]] std::optional<std::expected<IntrospectCommand, RouteError>> parse_introspect_request(http::HttpRequest const&);

// {"error": ..., "reason": ...} with its status.
[[nodiscard]] http::HttpResponse route_error_response(RouteError const&);
// The engine's problems in the API's terms: 404 not_found, 409 no_vm / no_profile /
// not_booted / paused, 400 bad_request, 504 timeout, 500 guest.
[[nodiscard]] RouteError route_error(introspect::EngineError const&);

class IntrospectRoutes {
public:
    // Called on the event-loop thread for each request: the VM to work on, or the error to
    // answer (no VM: 409). `kind` lets it refuse operations that would run a VM the API paused.
    using TargetFor = std::function<std::expected<introspect::Target, RouteError>(IntrospectCommand::Kind)>;

    IntrospectRoutes(introspect::IntrospectEngine& engine, TargetFor target) : m_engine(engine), m_target(std::move(target)) {}

    // False for a path that is not introspection's; otherwise the request is answered through
    // `respond`, now (a bad request) or later from the engine's thread.
    bool handle(http::HttpRequest const&, http::HttpResponder const& respond);

private:
    introspect::IntrospectEngine& m_engine;
    TargetFor m_target;
};

} // namespace monarch::vmm::api

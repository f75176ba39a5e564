// SPDX-License-Identifier: Apache-2.0
// ManagementApi: authorization, routing and the JSON answers of monarchd's API.
#include "supervisor/management_api.h"

#include "common/json_text.h"
#include "supervisor/error_body.h"

#include <charconv>
#include <nlohmann/json.hpp>

namespace monarch::supervisor {

using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;

namespace {

HttpResponse answer(ApiResult<json> const& result, unsigned success = 200)
{
    if (!result)
        return HttpResponse::error(result.error().status, result.error().message);
    return HttpResponse::json(success, to_json_text(*result));
}

// ?name=value in the target; nullopt when absent.
std::optional<std::string> query_parameter(std::string const& target, std::string_view name)
{
    auto const question = target.find('?');
    if (question == std::string::npos)
        return std::nullopt;
    std::string_view query = std::string_view(target).substr(question + 1);
    while (!query.empty()) {
        auto const amp = std::min(query.find('&'), query.size());
        auto const pair = query.substr(0, amp);
        auto const equals = pair.find('=');
        if (pair.substr(0, equals) == name)
            return std::string(equals == std::string_view::npos ? std::string_view() : pair.substr(equals + 1));
        query.remove_prefix(std::min(amp + 1, query.size()));
    }
    return std::nullopt;
}

struct StopRequest {
    bool force { false };
    std::chrono::milliseconds timeout { DEFAULT_STOP_TIMEOUT };
};

std::expected<StopRequest, std::string> parse_stop(std::string const& body)
{
    StopRequest request;
    if (body.empty())
        return request;
    auto object = json::parse(body, nullptr, false);
    if (!object.is_object())
        return std::unexpected(std::string("the body must be a JSON object {\"force\":..., \"timeout\":...}"));
    for (auto const& [key, value] : object.items()) {
        if (key == "force" && value.is_boolean()) {
            request.force = value.get<bool>();
        } else if (key == "timeout" && value.is_number() && value.get<double>() >= 0 && value.get<double>() <= 3600) {
            request.timeout = std::chrono::milliseconds(static_cast<int64_t>(value.get<double>() * 1000));
        } else {
            return std::unexpected("unknown or mistyped field '" + key + "' (force: boolean, timeout: seconds 0-3600)");
        }
    }
    return request;
}

} // namespace

HttpResponse ManagementApi::handle(HttpRequest const& request)
{
    auto const decision = m_authorizer.authorize(request.peer.uid);
    HttpResponse response = decision.allowed
        ? route(request)
        : HttpResponse::error(403, "permission denied: " + decision.reason + " (monarchd admits root and group '"
                                       + m_authorizer.group_name() + "')");
    json entry = { { "method", request.method }, { "path", request.path }, { "uid", request.peer.uid },
        { "pid", request.peer.pid }, { "status", response.status } };
    if (response.status >= 400) {
        if (auto message = error_message_of(json::parse(response.body, nullptr, false)))
            entry["message"] = *message;
    }
    m_log.write("request", std::move(entry));
    return response;
}

HttpResponse ManagementApi::route(HttpRequest const& request)
{
    std::string_view path = request.path;
    if (!path.starts_with(API_PREFIX))
        return HttpResponse::error(404, "no such endpoint (the API is under /api/v1/)");
    path.remove_prefix(API_PREFIX.size());
    if (path == "ping") {
        if (request.method != "GET")
            return HttpResponse::error(405, "ping takes GET");
        return HttpResponse::json(200, to_json_text(json({ { "name", "monarchd" }, { "version", MONARCH_API_VERSION }, { "vms", m_supervisor.vm_count() } })));
    }
    if (path == "vms") {
        if (request.method == "GET")
            return HttpResponse::json(200, to_json_text(m_supervisor.list()));
        if (request.method == "POST")
            return answer(m_supervisor.define(request.body), 201);
        return HttpResponse::error(405, "/api/v1/vms takes GET or POST");
    }
    if (!path.starts_with("vms/"))
        return HttpResponse::error(404, "no such endpoint");
    path.remove_prefix(4);
    auto const slash = path.find('/');
    std::string const name(path.substr(0, slash));
    if (!is_valid_vm_name(name))
        return HttpResponse::error(404, "no VM named '" + name + "' (not a valid name)");
    return route_vm(request, name, slash == std::string_view::npos ? std::string_view() : path.substr(slash + 1));
}

HttpResponse ManagementApi::route_vm(HttpRequest const& request, std::string const& name, std::string_view action)
{
    auto const& method = request.method;
    if (action.empty()) {
        if (method == "GET")
            return answer(m_supervisor.info(name));
        if (method == "DELETE") {
            auto removed = m_supervisor.remove(name);
            if (!removed)
                return HttpResponse::error(removed.error().status, removed.error().message);
            return HttpResponse::json(removed->first, to_json_text(removed->second));
        }
        return HttpResponse::error(405, "/api/v1/vms/NAME takes GET or DELETE");
    }
    if (action == "log") {
        if (method != "GET")
            return HttpResponse::error(405, "log takes GET");
        uint64_t bytes = DEFAULT_LOG_BYTES;
        if (auto text = query_parameter(request.target, "bytes")) {
            auto const [end, ec] = std::from_chars(text->data(), text->data() + text->size(), bytes);
            if (ec != std::errc {} || end != text->data() + text->size() || bytes > MAX_LOG_BYTES)
                return HttpResponse::error(400, "bytes: not a number from 0 to " + std::to_string(MAX_LOG_BYTES));
        }
        auto text = m_supervisor.log_tail(name, bytes);
        if (!text)
            return HttpResponse::error(text.error().status, text.error().message);
        HttpResponse response { 200, std::move(*text), "text/plain; charset=utf-8", {} };
        return response;
    }
    if (method != "PUT")
        return HttpResponse::error(405, std::string(action) + " takes PUT");
    if (action == "start")
        return answer(m_supervisor.start(name));
    if (action == "stop") {
        auto stop = parse_stop(request.body);
        if (!stop)
            return HttpResponse::error(400, stop.error());
        return answer(m_supervisor.stop(name, stop->force, stop->timeout), 202);
    }
    if (action == "pause")
        return answer(m_supervisor.pause(name));
    if (action == "resume")
        return answer(m_supervisor.resume(name));
    if (action == "reboot")
        return answer(m_supervisor.reboot(name));
    if (action == "power-button")
        return answer(m_supervisor.power_button(name));
    return HttpResponse::error(404, "no such action '" + std::string(action) + "' (start, stop, pause, resume, reboot, power-button, log)");
}

} // namespace monarch::supervisor

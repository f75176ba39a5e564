// SPDX-License-Identifier: Apache-2.0
// Routes and response bodies. Success: 204 without a body for actions, 200 with JSON for
// vmm.ping, vm.info and vm.counters. Errors: {"error": "..."} with 400 (bad body), 404 (no such
// endpoint, or no VM), 405 (wrong method, or wrong VM state), 409, 500 (see vm_controller.h).
#include "vmm/api/api_handler.h"

#include "common/log.h"
#include "vmm/api/ch_compat.h"
#include "vmm/api/vm_config_json.h"
#include "vmm/vmcrypt/sealed_file.h"

#include <array>
#include <fmt/format.h>
#include <unistd.h>

#ifndef MONARCH_VERSION
#error "MONARCH_VERSION must be defined by the build"
#endif

namespace monarch::vmm::api {

using http::HttpResponse;
using nlohmann::json;

namespace {

constexpr std::string_view PREFIX = "/api/v1/";

enum class Method { Get, Put };

struct Route {
    std::string_view name;
    Method method;
    ApiResult<void> (VmController::*action)(); // null: handled by name in handle()
};

constexpr std::array ROUTES {
    Route { "vmm.ping", Method::Get, nullptr },
    Route { "vmm.shutdown", Method::Put, nullptr },
    Route { "vm.create", Method::Put, nullptr },
    Route { "vm.restore", Method::Put, nullptr },
    Route { "vm.info", Method::Get, nullptr },
    Route { "vm.counters", Method::Get, nullptr },
    Route { "vm.boot", Method::Put, &VmController::boot },
    Route { "vm.pause", Method::Put, &VmController::pause },
    Route { "vm.resume", Method::Put, &VmController::resume },
    Route { "vm.shutdown", Method::Put, &VmController::shutdown },
    Route { "vm.reboot", Method::Put, &VmController::reboot },
    Route { "vm.power-button", Method::Put, &VmController::power_button },
    Route { "vm.delete", Method::Put, &VmController::remove },
};

// RestoreConfig (cloud-hypervisor.yaml): source_url (a file:/// URL) is required; prefault
// and resume are booleans; memory_restore_mode only as "Copy" (the sealed stream is always
// read whole: there is no on-demand paging of sealed pages); net_fds are not supported.
ParseResult<RestoreRequest> restore_request_from_body(std::string_view body)
{
    auto const parsed = TRY_PARSE(parse_body(body)); // JsonObject refers to it
    auto object = TRY_PARSE(JsonObject::from(parsed, ""));
    auto url = TRY_PARSE(object.string_field("source_url"));
    if (!url)
        return std::unexpected(std::string("source_url: required (file:///DIR)"));
    auto path = vmcrypt::path_from_file_url(*url);
    if (!path)
        return std::unexpected(fmt::format("source_url: '{}': {}", *url, to_string(path.error())));
    RestoreRequest request;
    request.directory = std::move(*path);
    request.prefault = TRY_PARSE(object.bool_field("prefault")).value_or(false);
    request.resume = TRY_PARSE(object.bool_field("resume")).value_or(false);
    TRY_PARSE_VOID(object.finish({ { "memory_restore_mode", "Copy" }, { "net_fds", json::array() } }));
    return request;
}

HttpResponse from_result(ApiResult<void> const& result)
{
    if (!result)
        return HttpResponse::error(result.error().status, result.error().message);
    return HttpResponse::no_content();
}

} // namespace

HttpResponse ApiHandler::handle(http::HttpRequest const& request)
{
    log::debug("api: {} {}", request.method, request.path);
    std::string_view path = request.path;
    Route const* route = nullptr;
    if (path.starts_with(PREFIX)) {
        for (auto const& candidate : ROUTES)
            if (candidate.name == path.substr(PREFIX.size()))
                route = &candidate;
    }
    if (!route)
        return HttpResponse::error(404, fmt::format("no such endpoint: {}", request.path));
    std::string_view const wanted = route->method == Method::Get ? "GET" : "PUT";
    if (request.method != wanted)
        return HttpResponse::error(405, fmt::format("{} takes {}, not {}", route->name, wanted, request.method));
    if (route->action) {
        auto response = from_result((m_controller.*route->action)());
        if (response.status >= 400)
            log::warn("api: {} refused: {}", route->name, response.body);
        return response;
    }
    if (route->name == "vmm.ping")
        return ping();
    if (route->name == "vmm.shutdown")
        return vmm_shutdown();
    if (route->name == "vm.create")
        return create(request);
    if (route->name == "vm.restore")
        return restore(request);
    if (route->name == "vm.info")
        return info();
    return counters();
}

HttpResponse ApiHandler::ping() const
{
    json body = {
        { "build_version", fmt::format("monarch-vmm {}", MONARCH_VERSION) },
        { "version", std::string(CH_API_LEVEL) },
        { "pid", static_cast<int64_t>(::getpid()) },
    };
    return HttpResponse::json(200, body.dump());
}

HttpResponse ApiHandler::vmm_shutdown()
{
    m_controller.stop_for_exit();
    auto response = HttpResponse::no_content();
    response.after_send = m_on_vmm_shutdown;
    return response;
}

HttpResponse ApiHandler::create(http::HttpRequest const& request)
{
    auto config = vm_config_from_body(request.body);
    if (!config)
        return HttpResponse::error(400, fmt::format("vm.create: {}", config.error()));
    return from_result(m_controller.create(std::move(*config)));
}

HttpResponse ApiHandler::restore(http::HttpRequest const& request)
{
    auto parsed = restore_request_from_body(request.body);
    if (!parsed)
        return HttpResponse::error(400, fmt::format("vm.restore: {}", parsed.error()));
    auto response = from_result(m_controller.restore(*parsed));
    if (response.status >= 400)
        log::warn("api: vm.restore refused: {}", response.body);
    return response;
}

HttpResponse ApiHandler::info() const
{
    auto info = m_controller.info();
    if (!info)
        return HttpResponse::error(info.error().status, info.error().message);
    json body = {
        { "config", vm_config_to_json(info->config, { info->details.serial_pty, info->details.console_pty }) },
        { "state", std::string(to_string(info->state)) },
        { "memory_actual_size", info->details.memory_actual_size },
    };
    return HttpResponse::json(200, dump_json(body));
}

HttpResponse ApiHandler::counters() const
{
    auto counters = m_controller.counters();
    if (!counters)
        return HttpResponse::error(counters.error().status, counters.error().message);
    json body = json::object();
    for (auto const& [device, values] : *counters)
        for (auto const& [name, value] : values)
            body[device][name] = value;
    return HttpResponse::json(200, body.dump());
}

} // namespace monarch::vmm::api

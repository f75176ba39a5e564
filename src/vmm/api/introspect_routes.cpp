// SPDX-License-Identifier: Apache-2.0
// Introspection's endpoints: request parsing and validation (pure, unit-tested), and the jobs
// that run on the engine's worker thread. Errors use the API's shape {"error": ...} plus a
// "reason" word.
#include "vmm/api/introspect_routes.h"

#include "common/log.h"
#include "dkom/linux/cpu_sampler.h"
#include "dkom/ops/task_control.h"
#include "dkom/profile/read_file.h"

#include <charconv>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace monarch::vmm::api {

using http::HttpResponse;
using introspect::EngineContext;
using introspect::EngineError;
using introspect::Problem;
using Kind = IntrospectCommand::Kind;
using ParseResult = std::expected<IntrospectCommand, RouteError>;

namespace {

// TRY for std::expected<T, RouteError>.
#define ROUTE_TRY(expr) __extension__({                        \
        auto route_try_ = (expr);                              \
        if (!route_try_)                                       \
            return std::unexpected(std::move(route_try_).error()); \
        std::move(route_try_).value();                         \
    })

constexpr int32_t PID_MAX_LIMIT = 4194304; // include/linux/threads.h: the largest pid a 64-bit kernel uses

std::unexpected<RouteError> bad(std::string message) { return std::unexpected(RouteError { 400, std::move(message), "bad_request" }); }

std::optional<std::string_view> query_value(std::string_view target, std::string_view key)
{
    auto const question = target.find('?');
    if (question == std::string_view::npos)
        return std::nullopt;
    std::string_view query = target.substr(question + 1);
    while (!query.empty()) {
        auto const amp = query.find('&');
        std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view {} : query.substr(amp + 1);
        auto const equals = pair.find('=');
        if (pair.substr(0, equals) == key)
            return equals == std::string_view::npos ? std::string_view {} : pair.substr(equals + 1);
    }
    return std::nullopt;
}

std::optional<double> parse_double(std::string_view text)
{
    double value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size())
        return std::nullopt;
    return value;
}

std::expected<double, RouteError> query_number(std::string_view target, std::string_view key, double fallback, double low, double high)
{
    auto const text = query_value(target, key);
    if (!text)
        return fallback;
    auto const value = parse_double(*text);
    if (!value || !(*value >= low && *value <= high))
        return bad(fmt::format("{}: '{}' is not a number from {} to {}", key, *text, low, high));
    return *value;
}

std::expected<nlohmann::json, RouteError> body_object(http::HttpRequest const& request)
{
    auto body = nlohmann::json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
        return bad("the body must be a JSON object");
    return body;
}

std::expected<int32_t, RouteError> integer_field(nlohmann::json const& body, char const* key, int64_t low, int64_t high)
{
    auto const found = body.find(key);
    if (found == body.end())
        return bad(fmt::format("'{}' is missing", key));
    if (!found->is_number_integer())
        return bad(fmt::format("'{}' must be an integer", key));
    auto const value = found->get<int64_t>();
    if (value < low || value > high)
        return bad(fmt::format("'{}': {} is not from {} to {}", key, value, low, high));
    return static_cast<int32_t>(value);
}

ParseResult parse_task_command(http::HttpRequest const& request, Kind kind)
{
    auto const body = ROUTE_TRY(body_object(request));
    IntrospectCommand command { .kind = kind };
    command.pid = ROUTE_TRY(integer_field(body, "pid", 1, PID_MAX_LIMIT));
    if (kind == Kind::Nice)
        command.nice = ROUTE_TRY(integer_field(body, "nice", -20, 19));
    return command;
}

ParseResult parse_profile_command(http::HttpRequest const& request)
{
    auto const body = ROUTE_TRY(body_object(request));
    IntrospectCommand command { .kind = Kind::Profile };
    auto const path = body.find("path");
    auto const image = body.find("kernel_image");
    if ((path == body.end()) == (image == body.end()))
        return bad("give exactly one of 'path' (an ISF JSON profile) and 'kernel_image'");
    auto const& value = path != body.end() ? *path : *image;
    if (!value.is_string() || value.get<std::string>().empty())
        return bad("the profile path must be a non-empty string");
    (path != body.end() ? command.profile_path : command.kernel_image) = value.get<std::string>();
    return command;
}

ParseResult parse_top_command(http::HttpRequest const& request)
{
    IntrospectCommand command { .kind = Kind::Top };
    command.rate_hz = ROUTE_TRY(query_number(request.target, "rate", 100, 1, 10000));
    command.seconds = ROUTE_TRY(query_number(request.target, "interval", 1, 0.1, 60));
    return command;
}

} // namespace

std::optional<ParseResult> parse_introspect_request(http::HttpRequest const& request)
{
    if (!request.path.starts_with(INTROSPECT_PREFIX))
        return std::nullopt;
    std::string_view const name = std::string_view(request.path).substr(INTROSPECT_PREFIX.size());
    struct Route {
        std::string_view name;
        std::string_view method;
        Kind kind;
    };
    static constexpr Route routes[] = { { "ps", "GET", Kind::Ps }, { "top", "GET", Kind::Top }, { "suspend", "PUT", Kind::Suspend },
        { "resume", "PUT", Kind::Resume }, { "nice", "PUT", Kind::Nice }, { "profile", "PUT", Kind::Profile } };
    for (auto const& route : routes) {
        if (route.name != name)
            continue;
        if (request.method != route.method)
            return ParseResult(std::unexpected(RouteError { 405, fmt::format("{} takes {}", request.path, route.method), "bad_request" }));
        switch (route.kind) {
        case Kind::Ps: {
            auto const threads = query_value(request.target, "threads");
            if (threads && *threads != "0" && *threads != "1")
                return ParseResult(bad("threads: give 0 or 1"));
            return ParseResult(IntrospectCommand { .kind = Kind::Ps, .threads = threads == "1" });
        }
        case Kind::Top:
            return parse_top_command(request);
        case Kind::Profile:
            return parse_profile_command(request);
        default:
            return parse_task_command(request, route.kind);
        }
    }
    return ParseResult(std::unexpected(RouteError { 404, fmt::format("no introspection endpoint {}", request.path), "not_found" }));
}

HttpResponse route_error_response(RouteError const& error)
{
    nlohmann::json body = nlohmann::json::object();
    body["error"] = error.message;
    body["reason"] = error.reason;
    return HttpResponse::json(error.status, body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

RouteError route_error(EngineError const& error)
{
    switch (error.problem) {
    case Problem::BadRequest:
        return { 400, error.message, "bad_request" };
    case Problem::NotFound:
        return { 404, error.message, "not_found" };
    case Problem::NoTarget:
        return { 409, error.message, "no_vm" };
    case Problem::NoProfile:
        return { 409, error.message, "no_profile" };
    case Problem::NotBooted:
        return { 409, error.message, "not_booted" };
    case Problem::Timeout:
        return { 504, error.message, "timeout" };
    case Problem::Guest:
        break;
    }
    return { 500, error.message, "guest" };
}

namespace {

nlohmann::json task_json(dkom::TaskInfo const& task)
{
    return { { "pid", task.pid }, { "tgid", task.tgid }, { "ppid", task.parent_pid }, { "comm", task.comm },
        { "state", std::string(1, task.state_letter) }, { "uid", task.uid }, { "nice", task.nice }, { "policy", task.policy },
        { "cpu_ns", task.sum_exec_runtime_ns }, { "kernel_thread", task.kernel_thread },
        { "pgd", task.page_table_root ? nlohmann::json(task.page_table_root->raw()) : nlohmann::json(nullptr) } };
}

std::string dump(nlohmann::json const& value) { return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

HttpResponse failure(EngineContext& context, EngineError const& error)
{
    // A guest that looks inconsistent may have rebooted (the kernel moved): attach again next time.
    if (error.problem == Problem::Guest)
        context.forget_kernel();
    log::info("api: introspection failed: {}", error.message);
    return route_error_response(route_error(error));
}

HttpResponse run_ps(EngineContext& context, IntrospectCommand const& command)
{
    auto kernel = context.kernel();
    if (!kernel)
        return failure(context, kernel.error());
    auto const tasks = (*kernel)->tasks({ .threads = command.threads });
    if (!tasks)
        return failure(context, introspect::engine_error(tasks.error()));
    nlohmann::json list = nlohmann::json::array();
    for (auto const& task : *tasks)
        list.push_back(task_json(task));
    return HttpResponse::json(200, dump({ { "tasks", std::move(list) } }));
}

HttpResponse run_top(EngineContext& context, IntrospectCommand const& command)
{
    auto kernel = context.kernel();
    if (!kernel)
        return failure(context, kernel.error());
    auto const duration = std::chrono::milliseconds(static_cast<int64_t>(command.seconds * 1000));
    auto const sampling = dkom::sample_cpu(**kernel, command.rate_hz, duration);
    if (!sampling)
        return failure(context, introspect::engine_error(sampling.error()));
    nlohmann::json tasks = nlohmann::json::array();
    for (auto const& usage : sampling->tasks)
        tasks.push_back({ { "pid", usage.pid }, { "tgid", usage.tgid }, { "comm", usage.comm }, { "samples", usage.samples },
            { "vmm_seconds", usage.sampled_seconds }, { "guest_seconds", static_cast<double>(usage.guest_ns) / 1e9 } });
    return HttpResponse::json(200, dump({ { "rounds", sampling->samples }, { "idle_samples", sampling->idle_samples },
        { "seconds", sampling->seconds }, { "running_seconds", sampling->running_seconds }, { "rate_hz", command.rate_hz },
        { "tasks", std::move(tasks) } }));
}

HttpResponse run_control(EngineContext& context, IntrospectCommand const& command)
{
    auto kernel = context.kernel();
    if (!kernel)
        return failure(context, kernel.error());
    auto symbols = dkom::ControlSymbols::from_profile(*context.profile());
    if (!symbols)
        return failure(context, { Problem::NoProfile, fmt::format("the profile lacks what task control needs: {}", to_string(symbols.error())) });
    dkom::TaskControl control { **kernel, std::move(*symbols) };
    Result<void> done = command.kind == Kind::Suspend ? control.suspend(command.pid)
        : command.kind == Kind::Resume                ? control.resume(command.pid)
                                                      : control.set_nice(command.pid, command.nice);
    if (!done)
        return failure(context, introspect::engine_error(done.error()));
    return HttpResponse::no_content();
}

HttpResponse run_profile(EngineContext& context, IntrospectCommand const& command)
{
    Result<dkom::Profile> profile = fail(Errc::InvalidArgument, "no profile given");
    if (!command.profile_path.empty()) {
        profile = dkom::Profile::from_isf_file(command.profile_path);
    } else {
        auto const image = dkom::read_whole_file(command.kernel_image);
        profile = image ? dkom::Profile::from_kernel_image(*image) : Result<dkom::Profile>(Failure(image.error()));
    }
    if (!profile)
        return route_error_response({ 400, fmt::format("the profile cannot be read: {}", to_string(profile.error())), "bad_profile" });
    context.set_profile(std::move(*profile));
    return HttpResponse::no_content();
}

} // namespace

bool IntrospectRoutes::handle(http::HttpRequest const& request, http::HttpResponder const& respond)
{
    auto parsed = parse_introspect_request(request);
    if (!parsed)
        return false;
    if (!*parsed) {
        respond(route_error_response(parsed->error()));
        return true;
    }
    IntrospectCommand command = std::move(**parsed);
    if (command.kind == Kind::Profile) {
        m_engine.submit(std::nullopt, [command, respond](EngineContext& context) { respond(run_profile(context, command)); });
        return true;
    }
    auto target = m_target(command.kind);
    if (!target) {
        respond(route_error_response(target.error()));
        return true;
    }
    m_engine.submit(std::move(*target), [command, respond](EngineContext& context) {
        if (command.kind == Kind::Ps)
            respond(run_ps(context, command));
        else if (command.kind == Kind::Top)
            respond(run_top(context, command));
        else
            respond(run_control(context, command));
    });
    return true;
}

} // namespace monarch::vmm::api

// SPDX-License-Identifier: Apache-2.0
// ApiTarget: the introspection endpoints' JSON, turned back into the values the QEMU target
// prints. Every field is checked: a malformed answer is an error, never a crash.
#include "dkom/tools/api_target.h"

#include <filesystem>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace monarch::dkom::tools {

namespace {

constexpr std::string_view PREFIX = "/api/v1/monarch/introspect/";

ApiError malformed(std::string_view what) { return { EXIT_TARGET, fmt::format("monarch-vmm answered malformed JSON ({})", what) }; }

std::string absolute(std::string const& path)
{
    std::error_code error;
    auto const made = std::filesystem::absolute(path, error);
    return error ? path : made.string();
}

// nlohmann's typed reads throw on a wrong type; our code never throws, so read through this.
template<typename T>
bool read_field(nlohmann::json const& object, char const* key, T& out)
{
    auto const found = object.find(key);
    if (found == object.end())
        return false;
    if constexpr (std::is_same_v<T, std::string>) {
        if (!found->is_string())
            return false;
    } else if constexpr (std::is_same_v<T, bool>) {
        if (!found->is_boolean())
            return false;
    } else if constexpr (std::is_floating_point_v<T>) {
        if (!found->is_number())
            return false;
    } else {
        if (!found->is_number_integer())
            return false;
    }
    out = found->get<T>();
    return true;
}

std::optional<TaskInfo> task_from_json(nlohmann::json const& entry)
{
    TaskInfo task;
    std::string state;
    if (!entry.is_object() || !read_field(entry, "pid", task.pid) || !read_field(entry, "tgid", task.tgid)
        || !read_field(entry, "ppid", task.parent_pid) || !read_field(entry, "comm", task.comm) || !read_field(entry, "state", state)
        || !read_field(entry, "uid", task.uid) || !read_field(entry, "nice", task.nice) || !read_field(entry, "policy", task.policy)
        || !read_field(entry, "cpu_ns", task.sum_exec_runtime_ns) || !read_field(entry, "kernel_thread", task.kernel_thread))
        return std::nullopt;
    task.state_letter = state.size() == 1 ? state[0] : '?';
    uint64_t pgd = 0;
    if (read_field(entry, "pgd", pgd))
        task.page_table_root = GuestPhysAddr { pgd };
    return task;
}

} // namespace

ApiError api_error(http::ClientResponse const& response)
{
    auto const body = nlohmann::json::parse(response.body, nullptr, false);
    std::string message = fmt::format("monarch-vmm answered {}", response.status);
    std::string reason;
    if (body.is_object()) {
        std::string text;
        if (read_field(body, "error", text))
            message = fmt::format("{} ({})", text, response.status);
        (void)read_field(body, "reason", reason);
    }
    int status = EXIT_TARGET;
    if (reason == "not_found")
        status = EXIT_NOT_FOUND;
    else if (reason == "no_profile" || reason == "not_booted" || reason == "bad_profile")
        status = EXIT_PROFILE;
    else if (reason == "bad_request")
        status = EXIT_USAGE;
    else if (response.status == 404 && reason.empty())
        message += ": this monarch-vmm has no introspection endpoints";
    return { status, message };
}

ApiResult<ApiTarget> ApiTarget::connect(std::string const& socket_path, std::chrono::milliseconds timeout)
{
    auto client = http::HttpClient::connect(socket_path, timeout);
    if (!client)
        return std::unexpected(ApiError { EXIT_TARGET, fmt::format("{}: {}", socket_path, to_string(client.error())) });
    return ApiTarget { std::move(*client) };
}

ApiResult<http::ClientResponse> ApiTarget::request(http::Method method, std::string const& target, std::string const& body)
{
    auto response = m_client.request(method, target, body);
    if (!response)
        return std::unexpected(ApiError { EXIT_TARGET, fmt::format("{}: {}", target, to_string(response.error())) });
    if (!response->ok())
        return std::unexpected(api_error(*response));
    return std::move(*response);
}

ApiResult<void> ApiTarget::load_profile(std::string const& isf_path, std::string const& kernel_image)
{
    nlohmann::json body = nlohmann::json::object();
    if (!isf_path.empty())
        body["path"] = absolute(isf_path);
    else
        body["kernel_image"] = absolute(kernel_image);
    // Making a profile from a kernel image takes a while.
    auto const saved = m_client.timeout();
    m_client.set_timeout(std::max(saved, std::chrono::milliseconds(120000)));
    auto const done = request(http::Method::Put, fmt::format("{}profile", PREFIX), body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    m_client.set_timeout(saved);
    if (!done)
        return std::unexpected(done.error());
    return {};
}

ApiResult<std::vector<TaskInfo>> ApiTarget::ps(bool threads)
{
    auto const response = request(http::Method::Get, fmt::format("{}ps?threads={}", PREFIX, threads ? 1 : 0));
    if (!response)
        return std::unexpected(response.error());
    auto const body = nlohmann::json::parse(response->body, nullptr, false);
    auto const list = body.is_object() ? body.find("tasks") : body.end();
    if (!body.is_object() || list == body.end() || !list->is_array())
        return std::unexpected(malformed("no task list"));
    std::vector<TaskInfo> tasks;
    for (auto const& entry : *list) {
        auto task = task_from_json(entry);
        if (!task)
            return std::unexpected(malformed("a task entry"));
        tasks.push_back(std::move(*task));
    }
    return tasks;
}

ApiResult<CpuSampling> ApiTarget::top(double rate_hz, double interval_s)
{
    // The answer comes after the sampling interval.
    auto const saved = m_client.timeout();
    m_client.set_timeout(saved + std::chrono::milliseconds(static_cast<int64_t>(interval_s * 1000)));
    auto const response = request(http::Method::Get, fmt::format("{}top?rate={}&interval={}", PREFIX, rate_hz, interval_s));
    m_client.set_timeout(saved);
    if (!response)
        return std::unexpected(response.error());
    auto const body = nlohmann::json::parse(response->body, nullptr, false);
    CpuSampling sampling;
    if (!body.is_object() || !read_field(body, "rounds", sampling.samples) || !read_field(body, "idle_samples", sampling.idle_samples)
        || !read_field(body, "seconds", sampling.seconds) || !read_field(body, "running_seconds", sampling.running_seconds)
        || !body.contains("tasks") || !body["tasks"].is_array())
        return std::unexpected(malformed("a sampling report"));
    for (auto const& entry : body["tasks"]) {
        CpuUsage usage;
        double guest_seconds = 0;
        if (!entry.is_object() || !read_field(entry, "pid", usage.pid) || !read_field(entry, "tgid", usage.tgid)
            || !read_field(entry, "comm", usage.comm) || !read_field(entry, "samples", usage.samples)
            || !read_field(entry, "vmm_seconds", usage.sampled_seconds) || !read_field(entry, "guest_seconds", guest_seconds))
            return std::unexpected(malformed("a sampled task"));
        usage.guest_ns = static_cast<uint64_t>(guest_seconds * 1e9);
        sampling.tasks.push_back(std::move(usage));
    }
    return sampling;
}

ApiResult<void> ApiTarget::control(char const* operation, int32_t pid, std::optional<int32_t> nice)
{
    nlohmann::json body = { { "pid", pid } };
    if (nice)
        body["nice"] = *nice;
    auto const done = request(http::Method::Put, fmt::format("{}{}", PREFIX, operation), body.dump());
    if (!done)
        return std::unexpected(done.error());
    return {};
}

} // namespace monarch::dkom::tools

// SPDX-License-Identifier: Apache-2.0
// ApiTarget: monarch-introspect's second kind of target, a monarch-vmm VM reached through the
// introspection endpoints of its API socket (/api/v1/monarch/introspect/...). The engine runs
// inside monarch-vmm, the only process that maps the guest's memory.
#pragma once

#include "dkom/linux/cpu_sampler.h"
#include "dkom/linux/linux_kernel.h"
#include "http/http_client.h"

#include <expected>
#include <string>
#include <vector>

namespace monarch::dkom::tools {

// A failed request: the exit status monarch-introspect ends with, and the message.
struct ApiError {
    int exit_status { 3 };
    std::string message;
};
template<typename T>
using ApiResult = std::expected<T, ApiError>;

// Exit statuses (docs/monarch-introspect.md), shared with the QEMU target.
inline constexpr int EXIT_USAGE = 2;
inline constexpr int EXIT_TARGET = 3;
inline constexpr int EXIT_PROFILE = 4;
inline constexpr int EXIT_NOT_FOUND = 5;

class ApiTarget {
public:
    [[nodiscard]] static ApiResult<ApiTarget> connect(std::string const& socket_path, std::chrono::milliseconds timeout);

    // Hands the VMM a profile by path (made absolute here: monarch-vmm opens it itself).
    [[nodiscard]] ApiResult<void> load_profile(std::string const& isf_path, std::string const& kernel_image);
    [[nodiscard]] ApiResult<std::vector<TaskInfo>> ps(bool threads);
    [[nodiscard]] ApiResult<CpuSampling> top(double rate_hz, double interval_s);
    [[nodiscard]] ApiResult<void> suspend(int32_t pid) { return control("suspend", pid, std::nullopt); }
    [[nodiscard]] ApiResult<void> resume(int32_t pid) { return control("resume", pid, std::nullopt); }
    [[nodiscard]] ApiResult<void> nice(int32_t pid, int32_t value) { return control("nice", pid, value); }

private:
    explicit ApiTarget(http::HttpClient client) : m_client(std::move(client)) {}
    ApiResult<http::ClientResponse> request(http::Method, std::string const& target, std::string const& body = {});
    ApiResult<void> control(char const* operation, int32_t pid, std::optional<int32_t> nice);

    http::HttpClient m_client;
};

// The exit status for an error answer of the API: its "reason" (introspect_routes.h).
[[nodiscard]] ApiError api_error(http::ClientResponse const&);

} // namespace monarch::dkom::tools

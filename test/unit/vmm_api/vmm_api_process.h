// SPDX-License-Identifier: Apache-2.0
// monarch-vmm started in the background for API tests: its pid, its output (stdout and
// stderr in a file), waiting for its socket and for its exit, and one-call HTTP requests.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace monarch::test {

class VmmProcess {
public:
    // Starts monarch-vmm (or `program`) with `args`; `inherit_fd` >= 0 stays open in the child.
    explicit VmmProcess(std::vector<std::string> const& args, int inherit_fd = -1, std::string program = {});
    ~VmmProcess(); // SIGKILL if still running
    VmmProcess(VmmProcess const&) = delete;
    VmmProcess& operator=(VmmProcess const&) = delete;

    [[nodiscard]] pid_t pid() const { return m_pid; }
    // Polls until `path` accepts a connection or the process ends.
    [[nodiscard]] bool wait_for_socket(std::string const& path, std::chrono::milliseconds timeout);
    // The exit status, or nullopt if it is still running after `timeout` (or died by a signal: -signal).
    [[nodiscard]] std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    [[nodiscard]] bool running();
    void send_signal(int signal);
    [[nodiscard]] std::string output() const;

private:
    pid_t m_pid { -1 };
    std::optional<int> m_status;
    std::string m_output_path;
};

struct ApiReply {
    int status { 0 };
    std::string body;
    [[nodiscard]] nlohmann::json json() const;
};

// One request on a new connection (Content-Length body; none for an empty body).
[[nodiscard]] ApiReply api_call(std::string const& socket, std::string const& method, std::string const& endpoint,
                                std::string const& body = {});

} // namespace monarch::test

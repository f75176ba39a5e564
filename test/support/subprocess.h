// SPDX-License-Identifier: Apache-2.0
// Running a program from a test: its stdout and stderr together, its exit status, and a
// timeout after which it is killed (SIGKILL), so that no test can hang.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace monarch::test {

struct ProcessResult {
    int exit_code { -1 };   // valid when exited is true
    int signal { 0 };       // the terminating signal when exited is false
    bool exited { false };
    bool timed_out { false };
    std::string output;     // stdout and stderr, interleaved as written
};

struct ProcessOptions {
    std::chrono::milliseconds timeout { std::chrono::seconds(60) };
    std::optional<std::string> stdin_data; // none: stdin is /dev/null
    std::vector<std::string> extra_environment; // "NAME=value" added to ours
};

[[nodiscard]] ProcessResult run_process(std::vector<std::string> const& argv, ProcessOptions const& options = {});

// The output with a label, for Catch2's INFO() on failure.
[[nodiscard]] std::string describe(ProcessResult const&);

} // namespace monarch::test

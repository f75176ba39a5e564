// SPDX-License-Identifier: Apache-2.0
// monarch-profile as a user runs it: output, summary and exit statuses.
#include "dkom/profile/profile.h"

#include "support/skip.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <unistd.h>

using namespace monarch;

namespace {

std::string const tool = MONARCH_BINARY_DIR "/src/dkom/profile/monarch-profile";

std::string kernel_directory()
{
    auto fetched = test::run_process({ MONARCH_SOURCE_DIR "/scripts/fetch-linux-kernel" }, { .timeout = std::chrono::seconds(280) });
    if (!fetched.exited || fetched.exit_code != 0)
        test::skip("scripts/fetch-linux-kernel failed (no network to the Debian archive?): " + test::describe(fetched));
    auto text = fetched.output.substr(0, fetched.output.find_last_not_of('\n') + 1);
    return text.substr(text.find_last_of('\n') + 1);
}

} // namespace

TEST_CASE("monarch-profile writes a loadable ISF profile and a summary", "[unit][tool]")
{
    auto directory = kernel_directory();
    std::string out = "/tmp/monarch-profile-test-" + std::to_string(::getpid()) + ".json";
    auto run = test::run_process({ tool, directory + "/vmlinuz", "-o", out }, { .timeout = std::chrono::seconds(100) });
    INFO(test::describe(run));
    REQUIRE(run.exit_code == 0);
    std::string release;
    std::ifstream(directory + "/version") >> release;
    CHECK(run.output.find("symbols, banner Linux version " + release) != std::string::npos);
    auto profile = dkom::Profile::from_isf_file(out);
    std::remove(out.c_str());
    REQUIRE(profile);
    CHECK(profile->symbol_address("init_task"));
    CHECK(profile->field("task_struct", "se.sum_exec_runtime"));
    CHECK(profile->kernel_banner()->starts_with("Linux version " + release));
}

TEST_CASE("monarch-profile exit statuses", "[unit][tool]")
{
    CHECK(test::run_process({ tool }).exit_code == 2);
    CHECK(test::run_process({ tool, "--no-such-option", "x" }).exit_code == 2);
    CHECK(test::run_process({ tool, "--help" }).exit_code == 0);
    auto missing = test::run_process({ tool, "/nonexistent/vmlinuz" });
    CHECK(missing.exit_code == 3);
    CHECK(missing.output.find("/nonexistent/vmlinuz") != std::string::npos);
    std::string garbage = "/tmp/monarch-profile-garbage-" + std::to_string(::getpid());
    std::ofstream(garbage) << std::string(100000, 'x');
    auto not_kernel = test::run_process({ tool, garbage });
    std::remove(garbage.c_str());
    INFO(test::describe(not_kernel));
    CHECK(not_kernel.exit_code == 4);
    CHECK(not_kernel.output.find("neither a bzImage nor an ELF") != std::string::npos);
}

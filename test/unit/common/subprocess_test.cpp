// SPDX-License-Identifier: Apache-2.0
#include "support/subprocess.h"

#include <catch2/catch.hpp>

using namespace monarch::test;
using namespace std::chrono_literals;

TEST_CASE("run_process captures output and the exit status", "[unit][subprocess]")
{
    auto result = run_process({ "sh", "-c", "echo out; echo err >&2; exit 3" });
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 3);
    REQUIRE(result.output.find("out") != std::string::npos);
    REQUIRE(result.output.find("err") != std::string::npos);
}

TEST_CASE("run_process kills a program that outlives its timeout", "[unit][subprocess]")
{
    auto result = run_process({ "sleep", "30" }, { .timeout = 200ms });
    REQUIRE(result.timed_out);
    REQUIRE_FALSE(result.exited);
}

TEST_CASE("run_process feeds standard input", "[unit][subprocess]")
{
    auto result = run_process({ "cat" }, { .stdin_data = std::string("hello") });
    REQUIRE(result.output == "hello");
}

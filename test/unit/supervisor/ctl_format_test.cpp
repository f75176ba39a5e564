// SPDX-License-Identifier: Apache-2.0
// monarchctl's human output: sizes, durations and the list table.
#include "supervisor/ctl_client.h"
#include "supervisor/ctl_format.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>

using namespace monarch::supervisor::ctl;
using nlohmann::json;

TEST_CASE("sizes and durations read as people write them", "[unit][supervisor]")
{
    CHECK(format_size(64ULL << 20) == "64M");
    CHECK(format_size(1ULL << 30) == "1G");
    CHECK(format_size(1536ULL << 10) == "1536K");
    CHECK(format_size(1000) == "1000");
    CHECK(format_duration(std::nullopt) == "-");
    CHECK(format_duration(59) == "59s");
    CHECK(format_duration(61) == "1m01s");
    CHECK(format_duration(3600 + 120) == "1h02m");
    CHECK(format_duration(2 * 86400 + 3 * 3600) == "2d03h");
}

TEST_CASE("the list table has one aligned row per VM", "[unit][supervisor]")
{
    json const vms = json::array({
        { { "name", "a" }, { "state", "running" }, { "cpus", 2 }, { "memory", 64ULL << 20 }, { "uptime", 5 }, { "pid", 100 } },
        { { "name", "longer-name" }, { "state", "stopped" }, { "cpus", 1 }, { "memory", 1ULL << 30 }, { "uptime", nullptr }, { "pid", nullptr } },
    });
    std::istringstream table(format_table(vms));
    std::vector<std::string> lines;
    for (std::string line; std::getline(table, line);)
        lines.push_back(line);
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].starts_with("NAME"));
    // Every column starts at the same offset on every line.
    auto const state_column = lines[0].find("STATE");
    CHECK(lines[1].substr(state_column, 7) == "running");
    CHECK(lines[2].substr(state_column, 7) == "stopped");
    CHECK(lines[1].find("64M") == lines[0].find("MEMORY"));
    CHECK(lines[2].find("1G") == lines[0].find("MEMORY"));
}

TEST_CASE("HTTP statuses map to distinct exit statuses", "[unit][supervisor]")
{
    std::vector<int> const statuses { exit_status_for_http(400), exit_status_for_http(403), exit_status_for_http(404),
        exit_status_for_http(409), exit_status_for_http(502) };
    for (size_t i = 0; i < statuses.size(); ++i) {
        for (size_t j = i + 1; j < statuses.size(); ++j)
            CHECK(statuses[i] != statuses[j]);
        CHECK(statuses[i] != exit_status::Success);
        CHECK(statuses[i] != exit_status::Unreachable);
    }
    CHECK(exit_status_for_http(200) == exit_status::Success);
}

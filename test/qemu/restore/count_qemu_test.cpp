// SPDX-License-Identifier: Apache-2.0
// testos.run=count (the workload the restore test snapshots) under QEMU's TCG: it counts from
// ring 3 and prints every 2^24 steps, each count the one before plus 2^24, until
// testos.timeout ends the guest (status 5).
#include "support/skip.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <regex>

using namespace monarch::test;
using namespace std::chrono_literals;

TEST_CASE("testos count: ring-3 counts every 2^24 steps, each following the last", "[qemu][testos][restore]")
{
    require_program("qemu-system-x86_64");
    auto result = run_process({ "qemu-system-x86_64", "-accel", "tcg", "-M", "microvm", "-kernel", TESTOS_ELF, "-append",
                                  "testos.run=count testos.timeout=4", "-nographic", "-nodefaults", "-no-user-config", "-serial",
                                  "stdio", "-m", "64M", "-device", "isa-debug-exit,iobase=0xf4,iosize=4" },
        { .timeout = 60s });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == ((5 << 1) | 1)); // testos.timeout's status through isa-debug-exit
    std::vector<uint64_t> counts;
    std::regex const line("testos: count ([0-9]+)\r?\n");
    for (auto it = std::sregex_iterator(result.output.begin(), result.output.end(), line); it != std::sregex_iterator(); ++it)
        counts.push_back(std::stoull((*it)[1].str()));
    REQUIRE(counts.size() >= 2);
    CHECK(counts.front() == (1u << 24));
    for (size_t i = 1; i < counts.size(); ++i)
        CHECK(counts[i] == counts[i - 1] + (1u << 24));
}

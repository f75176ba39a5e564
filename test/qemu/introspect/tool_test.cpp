// SPDX-License-Identifier: Apache-2.0
// monarch-introspect end to end: ps lists the spinners the guest's own ps shows, a missing
// pid exits with status 5, a profile that is not one exits with status 4.
#include "session.h"
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <sstream>

using monarch::dkom::test::session;

namespace {

std::vector<std::string> tool(std::vector<std::string> const& command)
{
    auto& s = session();
    std::vector<std::string> argv { std::string(MONARCH_BINARY_DIR) + "/src/dkom/tools/monarch-introspect", "--qemu-gdb",
        s.guest->gdb_address(), "--memory-file", s.guest->memory_file() };
    argv.insert(argv.end(), command.begin(), command.end());
    return argv;
}

} // namespace

TEST_CASE("monarch-introspect ps shows the guest's spinners, and a bad pid or profile exits with its status", "[qemu][dkom][tool]")
{
    auto& s = session();
    s.access.reset(); // QEMU's gdbstub serves one debugger at a time: hand it to the tool
    auto const guest_ps = s.guest->shell("ps -o pid,comm | grep spinner");
    REQUIRE(guest_ps.has_value());
    auto const ps = monarch::test::run_process(tool({ "--kernel-image", s.guest->kernel_image(), "ps" }));
    INFO(monarch::test::describe(ps));
    REQUIRE(ps.exited);
    CHECK(ps.exit_code == 0);
    // Each spinner line of the guest's ps ("  93 spinner") names a pid our listing has as a spinner.
    std::istringstream lines { *guest_ps };
    int pid = 0;
    std::string comm;
    int seen = 0;
    while (lines >> pid >> comm) {
        if (comm != "spinner")
            continue;
        ++seen;
        CHECK(ps.output.find(fmt::format("{:7} {:7}       1", pid, pid)) != std::string::npos);
    }
    CHECK(seen == 2);

    auto const missing = monarch::test::run_process(tool({ "--kernel-image", s.guest->kernel_image(), "show", "3999999" }));
    INFO(monarch::test::describe(missing));
    CHECK(missing.exit_code == 5);

    auto const bad_profile = monarch::test::run_process(tool({ "--profile", std::string(MONARCH_SOURCE_DIR) + "/README.md", "ps" }));
    INFO(monarch::test::describe(bad_profile));
    CHECK(bad_profile.exit_code == 4);
    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}

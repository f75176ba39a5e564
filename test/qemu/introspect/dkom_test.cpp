// SPDX-License-Identifier: Apache-2.0
// DKOM against a real kernel: suspend stops one spinner's counter while the other goes on and
// the guest's /proc agrees; resume makes it advance; nice shows in /proc/PID/stat. The oracle
// is the guest itself (its shell, /proc and the spinners' own counter files), never our reads.
#include "dkom/ops/task_control.h"
#include "session.h"

#include <catch2/catch.hpp>
#include <sstream>
#include <vector>

using namespace monarch;
using namespace monarch::dkom;
using monarch::dkom::test::session;

namespace {

std::vector<int32_t> spinner_pids(LinuxKernel& kernel)
{
    auto const tasks = kernel.tasks({ .threads = false });
    REQUIRE(tasks.has_value());
    std::vector<int32_t> out;
    for (auto const& task : *tasks) {
        if (task.comm == "spinner")
            out.push_back(task.pid);
    }
    return out;
}

// Field `index` (1-based, as proc(5) numbers them) of /proc/PID/stat, read by the guest.
std::string proc_stat_field(dkom::test::LinuxGuest& guest, int32_t pid, size_t index)
{
    auto const text = guest.shell("cat /proc/" + std::to_string(pid) + "/stat");
    REQUIRE(text.has_value());
    auto const close = text->rfind(')');
    REQUIRE(close != std::string::npos);
    std::istringstream fields { text->substr(close + 1) };
    std::string field;
    for (size_t i = 3; i <= index; ++i)
        fields >> field;
    return field;
}

// The spinner's own count, as it last wrote it to /run/spin/PID.
unsigned long long counter(dkom::test::LinuxGuest& guest, int32_t pid)
{
    auto const text = guest.shell("cat /run/spin/" + std::to_string(pid));
    REQUIRE(text.has_value());
    std::istringstream in { *text };
    unsigned long long value = 0;
    in >> value;
    return value;
}

} // namespace

TEST_CASE("suspend stops one spinner while the other runs on, and resume restarts it", "[qemu][dkom][ops]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto symbols = ControlSymbols::from_profile(*s.profile);
    REQUIRE(symbols.has_value());
    TaskControl control { *kernel, *symbols };
    auto const spinners = spinner_pids(*kernel);
    REQUIRE(spinners.size() == 2);
    int32_t const stopped = spinners[0];
    int32_t const running = spinners[1];

    auto const suspended = control.suspend(stopped);
    INFO((suspended ? std::string("ok") : to_string(suspended.error())));
    REQUIRE(suspended.has_value());
    REQUIRE(s.guest->shell("sleep 1").has_value()); // let a last write land
    CHECK(proc_stat_field(*s.guest, stopped, 3) == "T");
    auto const stopped_before = counter(*s.guest, stopped);
    auto const running_before = counter(*s.guest, running);
    REQUIRE(s.guest->shell("sleep 2").has_value());
    CHECK(counter(*s.guest, stopped) == stopped_before);
    CHECK(counter(*s.guest, running) > running_before);
    CHECK(proc_stat_field(*s.guest, stopped, 3) == "T");

    auto const resumed = control.resume(stopped);
    INFO((resumed ? std::string("ok") : to_string(resumed.error())));
    REQUIRE(resumed.has_value());
    REQUIRE(s.guest->shell("sleep 2").has_value());
    CHECK(counter(*s.guest, stopped) > stopped_before);
    CHECK(proc_stat_field(*s.guest, stopped, 3) != "T");
    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}

TEST_CASE("set nice shows in the guest's /proc/PID/stat", "[qemu][dkom][ops]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto symbols = ControlSymbols::from_profile(*s.profile);
    REQUIRE(symbols.has_value());
    TaskControl control { *kernel, *symbols };
    auto const spinners = spinner_pids(*kernel);
    REQUIRE_FALSE(spinners.empty());
    REQUIRE(proc_stat_field(*s.guest, spinners[0], 19) == "0");
    for (int32_t const nice : { 7, -4 }) {
        auto const done = control.set_nice(spinners[0], nice);
        INFO((done ? std::string("ok") : to_string(done.error())));
        REQUIRE(done.has_value());
        CHECK(proc_stat_field(*s.guest, spinners[0], 19) == std::to_string(nice));
    }
    auto const task = kernel->task_by_pid(spinners[0]);
    REQUIRE(task.has_value());
    CHECK(task->nice == -4);
}

TEST_CASE("controlling a pid that does not exist is a clear error and the guest runs on", "[qemu][dkom][ops]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto symbols = ControlSymbols::from_profile(*s.profile);
    REQUIRE(symbols.has_value());
    TaskControl control { *kernel, *symbols };
    auto const missing = control.suspend(4'000'000);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == Errc::NotFound);
    auto const bad_nice = control.set_nice(1, 40);
    REQUIRE_FALSE(bad_nice.has_value());
    CHECK(bad_nice.error().code == Errc::InvalidArgument);
    CHECK_FALSE(s.access->paused());
    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}

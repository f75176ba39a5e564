// SPDX-License-Identifier: Apache-2.0
// In-process timing of one introspection session, which the command-line tool's start-up
// (mostly reading the ISF profile) would hide: the phases of attaching, walking the task list,
// and, after a handshake with bench/introspect/bench.py, one DKOM operation or a sampling run.
#include "dkom/linux/cpu_sampler.h"
#include "dkom/linux/linux_kernel.h"
#include "dkom/ops/task_control.h"
#include "dkom/profile/profile.h"
#include "dkom/qemu/qemu_guest.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace monarch;
using namespace monarch::dkom;

namespace {

constexpr char const* usage_text =
    "usage: monarch-bench-introspect GDB_ADDRESS MEMORY_FILE PROFILE COMMAND\n"
    "  phases REPEATS     time profile, attach, KASLR, then REPEATS walks of processes and of threads\n"
    "  suspend PID | resume PID | sample HZ SECONDS\n"
    "                     attach, print 'ready', wait for a line on stdin, then do it and time it\n";

using Clock = std::chrono::steady_clock;

double milliseconds_since(Clock::time_point start)
{
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int fail_with(char const* what, Error const& error)
{
    std::fprintf(stderr, "monarch-bench-introspect: %s: %s\n", what, to_string(error).c_str());
    return 1;
}

// Walks the task list REPEATS times; prints the count of the last walk and the median time.
int time_walk(LinuxKernel& kernel, char const* name, bool threads, int repeats)
{
    std::vector<double> times;
    size_t count = 0;
    for (int i = 0; i < repeats; ++i) {
        auto const start = Clock::now();
        auto const tasks = kernel.tasks({ .threads = threads });
        if (!tasks)
            return fail_with(name, tasks.error());
        times.push_back(milliseconds_since(start));
        count = tasks->size();
    }
    std::sort(times.begin(), times.end());
    std::printf("%s_count %zu\n%s_ms %.3f\n", name, count, name, times[times.size() / 2]);
    return 0;
}

// The caller (bench.py) starts its clock when it answers, so the figure is request to effect.
bool handshake()
{
    std::printf("ready\n");
    std::fflush(stdout);
    char line[16];
    return std::fgets(line, sizeof(line), stdin) != nullptr;
}

int operate(LinuxKernel& kernel, Profile const& profile, std::string_view command, char** arguments)
{
    auto symbols = ControlSymbols::from_profile(profile);
    if (!symbols)
        return fail_with("symbols", symbols.error());
    TaskControl control { kernel, std::move(*symbols) };
    if (!handshake())
        return 1;
    auto const start = Clock::now();
    if (command == "sample") {
        auto const sampling = sample_cpu(kernel, std::atof(arguments[0]), std::chrono::milliseconds(std::atoi(arguments[1]) * 1000));
        if (!sampling)
            return fail_with("sample", sampling.error());
        std::printf("samples %llu\nseconds %.3f\nrunning_seconds %.3f\n", static_cast<unsigned long long>(sampling->samples),
            sampling->seconds, sampling->running_seconds);
        return 0;
    }
    int32_t const pid = std::atoi(arguments[0]);
    auto const done = command == "suspend" ? control.suspend(pid) : control.resume(pid);
    if (!done)
        return fail_with("operation", done.error());
    std::printf("operation_ms %.3f\n", milliseconds_since(start));
    return 0;
}

} // namespace

int main(int argc, char** argv)
{
    std::string_view const command = argc > 4 ? argv[4] : "";
    int const needed = command == "sample" ? 7 : 6;
    if ((command != "phases" && command != "suspend" && command != "resume" && command != "sample") || argc != needed) {
        std::fputs(usage_text, stderr);
        return 2;
    }
    auto start = Clock::now();
    auto profile = Profile::from_isf_file(argv[3]);
    if (!profile)
        return fail_with("profile", profile.error());
    auto layout = LinuxLayout::from_profile(*profile);
    if (!layout)
        return fail_with("layout", layout.error());
    double const profile_ms = milliseconds_since(start);

    start = Clock::now();
    auto guest = QemuGuest::attach({ argv[1], argv[2], std::chrono::seconds(5) });
    if (!guest)
        return fail_with("attach", guest.error());
    double const attach_ms = milliseconds_since(start);

    start = Clock::now();
    auto kernel = LinuxKernel::attach(**guest, std::move(*layout));
    if (!kernel)
        return fail_with("kaslr", kernel.error());
    double const kaslr_ms = milliseconds_since(start);
    if (command != "phases")
        return operate(*kernel, *profile, command, argv + 5);

    std::printf("profile_ms %.3f\nattach_ms %.3f\nkaslr_ms %.3f\n", profile_ms, attach_ms, kaslr_ms);
    int const repeats = std::max(1, std::atoi(argv[5]));
    if (int const status = time_walk(*kernel, "processes", false, repeats); status != 0)
        return status;
    return time_walk(*kernel, "threads", true, repeats);
}

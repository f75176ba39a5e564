// SPDX-License-Identifier: Apache-2.0
// monarch-introspect: lists and inspects the processes of a running Linux guest from outside
// it, with a profile of the guest's kernel: a QEMU VM (gdbstub + shared memory file), or a
// monarch-vmm VM through its API socket (the engine then runs inside monarch-vmm).
#include "common/log.h"
#include "dkom/linux/cpu_sampler.h"
#include "dkom/linux/linux_kernel.h"
#include "dkom/ops/task_control.h"
#include "dkom/profile/read_file.h"
#include "dkom/qemu/qemu_guest.h"
#include "dkom/tools/api_target.h"

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fmt/format.h>

using namespace monarch;
using namespace monarch::dkom;

namespace {

// Exit statuses (docs/monarch-introspect.md).
constexpr int exit_ok = 0;
constexpr int exit_usage = 2;
constexpr int exit_target = 3;   // the guest cannot be reached
constexpr int exit_profile = 4;  // the profile is unreadable or does not match the guest
constexpr int exit_not_found = 5; // no such pid

struct Options {
    std::string api_socket;
    std::string gdb_address;
    std::string memory_file;
    std::string profile_path;
    std::string kernel_image;
    int timeout_ms { 5000 };
    bool threads { false };
    int32_t pid { -1 };
    int32_t nice { 0 };
    double rate_hz { 100 };
    double interval_s { 1 };
    int count { 1 };
};

Result<Profile> load_profile(Options const& options)
{
    if (!options.profile_path.empty())
        return Profile::from_isf_file(options.profile_path);
    auto const image = TRY(read_whole_file(options.kernel_image));
    return Profile::from_kernel_image(image);
}

int report(Error const& error, int status)
{
    std::fprintf(stderr, "monarch-introspect: %s\n", to_string(error).c_str());
    return status;
}

void print_tasks(std::vector<TaskInfo> const& tasks)
{
    std::printf("%7s %7s %7s %5s %1s %4s %3s %12s %-16s %s\n", "PID", "TGID", "PPID", "UID", "S", "NICE", "POL", "CPU_NS", "COMM", "PGD");
    for (auto const& task : tasks) {
        std::string const pgd = task.page_table_root ? fmt::format("{:#x}", task.page_table_root->raw()) : "-";
        std::printf("%7d %7d %7d %5u %c %4d %3u %12llu %-16s %s\n", task.pid, task.tgid, task.parent_pid, task.uid,
            task.state_letter, task.nice, task.policy, static_cast<unsigned long long>(task.sum_exec_runtime_ns),
            task.kernel_thread ? fmt::format("[{}]", task.comm).c_str() : task.comm.c_str(), pgd.c_str());
    }
}

void print_sampling(CpuSampling const& sampling)
{
    std::printf("%llu rounds in %.2f s (%.0f Hz), guest ran %.2f s, idle vCPU samples %llu\n",
        static_cast<unsigned long long>(sampling.samples), sampling.seconds, static_cast<double>(sampling.samples) / sampling.seconds,
        sampling.running_seconds, static_cast<unsigned long long>(sampling.idle_samples));
    std::printf("%7s %7s %8s %10s %10s %s\n", "PID", "TGID", "SAMPLES", "VMM_CPU_S", "GUEST_S", "COMM");
    for (auto const& usage : sampling.tasks) {
        std::printf("%7d %7d %8llu %10.3f %10.3f %s\n", usage.pid, usage.tgid, static_cast<unsigned long long>(usage.samples),
            usage.sampled_seconds, static_cast<double>(usage.guest_ns) / 1e9, usage.comm.c_str());
    }
    std::fflush(stdout);
}

int top(Options const& options, LinuxKernel& kernel)
{
    for (int round = 0; options.count == 0 || round < options.count; ++round) {
        auto const sampling = sample_cpu(kernel, options.rate_hz, std::chrono::milliseconds(static_cast<int64_t>(options.interval_s * 1000)));
        if (!sampling)
            return report(sampling.error(), exit_target);
        print_sampling(*sampling);
    }
    return exit_ok;
}

int report(tools::ApiError const& error)
{
    std::fprintf(stderr, "monarch-introspect: %s\n", error.message.c_str());
    return error.exit_status;
}

// The same commands against a monarch-vmm VM, through its API socket.
int run_api(Options const& options, std::string const& command)
{
    auto target = tools::ApiTarget::connect(options.api_socket, std::chrono::milliseconds(options.timeout_ms));
    if (!target)
        return report(target.error());
    if (!options.profile_path.empty() || !options.kernel_image.empty()) {
        if (auto loaded = target->load_profile(options.profile_path, options.kernel_image); !loaded)
            return report(loaded.error());
    }
    if (command == "ps" || command == "show") {
        auto tasks = target->ps(options.threads || command == "show");
        if (!tasks)
            return report(tasks.error());
        if (command == "show") {
            std::erase_if(*tasks, [&](TaskInfo const& task) { return task.pid != options.pid; });
            if (tasks->empty())
                return report(tools::ApiError { exit_not_found, fmt::format("no task with pid {}", options.pid) });
        }
        print_tasks(*tasks);
        return exit_ok;
    }
    if (command == "top") {
        for (int round = 0; options.count == 0 || round < options.count; ++round) {
            auto const sampling = target->top(options.rate_hz, options.interval_s);
            if (!sampling)
                return report(sampling.error());
            print_sampling(*sampling);
        }
        return exit_ok;
    }
    tools::ApiResult<void> done = std::unexpected(tools::ApiError { exit_usage, fmt::format("{} needs a QEMU target", command) });
    if (command == "suspend")
        done = target->suspend(options.pid);
    else if (command == "resume")
        done = target->resume(options.pid);
    else if (command == "nice")
        done = target->nice(options.pid, options.nice);
    return done ? exit_ok : report(done.error());
}

int control(Options const& options, std::string const& command, Profile const& profile, LinuxKernel& kernel)
{
    auto symbols = ControlSymbols::from_profile(profile);
    if (!symbols)
        return report(symbols.error(), exit_profile);
    TaskControl tasks { kernel, std::move(*symbols) };
    Result<void> done = fail(Errc::InvalidArgument, "unknown command");
    if (command == "suspend")
        done = tasks.suspend(options.pid);
    else if (command == "resume")
        done = tasks.resume(options.pid);
    else if (command == "nice")
        done = tasks.set_nice(options.pid, options.nice);
    if (!done)
        return report(done.error(), done.error().code == Errc::NotFound ? exit_not_found : exit_target);
    return exit_ok;
}

int run(Options const& options, std::string const& command)
{
    auto profile = load_profile(options);
    if (!profile)
        return report(profile.error(), exit_profile);
    auto layout = LinuxLayout::from_profile(*profile);
    if (!layout)
        return report(layout.error(), exit_profile);
    auto guest = QemuGuest::attach({ options.gdb_address, options.memory_file, std::chrono::milliseconds(options.timeout_ms) });
    if (!guest)
        return report(guest.error(), exit_target);
    auto kernel = LinuxKernel::attach(**guest, std::move(*layout));
    if (!kernel)
        return report(kernel.error(), kernel.error().code == Errc::NotFound ? exit_profile : exit_target);
    if (command == "ps") {
        auto const tasks = kernel->tasks({ .threads = options.threads });
        if (!tasks)
            return report(tasks.error(), tasks.error().code == Errc::Corrupt ? exit_profile : exit_target);
        print_tasks(*tasks);
        return exit_ok;
    }
    if (command == "show") {
        auto const task = kernel->task_by_pid(options.pid);
        if (!task)
            return report(task.error(), task.error().code == Errc::NotFound ? exit_not_found : exit_target);
        print_tasks({ *task });
        return exit_ok;
    }
    if (command == "running") {
        auto const running = kernel->running_tasks();
        if (!running)
            return report(running.error(), exit_target);
        for (auto const& entry : *running) {
            if (entry.task)
                std::printf("vcpu%u %d %s\n", entry.vcpu.raw(), entry.task->pid, entry.task->comm.c_str());
            else
                std::printf("vcpu%u ?\n", entry.vcpu.raw());
        }
        return exit_ok;
    }
    if (command == "top")
        return top(options, *kernel);
    return control(options, command, *profile, *kernel);
}

} // namespace

int main(int argc, char** argv)
{
    Options options;
    CLI::App app { "monarch-introspect: see the processes of a running Linux guest from outside.\n"
                   "Targets: a QEMU VM (--qemu-gdb and --memory-file), or a monarch-vmm VM (--api-socket; the VMM\n"
                   "does the work, with the profile given here or by its --introspect profile=PATH)" };
    app.require_subcommand(1);
    auto* api = app.add_option("--api-socket", options.api_socket, "a monarch-vmm's API socket (its --api-socket PATH)");
    auto* gdb = app.add_option("--qemu-gdb", options.gdb_address, "QEMU gdbstub: HOST:PORT or unix:PATH");
    auto* memory = app.add_option("--memory-file", options.memory_file, "mem-path of QEMU's shared memory-backend-file");
    api->excludes(gdb)->excludes(memory);
    auto* isf = app.add_option("--profile", options.profile_path, "Volatility ISF JSON profile of the guest kernel");
    auto* image = app.add_option("--kernel-image", options.kernel_image, "the guest's kernel image (bzImage or vmlinux)");
    isf->excludes(image);
    app.add_option("--timeout-ms", options.timeout_ms, "deadline for each gdbstub reply or API answer")->check(CLI::Range(100, 600000));
    auto* ps = app.add_subcommand("ps", "list processes");
    ps->add_flag("--threads", options.threads, "list every thread, not only processes");
    auto* show = app.add_subcommand("show", "one task by pid");
    show->add_option("pid", options.pid, "process or thread id")->required()->check(CLI::NonNegativeNumber);
    app.add_subcommand("running", "the task each vCPU runs");
    auto* top_command = app.add_subcommand("top", "CPU time per task, sampled by the VMM, next to the guest's own figure");
    top_command->add_option("--rate", options.rate_hz, "samples per second")->check(CLI::Range(1.0, 10000.0));
    top_command->add_option("--interval", options.interval_s, "seconds per report")->check(CLI::Range(0.1, 3600.0));
    top_command->add_option("--count", options.count, "reports to print (0: until interrupted)")->check(CLI::NonNegativeNumber);
    auto* suspend = app.add_subcommand("suspend", "stop a process (SIGSTOP sent by the guest kernel)");
    suspend->add_option("pid", options.pid, "process id")->required()->check(CLI::PositiveNumber);
    auto* resume = app.add_subcommand("resume", "continue a process (SIGCONT sent by the guest kernel)");
    resume->add_option("pid", options.pid, "process id")->required()->check(CLI::PositiveNumber);
    auto* nice = app.add_subcommand("nice", "set a task's nice value (set_user_nice in the guest kernel)");
    nice->add_option("pid", options.pid, "process or thread id")->required()->check(CLI::PositiveNumber);
    nice->add_option("value", options.nice, "nice, -20..19")->required()->check(CLI::Range(-20, 19));
    try {
        app.parse(argc, argv);
    } catch (CLI::ParseError const& error) {
        return app.exit(error) == 0 ? exit_ok : exit_usage;
    }
    auto const command = app.get_subcommands().front()->get_name();
    if (!options.api_socket.empty()) {
        try {
            return run_api(options, command);
        } catch (std::exception const& error) {
            std::fprintf(stderr, "monarch-introspect: %s\n", error.what());
            return exit_target;
        }
    }
    if (options.gdb_address.empty() || options.memory_file.empty()) {
        std::fprintf(stderr, "monarch-introspect: give --api-socket, or --qemu-gdb and --memory-file\n");
        return exit_usage;
    }
    if (options.profile_path.empty() && options.kernel_image.empty()) {
        std::fprintf(stderr, "monarch-introspect: give --profile or --kernel-image\n");
        return exit_usage;
    }
    try {
        return run(options, command);
    } catch (std::exception const& error) {
        std::fprintf(stderr, "monarch-introspect: %s\n", error.what());
        return exit_target;
    }
}

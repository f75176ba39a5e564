// SPDX-License-Identifier: Apache-2.0
#include "linux_run.h"

#include "support/skip.h"
#include "support/subprocess.h"

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace monarch::test {

std::string vmm_binary() { return MONARCH_BINARY_DIR "/src/vmm/monarch-vmm"; }

std::string scratch_path(std::string const& name)
{
    static std::string const* directory = [] {
        char pattern[] = "/tmp/monarch-linux-test-XXXXXX";
        char* made = ::mkdtemp(pattern);
        if (!made)
            return new std::string("/tmp");
        std::atexit([] { std::error_code ignored; std::filesystem::remove_all(*directory, ignored); });
        return new std::string(made);
    }();
    return *directory + "/" + name;
}

std::string linux_kernel_directory()
{
    auto result = run_process({ MONARCH_SOURCE_DIR "/scripts/fetch-linux-kernel" }, { .timeout = std::chrono::minutes(5) });
    if (!result.exited || result.exit_code != 0)
        skip("scripts/fetch-linux-kernel could not provide Debian's kernel: " + describe(result));
    // The script prints progress on stderr and the directory as its last stdout line.
    std::istringstream lines(result.output);
    std::string line, last;
    while (std::getline(lines, line))
        if (!line.empty())
            last = line;
    return last;
}

namespace {

std::string read_file(std::string const& path)
{
    std::ifstream file(path, std::ios::binary);
    std::ostringstream out;
    out << file.rdbuf();
    return out.str();
}

} // namespace

WatchedRun run_until(std::vector<std::string> const& args, std::function<bool(std::string const&)> done, std::chrono::seconds deadline)
{
    std::string console = scratch_path("console.log");
    std::vector<std::string> argv { vmm_binary() };
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--serial");
    argv.push_back("file:" + console);
    std::vector<char*> raw;
    for (auto& arg : argv)
        raw.push_back(arg.data());
    raw.push_back(nullptr);

    WatchedRun run;
    pid_t pid = 0;
    if (::posix_spawn(&pid, raw[0], nullptr, nullptr, raw.data(), environ) != 0)
        return run;
    auto end = std::chrono::steady_clock::now() + deadline;
    int status = 0;
    while (std::chrono::steady_clock::now() < end) {
        run.console = read_file(console);
        if (done(run.console)) {
            run.satisfied = true;
            break;
        }
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            run.console = read_file(console);
            run.satisfied = done(run.console);
            return run;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
    run.console = read_file(console);
    return run;
}

} // namespace monarch::test

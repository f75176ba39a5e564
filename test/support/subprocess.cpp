// SPDX-License-Identifier: Apache-2.0
#include "support/subprocess.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace monarch::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
    int read_end { -1 };
    int write_end { -1 };
    bool open() { int fds[2]; if (::pipe2(fds, O_CLOEXEC) != 0) return false; read_end = fds[0]; write_end = fds[1]; return true; }
};

void close_fd(int& fd)
{
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

} // namespace

ProcessResult run_process(std::vector<std::string> const& argv, ProcessOptions const& options)
{
    ProcessResult result;
    Pipe output, input;
    if (!output.open() || !input.open()) {
        result.output = std::string("pipe: ") + std::strerror(errno);
        return result;
    }

    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    if (options.stdin_data)
        posix_spawn_file_actions_adddup2(&actions, input.read_end, STDIN_FILENO);
    else
        posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, output.write_end, STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, output.write_end, STDERR_FILENO);

    std::vector<char*> args;
    for (auto const& arg : argv)
        args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    std::vector<std::string> environment_storage;
    for (char** entry = environ; *entry; ++entry)
        environment_storage.emplace_back(*entry);
    for (auto const& extra : options.extra_environment)
        environment_storage.push_back(extra);
    std::vector<char*> environment;
    for (auto& entry : environment_storage)
        environment.push_back(entry.data());
    environment.push_back(nullptr);

    pid_t pid = -1;
    int spawn_error = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environment.data());
    posix_spawn_file_actions_destroy(&actions);
    close_fd(output.write_end);
    close_fd(input.read_end);
    if (spawn_error != 0) {
        result.output = std::string("spawn ") + argv[0] + ": " + std::strerror(spawn_error);
        close_fd(output.read_end);
        close_fd(input.write_end);
        return result;
    }
    if (options.stdin_data) {
        // Small inputs only: a test's stdin fits in the pipe buffer.
        (void)!::write(input.write_end, options.stdin_data->data(), options.stdin_data->size());
    }
    close_fd(input.write_end);

    auto deadline = Clock::now() + options.timeout;
    char buffer[4096];
    for (;;) {
        auto remaining = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (remaining <= 0) {
            result.timed_out = true;
            ::kill(pid, SIGKILL);
            break;
        }
        pollfd pfd { output.read_end, POLLIN, 0 };
        int ready = ::poll(&pfd, 1, static_cast<int>(std::min<long long>(remaining, 1000)));
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready <= 0)
            continue;
        ssize_t count = ::read(output.read_end, buffer, sizeof buffer);
        if (count <= 0)
            break; // EOF: every writer (the child and its children) has closed the pipe
        result.output.append(buffer, static_cast<size_t>(count));
    }
    close_fd(output.read_end);

    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
    if (WIFEXITED(status)) {
        result.exited = true;
        result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        result.signal = WTERMSIG(status);
    }
    return result;
}

std::string describe(ProcessResult const& result)
{
    std::string header = result.timed_out ? "timed out" : result.exited ? "exit status " + std::to_string(result.exit_code) : "killed by signal " + std::to_string(result.signal);
    return header + "; output:\n" + result.output;
}

} // namespace monarch::test

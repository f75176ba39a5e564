// SPDX-License-Identifier: Apache-2.0
// Spawning monarch-vmm with posix_spawn (safe in a threaded process), pidfds, /proc/PID/stat.
#include "supervisor/vm_process.h"

#include "common/scope_guard.h"
#include "http/unix_listener.h"
#include "supervisor/state_dir.h"

#include <cerrno>
#include <charconv>
#include <csignal>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace monarch::supervisor {

namespace {

// The fd number the VMM finds its listening socket on (--api-socket fd=3).
constexpr int CHILD_API_FD = 3;
// Parent-side fds are moved above this so that the child's dup2 onto 0-3 never hits one of
// them (a dup2 of an fd onto itself would keep its close-on-exec flag).
constexpr int HIGH_FD = 10;

Result<UniqueFd> move_high(UniqueFd fd)
{
    UniqueFd high { ::fcntl(fd.get(), F_DUPFD_CLOEXEC, HIGH_FD) };
    if (!high)
        return fail_errno("spawn: F_DUPFD_CLOEXEC");
    return high;
}

// The VMM's API socket, bound and listening here (http::bind_unix_listener: a stale socket file
// left by a VMM that died is replaced, a path someone still listens on is Busy), private to
// monarchd's user, above the fds the child's dup2 targets.
Result<UniqueFd> listen_api_socket(std::string const& path)
{
    auto bound = TRY(http::bind_unix_listener(path));
    if (::chmod(path.c_str(), 0600) != 0) {
        ::unlink(path.c_str());
        return fail_errno("spawn: chmod API socket");
    }
    return move_high(std::move(bound.fd));
}

long pidfd_open(pid_t pid)
{
    return ::syscall(SYS_pidfd_open, pid, 0);
}

} // namespace

Result<SpawnedProcess> spawn_vmm(SpawnRequest const& request)
{
    auto listener = TRY(listen_api_socket(request.api_socket_path));
    ScopeGuard remove_socket { [&] { ::unlink(request.api_socket_path.c_str()); } };
    UniqueFd log { ::open(request.log_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640) };
    if (!log)
        return fail_errno("spawn: open the VMM log");
    log = TRY(move_high(std::move(log)));

    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    ScopeGuard destroy { [&] {
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attributes);
    } };
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, log.get(), STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, log.get(), STDERR_FILENO);
    posix_spawn_file_actions_adddup2(&actions, listener.get(), CHILD_API_FD);
    posix_spawn_file_actions_addclosefrom_np(&actions, CHILD_API_FD + 1);
    sigset_t signals;
    sigemptyset(&signals);
    posix_spawnattr_setsigmask(&attributes, &signals);
    sigfillset(&signals);
    posix_spawnattr_setsigdefault(&attributes, &signals);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    std::vector<std::string> arguments { request.vmm_path, "--api-socket", "fd=" + std::to_string(CHILD_API_FD) };
    arguments.insert(arguments.end(), request.extra_arguments.begin(), request.extra_arguments.end());
    std::vector<char*> argv;
    for (auto& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);

    pid_t pid = 0;
    int const error = ::posix_spawn(&pid, request.vmm_path.c_str(), &actions, &attributes, argv.data(), environ);
    if (error != 0)
        return Failure(Error::from_errno(error, "spawn: posix_spawn monarch-vmm"));
    // Our child cannot be reaped by anyone else, so its pid stays valid for pidfd_open.
    UniqueFd pidfd { static_cast<int>(pidfd_open(pid)) };
    if (!pidfd) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
        return fail_errno("spawn: pidfd_open");
    }
    auto start_time = process_start_time(pid);
    remove_socket.dismiss();
    return SpawnedProcess { { pid, start_time.value_or(0) }, std::move(pidfd) };
}

Result<uint64_t> process_start_time(pid_t pid)
{
    auto text = read_text_file("/proc/" + std::to_string(pid) + "/stat", 64 * 1024);
    if (!text)
        return fail(Errc::NotFound, "process: no /proc/PID/stat");
    std::string_view stat(*text);
    // proc(5): "pid (comm) state ppid ..."; comm may hold spaces and ')', so fields are
    // counted from the last ')'. Field 3 is the state, field 22 the start time.
    auto const close = stat.rfind(')');
    if (close == std::string_view::npos)
        return fail(Errc::Corrupt, "process: malformed /proc/PID/stat");
    stat.remove_prefix(close + 1);
    int field = 2;
    uint64_t start_time = 0;
    while (!stat.empty() && field < 22) {
        while (!stat.empty() && stat.front() == ' ')
            stat.remove_prefix(1);
        ++field;
        auto const end = std::min(stat.find(' '), stat.size());
        auto const value = stat.substr(0, end);
        if (field == 3 && (value == "Z" || value == "X"))
            return fail(Errc::NotFound, "process: a zombie");
        if (field == 22 && std::from_chars(value.data(), value.data() + value.size(), start_time).ec != std::errc {})
            return fail(Errc::Corrupt, "process: malformed start time");
        stat.remove_prefix(end);
    }
    if (field != 22)
        return fail(Errc::Corrupt, "process: /proc/PID/stat too short");
    return start_time;
}

Result<UniqueFd> open_process(ProcessIdentity const& identity)
{
    if (identity.pid <= 0)
        return fail(Errc::NotFound, "process: no pid");
    UniqueFd pidfd { static_cast<int>(pidfd_open(identity.pid)) };
    if (!pidfd)
        return fail(Errc::NotFound, "process: gone");
    auto const start_time = process_start_time(identity.pid);
    if (!start_time || *start_time != identity.start_time)
        return fail(Errc::NotFound, "process: gone (the pid now names another process)");
    return pidfd;
}

Result<void> signal_process(int pidfd, int signal)
{
    if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) != 0 && errno != ESRCH)
        return fail_errno("process: pidfd_send_signal");
    return {};
}

std::optional<ExitStatus> reap_child(int pidfd)
{
    siginfo_t info {};
    if (::waitid(P_PIDFD, static_cast<id_t>(pidfd), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0)
        return std::nullopt;
    if (info.si_code == CLD_EXITED)
        return ExitStatus { true, info.si_status, 0 };
    return ExitStatus { false, 0, info.si_status };
}

} // namespace monarch::supervisor

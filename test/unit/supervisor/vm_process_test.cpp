// SPDX-License-Identifier: Apache-2.0
// spawn_vmm and process identity, with a shell script standing in for monarch-vmm (what is
// tested here is the spawning: arguments, fd 3, stdio, session, the exit status through the
// pidfd; the real monarch-vmm runs in monarchd_test.cpp).
#include "http/unix_listener.h"
#include "supervisor/state_dir.h"
#include "supervisor/vm_process.h"
#include "temp_dir.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <sstream>
#include <csignal>
#include <filesystem>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace monarch::supervisor;
using monarch::test::TempDir;
namespace fs = std::filesystem;

namespace {

// Waits for the pidfd to become readable (the child exited).
bool wait_exit(int pidfd, int timeout_ms)
{
    pollfd fd { pidfd, POLLIN, 0 };
    return ::poll(&fd, 1, timeout_ms) == 1;
}

} // namespace

TEST_CASE("spawn_vmm passes a listening socket as fd 3 and stdio to the log and nothing else", "[unit][supervisor]")
{
    TempDir dir;
    std::string const script = dir.path + "/fake-vmm";
    // Reports its arguments, its fds, its session and whether fd 3 is a socket; exits 3.
    REQUIRE(write_file_atomically(script,
        "#!/bin/sh\necho \"args: $*\"\nls /proc/self/fd | tr '\\n' ' '; echo\n"
        "[ -S /proc/self/fd/3 ] || [ \"$(readlink /proc/self/fd/3 | cut -c1-7)\" = socket: ] && echo fd3-socket\n"
        "echo sid=$(cut -d' ' -f6 /proc/$$/stat) pid=$$\nexit 3\n"));
    REQUIRE(::chmod(script.c_str(), 0755) == 0);

    SpawnRequest const request { script, dir.path + "/api.sock", dir.path + "/vmm.log", { "--extra", "x" } };
    auto spawned = spawn_vmm(request);
    REQUIRE(spawned);
    CHECK(spawned->identity.pid > 0);
    CHECK(fs::exists(request.api_socket_path));
    REQUIRE(wait_exit(spawned->pidfd.get(), 10000));
    auto status = reap_child(spawned->pidfd.get());
    REQUIRE(status);
    CHECK(status->exited);
    CHECK(status->code == 3);

    auto log = read_text_file(request.log_path);
    REQUIRE(log);
    INFO(*log);
    CHECK(log->find("args: --api-socket fd=3 --extra x") != std::string::npos);
    CHECK(log->find("fd3-socket") != std::string::npos);
    // fds 0-3, and the one ls opens to read /proc/self/fd: nothing of ours leaked past 3.
    auto const first_newline = log->find('\n');
    std::istringstream fds(log->substr(first_newline + 1, log->find('\n', first_newline + 1) - first_newline - 1));
    std::vector<int> numbers;
    for (int fd = 0; fds >> fd;)
        numbers.push_back(fd);
    CHECK(std::find(numbers.begin(), numbers.end(), 3) != numbers.end());
    CHECK(*std::max_element(numbers.begin(), numbers.end()) <= 4);
    // Its own session: the session id is its pid.
    auto const at = log->find("sid=");
    REQUIRE(at != std::string::npos);
    int sid = 0;
    int pid = 0;
    REQUIRE(std::sscanf(log->c_str() + at, "sid=%d pid=%d", &sid, &pid) == 2);
    CHECK(sid == pid);
}

TEST_CASE("a missing binary is an error and leaves no socket", "[unit][supervisor]")
{
    TempDir dir;
    SpawnRequest const request { dir.path + "/none", dir.path + "/api.sock", dir.path + "/vmm.log", {} };
    auto spawned = spawn_vmm(request);
    // posix_spawn reports exec failures (glibc uses CLONE_VFORK), so nothing runs.
    CHECK_FALSE(spawned);
    CHECK_FALSE(fs::exists(request.api_socket_path));
}

TEST_CASE("a process is identified by pid and start time and never by pid alone", "[unit][supervisor]")
{
    auto const self_start = process_start_time(::getpid());
    REQUIRE(self_start);
    CHECK(*self_start > 0);
    CHECK(open_process({ ::getpid(), *self_start }));
    auto const other = open_process({ ::getpid(), *self_start + 1 });
    REQUIRE_FALSE(other);
    CHECK(other.error().code == monarch::Errc::NotFound);
    CHECK_FALSE(open_process({ 0, 0 }));
}

TEST_CASE("a killed child's signal is reaped through its pidfd and a zombie is not alive", "[unit][supervisor]")
{
    TempDir dir;
    std::string const script = dir.path + "/sleeper";
    REQUIRE(write_file_atomically(script, "#!/bin/sh\nexec sleep 30\n"));
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
    auto spawned = spawn_vmm({ script, dir.path + "/api.sock", dir.path + "/vmm.log", {} });
    REQUIRE(spawned);
    CHECK(process_start_time(spawned->identity.pid));
    REQUIRE(signal_process(spawned->pidfd.get(), SIGKILL));
    REQUIRE(wait_exit(spawned->pidfd.get(), 10000));
    CHECK_FALSE(process_start_time(spawned->identity.pid)); // a zombie until reaped
    auto status = reap_child(spawned->pidfd.get());
    REQUIRE(status);
    CHECK_FALSE(status->exited);
    CHECK(status->signal == SIGKILL);
}

TEST_CASE("the API socket is private, replaces a stale socket file and never one still listened on", "[unit][supervisor]")
{
    TempDir dir;
    std::string const script = dir.path + "/fake-vmm";
    REQUIRE(write_file_atomically(script, "#!/bin/sh\nexit 0\n"));
    REQUIRE(::chmod(script.c_str(), 0755) == 0);
    SpawnRequest const request { script, dir.path + "/api.sock", dir.path + "/vmm.log", {} };

    // A socket file nobody listens on any more (a VMM that died): replaced.
    {
        auto stale = monarch::http::bind_unix_listener(request.api_socket_path);
        REQUIRE(stale);
    } // closed: the file stays, with no listener behind it
    REQUIRE(fs::exists(request.api_socket_path));
    auto spawned = spawn_vmm(request);
    REQUIRE(spawned);
    struct stat status {};
    REQUIRE(::stat(request.api_socket_path.c_str(), &status) == 0);
    CHECK(S_ISSOCK(status.st_mode));
    CHECK((status.st_mode & 0777) == 0600);
    REQUIRE(wait_exit(spawned->pidfd.get(), 10000));
    (void)reap_child(spawned->pidfd.get());

    // A socket somebody still listens on is not taken from it.
    ::unlink(request.api_socket_path.c_str());
    auto listening = monarch::http::bind_unix_listener(request.api_socket_path);
    REQUIRE(listening);
    auto refused = spawn_vmm(request);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == monarch::Errc::Busy);
    CHECK(fs::exists(request.api_socket_path)); // still the listener's

    // A path that is not a socket is refused and left alone.
    std::string const regular = dir.path + "/not-a-socket";
    REQUIRE(write_file_atomically(regular, "data"));
    auto not_socket = spawn_vmm(SpawnRequest { script, regular, dir.path + "/vmm.log", {} });
    REQUIRE_FALSE(not_socket);
    CHECK(read_text_file(regular) == std::string("data"));
}

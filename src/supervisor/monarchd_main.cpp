// SPDX-License-Identifier: Apache-2.0
// monarchd: the Monarch supervisor daemon (docs/monarchd.md). Single-threaded: the management
// API, the VMMs' pidfds and every timer run on one Asio io_context.
#include "common/log.h"
#include "common/unique_fd.h"
#include "http/http_server.h"
#include "supervisor/daemon_options.h"
#include "supervisor/management_api.h"
#include "supervisor/supervisor.h"

#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::supervisor;

namespace {

// fds 0-2 open (on /dev/null if closed) so that no socket or pidfd ever takes their numbers.
void ensure_standard_fds()
{
    for (int fd = 0; fd < 3; ++fd) {
        if (::fcntl(fd, F_GETFD) < 0 && ::open("/dev/null", O_RDWR) < 0)
            std::_Exit(daemon_exit::CannotCreate);
    }
}

// Group members must reach the socket: the state directory and the socket go to that group.
void share_with_group(DaemonOptions const& options)
{
    group const* entry = ::getgrnam(options.group.c_str());
    ::chmod(options.socket.c_str(), 0660);
    if (!entry || ::geteuid() != 0)
        return;
    (void)::chown(options.state_dir.c_str(), 0, entry->gr_gid);
    (void)::chown(options.socket.c_str(), 0, entry->gr_gid);
}

// Each VM costs monarchd about five descriptors (pidfd, API connection, the client's event
// loop): the usual soft limit of 1024 would cap it near 200 VMs, so take the hard limit.
void raise_fd_limit()
{
    rlimit limit {};
    if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        (void)::setrlimit(RLIMIT_NOFILE, &limit);
    }
}

} // namespace

int main(int argc, char** argv)
{
    auto options = parse_daemon_options(argc, argv);
    if (!options) {
        std::fputs(options.error().text.c_str(), options.error().status == 0 ? stdout : stderr);
        return options.error().status;
    }
    ensure_standard_fds();
    raise_fd_limit();
    ::signal(SIGPIPE, SIG_IGN);
    ::umask(0027);
    log::set_prefix("monarchd");
    log::set_level(log::Level::Info);

    auto state_dir = StateDir::open(options->state_dir);
    if (!state_dir) {
        log::error("state directory {}: {}", options->state_dir, to_string(state_dir.error()));
        return daemon_exit::CannotCreate;
    }
    // One monarchd per state directory: a second would start every VM twice.
    UniqueFd lock { ::open((options->state_dir + "/monarchd.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640) };
    if (!lock)
        return daemon_exit::CannotCreate;
    if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
        log::error("another monarchd runs on {}", options->state_dir);
        return daemon_exit::AlreadyRunning;
    }

    EventLog events = EventLog::open(options->event_log);
    boost::asio::io_context io;
    SupervisorConfig config;
    config.vmm_path = options->vmm;
    config.vmm_arguments = options->vmm_arguments;
    config.restart_delay = options->restart_delay;
    Supervisor supervisor(io, std::move(*state_dir), events, config);
    events.write("daemon.started", { { "pid", ::getpid() }, { "state_dir", options->state_dir }, { "socket", options->socket },
                                       { "vmm", options->vmm } });
    supervisor.recover();

    ManagementApi api(supervisor, PeerAuthorizer(options->group, ::geteuid()), events);
    auto server = http::HttpServer::listen_path(io, options->socket, [&api](http::HttpRequest const& request) {
        return api.handle(request);
    });
    if (!server) {
        log::error("cannot listen on {}: {}", options->socket, to_string(server.error()));
        return daemon_exit::CannotCreate;
    }
    share_with_group(*options);

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](boost::system::error_code, int signal) {
        // The VMs keep running; the next monarchd adopts them.
        events.write("daemon.stopping", { { "signal", signal } });
        (*server)->close();
        io.stop();
    });
    log::info("listening on {} (state {})", options->socket, options->state_dir);
    io.run();
    return daemon_exit::Success;
}

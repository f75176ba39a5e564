// SPDX-License-Identifier: Apache-2.0
// monarchd's options with CLI11; CLI11 throws on errors, which become a DaemonExit here.
#include "supervisor/daemon_options.h"

#include "supervisor/state_dir.h"

#include <CLI/CLI.hpp>
#include <climits>
#include <unistd.h>

namespace monarch::supervisor {

namespace {

bool is_executable(std::string const& path)
{
    return !path.empty() && ::access(path.c_str(), X_OK) == 0;
}

} // namespace

std::string default_vmm_path()
{
    char self[PATH_MAX] {};
    ssize_t const n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        std::string beside(self, static_cast<size_t>(n));
        beside = beside.substr(0, beside.rfind('/') + 1) + "monarch-vmm";
        if (is_executable(beside))
            return beside;
    }
#ifdef MONARCH_BUILD_VMM
    if (is_executable(MONARCH_BUILD_VMM))
        return MONARCH_BUILD_VMM;
#endif
    return {};
}

std::expected<DaemonOptions, DaemonExit> parse_daemon_options(int argc, char const* const* argv)
{
    DaemonOptions options;
    double restart_delay = 1.0;
    CLI::App app { "monarchd: the Monarch supervisor daemon (docs/monarchd.md)", "monarchd" };
    app.set_version_flag("--version", std::string("monarchd ") + MONARCH_VERSION);
    app.add_option("--state-dir", options.state_dir, "State directory (default /var/lib/monarch for root, else $XDG_STATE_HOME/monarch)");
    app.add_option("--socket", options.socket, "Management API socket (default STATE_DIR/monarchd.sock)");
    app.add_option("--log-file", options.event_log, "Structured log, one JSON line per event; - for stderr (default STATE_DIR/monarchd.log)");
    app.add_option("--vmm", options.vmm, "monarch-vmm binary (default: the one beside monarchd, else the build tree's)");
    app.add_option("--group", options.group, "Group whose members may use the API besides root (default monarch)");
    app.add_option("--vmm-arg", options.vmm_arguments, "An extra argument for every monarch-vmm (repeatable)")->allow_extra_args(false);
    app.add_option("--restart-delay", restart_delay, "First back-off before an on-failure restart, seconds (doubles per failure, at most 60)")
        ->check(CLI::Range(0.0, 60.0));
    try {
        app.parse(argc, argv);
    } catch (CLI::CallForHelp const&) {
        return std::unexpected(DaemonExit { daemon_exit::Success, app.help() });
    } catch (CLI::CallForVersion const&) {
        return std::unexpected(DaemonExit { daemon_exit::Success, std::string("monarchd ") + MONARCH_VERSION + "\n" });
    } catch (CLI::ParseError const& error) {
        return std::unexpected(DaemonExit { daemon_exit::Usage, std::string("monarchd: ") + error.what() + "\n" });
    }
    options.restart_delay = std::chrono::milliseconds(static_cast<int64_t>(restart_delay * 1000));
    if (options.state_dir.empty())
        options.state_dir = default_state_dir();
    if (options.state_dir[0] != '/')
        return std::unexpected(DaemonExit { daemon_exit::Usage, "monarchd: --state-dir must be an absolute path\n" });
    if (options.socket.empty())
        options.socket = options.state_dir + "/monarchd.sock";
    if (options.event_log.empty())
        options.event_log = options.state_dir + "/monarchd.log";
    if (options.vmm.empty())
        options.vmm = default_vmm_path();
    if (!is_executable(options.vmm))
        return std::unexpected(DaemonExit { daemon_exit::NoVmm, "monarchd: no executable monarch-vmm (give --vmm PATH)\n" });
    return options;
}

} // namespace monarch::supervisor

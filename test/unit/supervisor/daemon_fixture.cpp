// SPDX-License-Identifier: Apache-2.0
// DaemonFixture: monarchd as a background process for the tests of monarchd_test.cpp.
#include "daemon_fixture.h"

#include "http/http_client.h"
#include "supervisor/state_dir.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace monarch::test {

using nlohmann::json;

DaemonFixture::DaemonFixture()
{
    char pattern[] = "/tmp/monarchd-XXXXXX"; // short: socket paths must fit sun_path
    char const* made = ::mkdtemp(pattern);
    REQUIRE(made);
    m_dir = made;
}

DaemonFixture::~DaemonFixture()
{
    stop_daemon();
    // Kill whatever VMM the state directory still names (a failed test must not leak one).
    auto const vms = m_dir + "/state/vms";
    if (std::filesystem::exists(vms)) {
        for (auto const& entry : std::filesystem::directory_iterator(vms)) {
            auto text = supervisor::read_text_file(entry.path().string() + "/state.json");
            auto state = text ? json::parse(*text, nullptr, false) : json();
            if (state.is_object() && state.contains("pid") && state["pid"].is_number_integer()) {
                (void)signal_vmm(state["pid"].get<pid_t>(), SIGKILL);
            }
        }
    }
    std::filesystem::remove_all(m_dir);
}

void DaemonFixture::start(std::vector<std::string> const& extra_arguments)
{
    REQUIRE(m_pid < 0);
    std::vector<std::string> arguments { MONARCHD, "--state-dir", state_dir(), "--socket", socket(), "--log-file",
        m_dir + "/events.log", "--vmm", MONARCH_VMM, "--restart-delay", "0.2" };
    arguments.insert(arguments.end(), extra_arguments.begin(), extra_arguments.end());
    std::vector<char*> argv;
    for (auto& argument : arguments)
        argv.push_back(argument.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    std::string const output = m_dir + "/monarchd.out";
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int const error = ::posix_spawn(&m_pid, MONARCHD, &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    REQUIRE(error == 0);
    bool const up = eventually([&] {
        auto client = http::HttpClient::connect(socket(), std::chrono::seconds(2));
        if (!client)
            return false;
        auto answer = client->request(http::Method::Get, "/api/v1/ping");
        return answer && answer->status == 200;
    }, 30);
    if (!up) {
        auto const text = supervisor::read_text_file(output);
        FAIL("monarchd did not answer within 30 s: " << (text ? *text : std::string("(no output)")));
    }
}

void DaemonFixture::kill_daemon()
{
    if (m_pid < 0)
        return;
    ::kill(m_pid, SIGKILL);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
}

void DaemonFixture::stop_daemon()
{
    if (m_pid < 0)
        return;
    ::kill(m_pid, SIGTERM);
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
}

ProcessResult DaemonFixture::ctl(std::vector<std::string> const& arguments, std::vector<std::string> const& prefix) const
{
    std::vector<std::string> argv = prefix;
    argv.insert(argv.end(), { MONARCHCTL, "--socket", socket() });
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_process(argv, { .timeout = std::chrono::seconds(90) });
}

json DaemonFixture::ctl_json(std::vector<std::string> const& arguments) const
{
    std::vector<std::string> with_json { "--json" };
    with_json.insert(with_json.end(), arguments.begin(), arguments.end());
    auto const result = ctl(with_json);
    // stderr is interleaved; the JSON document is the part from the first '{' or '['.
    auto const begin = result.output.find_first_of("{[");
    return begin == std::string::npos ? json(json::value_t::discarded)
                                      : json::parse(result.output.substr(begin), nullptr, false);
}

void DaemonFixture::create_vm(std::string const& name, std::vector<std::string> const& extra) const
{
    std::vector<std::string> arguments { "create", name, "--kernel", TESTOS, "--memory", "64M" };
    arguments.insert(arguments.end(), extra.begin(), extra.end());
    auto const result = ctl(arguments);
    INFO(describe(result));
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 0);
}

std::string DaemonFixture::events() const
{
    return supervisor::read_text_file(m_dir + "/events.log", 64 * 1024 * 1024).value_or(std::string());
}

std::string DaemonFixture::vmm_log(std::string const& name) const
{
    return supervisor::read_text_file(state_dir() + "/vms/" + name + "/vmm.log", 64 * 1024).value_or(std::string());
}

size_t DaemonFixture::daemon_fd_count() const
{
    size_t count = 0;
    for ([[maybe_unused]] auto const& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(m_pid) + "/fd"))
        ++count;
    return count;
}

bool process_alive(pid_t pid)
{
    auto const stat = supervisor::read_text_file("/proc/" + std::to_string(pid) + "/stat", 64 * 1024);
    if (!stat)
        return false;
    auto const close = stat->rfind(')');
    return close != std::string::npos && close + 2 < stat->size() && (*stat)[close + 2] != 'Z' && (*stat)[close + 2] != 'X';
}

pid_t pid_of(json const& vm)
{
    return vm.is_object() && vm.contains("pid") && vm["pid"].is_number_integer() ? vm["pid"].get<pid_t>() : -1;
}

bool signal_vmm(pid_t pid, int signal)
{
    return pid > 0 && ::kill(pid, signal) == 0;
}

size_t count_of(std::string const& text, std::string const& needle)
{
    size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
        ++n;
    return n;
}

} // namespace monarch::test

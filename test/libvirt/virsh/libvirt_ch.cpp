// SPDX-License-Identifier: Apache-2.0
#include "libvirt_ch.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <unistd.h>

namespace monarch::test {

namespace {

std::filesystem::path const script = MONARCH_SOURCE_DIR "/scripts/libvirt-ch";

std::string trimmed(std::string text)
{
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.pop_back();
    return text;
}

// The last line of a script's output: its result (progress goes before it, on stderr).
std::string last_line(std::string const& output)
{
    auto text = trimmed(output);
    auto newline = text.rfind('\n');
    return newline == std::string::npos ? text : text.substr(newline + 1);
}

// /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
std::optional<pid_t> parent_of(std::string const& stat)
{
    auto close = stat.rfind(')');
    if (close == std::string::npos)
        return std::nullopt;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    pid_t parent = 0;
    if (!(fields >> state >> parent))
        return std::nullopt;
    return parent;
}

} // namespace

TemporaryDirectory::TemporaryDirectory()
{
    std::string pattern = (std::filesystem::temp_directory_path() / "monarch-libvirt.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    m_path = pattern;
}

TemporaryDirectory::~TemporaryDirectory()
{
    std::error_code ignored;
    std::filesystem::remove_all(m_path, ignored);
}

std::string read_text_file(std::filesystem::path const& path)
{
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

void write_text_file(std::filesystem::path const& path, std::string const& text)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    REQUIRE(out.good());
}

std::filesystem::path ch_compat_directory()
{
    return MONARCH_CH_COMPAT_DIR;
}

Virtchd::Virtchd()
{
    // Instant when the fixture already built it; otherwise this is the build (minutes).
    auto built = run_process({ script.string(), "build" }, { .timeout = std::chrono::minutes(40) });
    INFO(describe(built));
    REQUIRE(built.exit_code == 0);
    m_prefix = last_line(built.output);

    std::string pattern = (std::filesystem::temp_directory_path() / "monarch-virtchd.XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    m_directory = pattern;

    auto started = run_process({ script.string(), "start", m_directory.string(), ch_compat_directory().string() },
        { .timeout = std::chrono::minutes(2) });
    INFO(describe(started));
    REQUIRE(started.exit_code == 0);
    m_uri = trimmed(read_text_file(m_directory / "uri"));
    REQUIRE(m_uri == last_line(started.output));
    m_pid = static_cast<pid_t>(std::stol(read_text_file(m_directory / "virtchd.pid.launch")));
}

Virtchd::~Virtchd()
{
    (void)run_process({ script.string(), "stop", m_directory.string() }, { .timeout = std::chrono::seconds(30) });
    std::error_code ignored;
    std::filesystem::remove_all(m_directory, ignored);
}

ProcessResult Virtchd::virsh(std::vector<std::string> const& arguments) const
{
    std::vector<std::string> argv { (m_prefix / "bin/virsh").string(), "-c", m_uri };
    argv.insert(argv.end(), arguments.begin(), arguments.end());
    return run_process(argv, { .timeout = std::chrono::minutes(2) });
}

std::string Virtchd::daemon_output() const
{
    return read_text_file(m_directory / "virtchd.out");
}

std::vector<pid_t> Virtchd::children() const
{
    std::vector<pid_t> children;
    for (auto const& entry : std::filesystem::directory_iterator("/proc")) {
        auto name = entry.path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos)
            continue;
        if (parent_of(read_text_file(entry.path() / "stat")) == m_pid)
            children.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return children;
}

std::filesystem::path Virtchd::api_socket(std::string const& domain) const
{
    // virCHDriverConfigNew: privileged stateDir is RUNSTATEDIR/libvirt/ch; per user it is
    // $XDG_RUNTIME_DIR/libvirt/ch/run, which scripts/libvirt-ch points into its directory.
    auto state = ::geteuid() == 0 ? m_prefix / "var/run/libvirt/ch" : m_directory / "xdg/run/libvirt/ch/run";
    return state / (domain + "-socket");
}

} // namespace monarch::test

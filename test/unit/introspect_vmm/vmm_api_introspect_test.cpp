// SPDX-License-Identifier: Apache-2.0
// The introspection endpoints as monarch-vmm serves them (api_mode.cpp's composition), with no
// VM (needs no /dev/kvm): monarch-introspect --api-socket gets each refusal and its exit
// status, the other routes still answer, and a bad --introspect profile is a usage error.
#include "support/subprocess.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

std::string const VMM = std::string(MONARCH_BINARY_DIR) + "/src/vmm/monarch-vmm";
std::string const TOOL = std::string(MONARCH_BINARY_DIR) + "/src/dkom/tools/monarch-introspect";

class VmmWithoutVm {
public:
    VmmWithoutVm()
    {
        char pattern[] = "/tmp/monarch-introspect-api-XXXXXX";
        m_dir = ::mkdtemp(pattern) ? pattern : "/tmp";
        m_socket = m_dir + "/api.sock";
        m_pid = ::fork();
        if (m_pid == 0) {
            ::execl(VMM.c_str(), VMM.c_str(), "--api-socket", m_socket.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 100 && !std::filesystem::exists(m_socket); ++i)
            std::this_thread::sleep_for(50ms);
    }
    ~VmmWithoutVm()
    {
        ::kill(m_pid, SIGTERM);
        ::waitpid(m_pid, nullptr, 0);
        std::filesystem::remove_all(m_dir);
    }
    std::string const& socket() const { return m_socket; }

private:
    std::string m_dir;
    std::string m_socket;
    pid_t m_pid { -1 };
};

} // namespace

TEST_CASE("monarch-vmm without a VM: introspection refuses with its reasons, the API still answers", "[unit][introspect]")
{
    VmmWithoutVm vmm;
    REQUIRE(std::filesystem::exists(vmm.socket()));
    auto const ps = run_process({ TOOL, "--api-socket", vmm.socket(), "ps" });
    INFO(describe(ps));
    CHECK(ps.exit_code == 3);
    CHECK(ps.output.find("no VM is running (409)") != std::string::npos);
    auto const bad_profile = run_process({ TOOL, "--api-socket", vmm.socket(), "--profile", "/nonexistent/linux.isf.json", "ps" });
    INFO(describe(bad_profile));
    CHECK(bad_profile.exit_code == 4);
    auto const not_a_profile = run_process({ TOOL, "--api-socket", vmm.socket(), "--profile", std::string(MONARCH_SOURCE_DIR) + "/README.md", "ps" });
    INFO(describe(not_a_profile));
    CHECK(not_a_profile.exit_code == 4);
    auto const suspend = run_process({ TOOL, "--api-socket", vmm.socket(), "suspend", "5" });
    CHECK(suspend.exit_code == 3);
    // A nice outside -20..19 is refused by the tool itself (usage, 2); the VMM checks it again
    // for raw clients (introspect_routes_test.cpp).
    auto const nice = run_process({ TOOL, "--api-socket", vmm.socket(), "nice", "5", "40" });
    CHECK(nice.exit_code == 2);
    auto const unreachable = run_process({ TOOL, "--api-socket", vmm.socket() + ".missing", "ps" });
    CHECK(unreachable.exit_code == 3);
}

TEST_CASE("monarch-vmm --introspect: an unreadable profile is a usage error", "[unit][introspect]")
{
    auto const run = run_process({ VMM, "--api-socket", "/tmp/monarch-introspect-never.sock", "--introspect", "profile=/nonexistent/p.json" });
    INFO(describe(run));
    CHECK(run.exit_code == 64);
    CHECK(run.output.find("--introspect profile=/nonexistent/p.json") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists("/tmp/monarch-introspect-never.sock"));
}

// SPDX-License-Identifier: Apache-2.0
// The API's life cycle on a real guest: boot, vCPU thread names, the serial pty in vm.info,
// pause (the vCPUs stop exiting), resume, power button, reboot, shutdown, boot again, delete,
// and the guest's own exit status ending the VMM. Needs /dev/kvm and the built testos.
#include "kvm/vmm/vmm_process.h"
#include "support/skip.h"
#include "unit/vmm_api/vmm_api_process.h"

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <thread>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

std::string require_guest()
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built (ninja testos)");
    return *testos;
}

// A workload that keeps the vCPU exiting to user space for minutes (docs/testos.md).
std::string long_running_vm(std::string const& kernel, std::string const& run = "pio-bench:4000000000")
{
    return R"({"cpus":{"boot_vcpus":2,"max_vcpus":2},"memory":{"size":134217728},"payload":{"kernel":")" + kernel
        + R"(","cmdline":"testos.run=)" + run + R"("},"serial":{"mode":"Pty"}})";
}

std::vector<std::string> thread_names(pid_t pid)
{
    std::vector<std::string> names;
    for (auto const& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream comm(entry.path() / "comm");
        std::string name;
        std::getline(comm, name);
        names.push_back(name);
    }
    return names;
}

uint64_t exits(std::string const& socket)
{
    return api_call(socket, "GET", "vm.counters").json()["vcpus"]["exits"].get<uint64_t>();
}

} // namespace

TEST_CASE("kvm api: boot, pause, resume, power button, reboot, shutdown, boot again, delete", "[kvm][api]")
{
    auto kernel = require_guest();
    auto socket = scratch_directory() + "/api.sock";
    VmmProcess vmm({ "--api-socket", socket });
    REQUIRE(vmm.wait_for_socket(socket, 10s));
    REQUIRE(api_call(socket, "PUT", "vm.create", long_running_vm(kernel)).status == 204);
    auto boot = api_call(socket, "PUT", "vm.boot");
    INFO(boot.body << vmm.output());
    REQUIRE(boot.status == 204);

    auto info = api_call(socket, "GET", "vm.info").json();
    CHECK(info["state"] == "Running");
    auto pty = info["config"]["serial"]["file"];
    REQUIRE(pty.is_string());
    CHECK(std::filesystem::exists(pty.get<std::string>()));
    auto names = thread_names(vmm.pid());
    CHECK(std::count(names.begin(), names.end(), "vcpu0") == 1);
    CHECK(std::count(names.begin(), names.end(), "vcpu1") == 1);

    std::this_thread::sleep_for(300ms);
    REQUIRE(api_call(socket, "PUT", "vm.pause").status == 204);
    CHECK(api_call(socket, "GET", "vm.info").json()["state"] == "Paused");
    auto const paused_at = exits(socket);
    std::this_thread::sleep_for(300ms);
    CHECK(exits(socket) == paused_at);
    REQUIRE(api_call(socket, "PUT", "vm.resume").status == 204);
    std::this_thread::sleep_for(300ms);
    CHECK(exits(socket) > paused_at);

    REQUIRE(api_call(socket, "PUT", "vm.power-button").status == 204);
    CHECK(api_call(socket, "GET", "vm.counters").json()["acpi_pm"]["power_button_presses"] == 1);
    // A console attached to the serial pty (virsh console, libvirt's record of the path)
    // stays attached across a reboot: the new VM keeps the pty, as Cloud Hypervisor's does.
    int const console = ::open(pty.get<std::string>().c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC);
    REQUIRE(console >= 0);
    for (char buffer[512];;) { // what the first boot printed is still queued on the pty: drop it
        pollfd ready { console, POLLIN, 0 };
        if (::poll(&ready, 1, 300) <= 0 || ::read(console, buffer, sizeof buffer) <= 0)
            break;
    }
    REQUIRE(api_call(socket, "PUT", "vm.reboot").status == 204);
    auto const rebooted = api_call(socket, "GET", "vm.info").json();
    CHECK(rebooted["state"] == "Running");
    CHECK(rebooted["config"]["serial"]["file"] == pty);
    std::string seen;
    for (auto const deadline = std::chrono::steady_clock::now() + 30s;
         seen.find("testos: booting") == std::string::npos && std::chrono::steady_clock::now() < deadline;) {
        pollfd ready { console, POLLIN, 0 };
        char buffer[512];
        if (::poll(&ready, 1, 200) > 0) {
            auto const n = ::read(console, buffer, sizeof buffer);
            if (n > 0)
                seen.append(buffer, static_cast<size_t>(n));
        }
    }
    ::close(console);
    INFO(seen);
    CHECK(seen.find("testos: booting") != std::string::npos); // the rebooted guest, on the same console
    CHECK(api_call(socket, "GET", "vm.counters").json()["acpi_pm"]["power_button_presses"] == 0); // a fresh VM

    REQUIRE(api_call(socket, "PUT", "vm.shutdown").status == 204);
    CHECK(api_call(socket, "GET", "vm.info").json()["state"] == "Shutdown");
    names = thread_names(vmm.pid());
    CHECK(std::count(names.begin(), names.end(), "vcpu0") == 0);
    REQUIRE(api_call(socket, "PUT", "vm.boot").status == 204);
    CHECK(api_call(socket, "GET", "vm.info").json()["state"] == "Running");
    REQUIRE(api_call(socket, "PUT", "vm.delete").status == 204);
    CHECK(api_call(socket, "GET", "vm.info").status == 404);
    CHECK(vmm.running());
    REQUIRE(api_call(socket, "PUT", "vmm.shutdown").status == 204);
    CHECK(vmm.wait_exit(5s) == 0);
}

TEST_CASE("kvm api: the guest's exit status ends the VMM with that status", "[kvm][api]")
{
    auto kernel = require_guest();
    auto socket = scratch_directory() + "/api.sock";
    VmmProcess vmm({ "--api-socket", socket });
    REQUIRE(vmm.wait_for_socket(socket, 10s));
    REQUIRE(api_call(socket, "PUT", "vm.create", long_running_vm(kernel, "exit:7")).status == 204);
    REQUIRE(api_call(socket, "PUT", "vm.boot").status == 204);
    INFO(vmm.output());
    CHECK(vmm.wait_exit(20s) == 7);
}

TEST_CASE("kvm api: --kernel with --api-socket boots at once and serves the API", "[kvm][api]")
{
    auto kernel = require_guest();
    auto socket = scratch_directory() + "/api.sock";
    VmmProcess vmm({ "--api-socket", socket, "--kernel", kernel, "--cmdline", "testos.run=pio-bench:4000000000",
                     "--serial", "off" });
    REQUIRE(vmm.wait_for_socket(socket, 10s));
    CHECK(api_call(socket, "GET", "vm.info").json()["state"] == "Running");
    vmm.send_signal(SIGTERM);
    CHECK(vmm.wait_exit(5s) == 143);
}

// SPDX-License-Identifier: Apache-2.0
// monarch-vmm --api-socket as a program: ping, create, info, boot (refused with the CLI's own
// message where /dev/kvm is missing, and the VMM stays up), refused transitions, delete,
// vmm.shutdown, signals, an inherited listening fd (as libvirt passes it), libvirt's request
// sequence on one keep-alive connection, bad --api-socket values, and --version as
// cloud-hypervisor.
#include "kvm/vmm/vmm_process.h"
#include "support/skip.h"
#include "unit/http/raw_unix_client.h"
#include "vmm_api_process.h"

#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <regex>
#include <sys/socket.h>
#include <sys/un.h>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

std::string minimal_kernel() { return scratch_file("guest.elf", minimal_pvh_guest(0)); }

std::string vm_body(std::string const& kernel)
{
    return R"({"cpus":{"boot_vcpus":1,"max_vcpus":1},"memory":{"size":67108864},"payload":{"kernel":")" + kernel
        + R"(","cmdline":"quiet"},"serial":{"mode":"Off"}})";
}

// The one error line the CLI prints for this kernel (without the "monarch-vmm: error: " prefix).
std::string cli_error_for(std::string const& kernel)
{
    auto result = run_vmm({ "--kernel", kernel, "--memory", "64M", "--serial", "off" });
    auto lines = error_lines(result.output);
    INFO(describe(result));
    REQUIRE(lines.size() == 1);
    return lines[0].substr(std::string("monarch-vmm: error: ").size());
}

struct ApiVmm {
    std::string socket = scratch_directory() + "/api.sock";
    VmmProcess process { { "--api-socket", socket } };
    ApiVmm()
    {
        INFO(process.output());
        REQUIRE(process.wait_for_socket(socket, 10s));
    }
    ApiReply call(std::string const& method, std::string const& endpoint, std::string const& body = {})
    {
        return api_call(socket, method, endpoint, body);
    }
};

int listening_socket(std::string const& path)
{
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address {};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    // SAFETY: a complete sockaddr_un and its size.
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr const*>(&address), sizeof(address)) != 0 || ::listen(fd, 8) != 0)
        return -1;
    return fd;
}

} // namespace

TEST_CASE("vmm api: ping answers with the VMM's pid", "[unit][vmm_api]")
{
    ApiVmm vmm;
    auto reply = vmm.call("GET", "vmm.ping");
    REQUIRE(reply.status == 200);
    auto body = reply.json();
    CHECK(body["pid"] == vmm.process.pid());
    CHECK(body["version"].is_string());
    CHECK(body["build_version"].is_string());
}

TEST_CASE("vmm api: create, then info shows Created and the config", "[unit][vmm_api]")
{
    ApiVmm vmm;
    CHECK(vmm.call("GET", "vm.info").status == 404);
    auto kernel = minimal_kernel();
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(kernel)).status == 204);
    auto info = vmm.call("GET", "vm.info");
    REQUIRE(info.status == 200);
    auto body = info.json();
    CHECK(body["state"] == "Created");
    CHECK(body["config"]["payload"]["kernel"] == kernel);
    CHECK(body["config"]["payload"]["cmdline"] == "quiet");
    CHECK(body["config"]["memory"]["size"] == 67108864);
    CHECK(body["config"]["cpus"]["boot_vcpus"] == 1);
    CHECK(vmm.call("PUT", "vm.create", vm_body(kernel)).status == 409);
}

TEST_CASE("vmm api: boot without /dev/kvm fails with the CLI's message and the VMM stays up", "[unit][vmm_api]")
{
    ApiVmm vmm;
    auto kernel = minimal_kernel();
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(kernel)).status == 204);
    auto boot = vmm.call("PUT", "vm.boot");
    if (kvm_unavailable_reason().empty()) {
        // A KVM host: the guest boots (and, being minimal, exits with 0: the VMM with it).
        CHECK(boot.status == 204);
        CHECK(vmm.process.wait_exit(10s) == 0);
        return;
    }
    CHECK(boot.status == 500);
    CHECK(boot.json()["error"] == cli_error_for(kernel));
    CHECK(vmm.process.running());
    CHECK(vmm.call("GET", "vmm.ping").status == 200);
    CHECK(vmm.call("GET", "vm.info").json()["state"] == "Created");
}

TEST_CASE("vmm api: a bad kernel fails vm.boot with the same line the CLI prints", "[unit][vmm_api]")
{
    ApiVmm vmm;
    auto missing = scratch_directory() + "/no-such-kernel";
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(missing)).status == 204);
    auto boot = vmm.call("PUT", "vm.boot");
    CHECK(boot.status == 500);
    CHECK(boot.json()["error"] == cli_error_for(missing));
    CHECK(vmm.call("GET", "vm.info").json()["state"] == "Created");
}

TEST_CASE("vmm api: refused transitions in Created and without a VM", "[unit][vmm_api]")
{
    ApiVmm vmm;
    for (auto endpoint : { "vm.boot", "vm.pause", "vm.resume", "vm.shutdown", "vm.reboot", "vm.power-button" }) {
        INFO(endpoint);
        CHECK(vmm.call("PUT", endpoint).status == 404);
    }
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(minimal_kernel())).status == 204);
    for (auto endpoint : { "vm.pause", "vm.resume", "vm.shutdown", "vm.reboot", "vm.power-button" }) {
        INFO(endpoint);
        auto reply = vmm.call("PUT", endpoint);
        CHECK(reply.status == 405);
        CHECK(reply.json()["error"].get<std::string>().find("not") != std::string::npos);
    }
    CHECK(vmm.call("GET", "vm.counters").status == 405);
    CHECK(vmm.call("GET", "vm.info").json()["state"] == "Created");
    CHECK(vmm.call("GET", "vm.nonsense").status == 404);
    CHECK(vmm.call("GET", "vm.boot").status == 405);
}

TEST_CASE("vmm api: malformed and unsupported bodies are 400 and the VMM is unharmed", "[unit][vmm_api]")
{
    ApiVmm vmm;
    CHECK(vmm.call("PUT", "vm.create", "{\"payload\":").status == 400);
    auto unsupported = vmm.call("PUT", "vm.create", R"({"payload":{"kernel":"/k"},"numa":[{"guest_numa_id":0}]})");
    CHECK(unsupported.status == 400);
    CHECK(unsupported.json()["error"].get<std::string>().find("numa") != std::string::npos);
    RawUnixClient big(vmm.socket);
    REQUIRE(big.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: h\r\nContent-Length: 2000000\r\n\r\n"));
    auto too_big = big.read_response(2s);
    REQUIRE(too_big);
    CHECK(status_of(*too_big) == 413);
    RawUnixClient slow(vmm.socket);
    REQUIRE(slow.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n{"));
    CHECK(vmm.call("GET", "vmm.ping").status == 200); // while `slow` holds half a request
    CHECK(vmm.call("GET", "vm.info").status == 404);
}

TEST_CASE("vmm api: delete removes the VM and a new one can be created", "[unit][vmm_api]")
{
    ApiVmm vmm;
    CHECK(vmm.call("PUT", "vm.delete").status == 204);
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(minimal_kernel())).status == 204);
    CHECK(vmm.call("PUT", "vm.delete").status == 204);
    CHECK(vmm.call("GET", "vm.info").status == 404);
    CHECK(vmm.call("PUT", "vm.create", vm_body(minimal_kernel())).status == 204);
}

TEST_CASE("vmm api: vmm.shutdown answers and the process exits 0 and removes its socket", "[unit][vmm_api]")
{
    ApiVmm vmm;
    REQUIRE(vmm.call("PUT", "vm.create", vm_body(minimal_kernel())).status == 204);
    CHECK(vmm.call("PUT", "vmm.shutdown").status == 204);
    INFO(vmm.process.output());
    CHECK(vmm.process.wait_exit(5s) == 0);
    CHECK_FALSE(std::filesystem::exists(vmm.socket));
}

TEST_CASE("vmm api: SIGTERM ends the waiting VMM with 143", "[unit][vmm_api]")
{
    ApiVmm vmm;
    vmm.process.send_signal(SIGTERM);
    CHECK(vmm.process.wait_exit(5s) == 143);
}

TEST_CASE("vmm api: --api-socket fd=N serves on a listening socket the parent created", "[unit][vmm_api]")
{
    auto path = scratch_directory() + "/libvirt-made.sock";
    int fd = listening_socket(path);
    REQUIRE(fd >= 0);
    VmmProcess process({ "--api-socket", "fd=" + std::to_string(fd) }, fd);
    ::close(fd);
    // Exactly what libvirt 9.0's curl sends for vm.boot-like calls: chunked, Expect, no body.
    RawUnixClient client(path);
    REQUIRE(client.connected());
    REQUIRE(client.send(make_request("GET", "/api/v1/vmm.ping")));
    auto ping = client.read_response(5s);
    INFO(process.output());
    REQUIRE(ping);
    CHECK(status_of(*ping) == 200);
    auto const start = std::chrono::steady_clock::now();
    REQUIRE(client.send("PUT /api/v1/vm.pause HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
                        "Expect: 100-continue\r\n\r\n"));
    auto interim = client.read_until("\r\n\r\n", 900ms);
    REQUIRE(interim);
    CHECK(status_of(*interim) == 100);
    REQUIRE(client.send("0\r\n\r\n"));
    auto pause = client.read_response(2s);
    REQUIRE(pause);
    CHECK(status_of(*pause) == 404); // no VM yet: answered, on the same connection
    CHECK(std::chrono::steady_clock::now() - start < 900ms);
    REQUIRE(client.send(make_request("PUT", "/api/v1/vmm.shutdown")));
    CHECK(client.read_response(2s).has_value());
    CHECK(process.wait_exit(5s) == 0);
    CHECK(std::filesystem::exists(path)); // libvirt's socket file is libvirt's to remove
}

TEST_CASE("vmm api: libvirt's create and info on one keep-alive connection", "[unit][vmm_api]")
{
    ApiVmm vmm;
    auto kernel = minimal_kernel();
    RawUnixClient client(vmm.socket);
    std::string const body = R"({"serial":{"mode":"Pty"},"cpus":{"boot_vcpus":1,"max_vcpus":1},"memory":{"size":67108864},)"
                             R"("kernel":{"path":")" + kernel + R"("},"cmdline":{"args":"console=ttyS0"}})";
    REQUIRE(client.send("PUT /api/v1/vm.create HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
    auto created = client.read_response(2s);
    REQUIRE(created);
    CHECK(status_of(*created) == 204);
    REQUIRE(client.send("GET /api/v1/vm.info HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n"
                        "Content-Type: application/json\r\n\r\n"));
    auto info = client.read_response(2s);
    REQUIRE(info);
    auto parsed = nlohmann::json::parse(body_of(*info), nullptr, false);
    CHECK(parsed["state"] == "Created");
    CHECK(parsed["config"]["serial"]["mode"] == "Pty");
    CHECK(parsed["config"]["payload"]["cmdline"] == "console=ttyS0");
}

TEST_CASE("vmm api: bad --api-socket values are usage errors with one line", "[unit][vmm_api]")
{
    for (std::string value : { "fd=abc", "fd=", "", "path=", "fd=-3", "fd=0", "fd=2", "fd=987" }) {
        INFO("--api-socket '" << value << "'");
        auto result = run_vmm({ "--api-socket", value }, 10s);
        INFO(describe(result));
        CHECK(result.exit_code == 64);
        auto lines = error_lines(result.output);
        REQUIRE(lines.size() == 1);
        CHECK(lines[0].find("--api-socket") != std::string::npos);
    }
}

TEST_CASE("vmm api: a path another VMM listens on is refused and left alone", "[unit][vmm_api]")
{
    ApiVmm first;
    auto result = run_vmm({ "--api-socket", first.socket }, 10s);
    INFO(describe(result));
    CHECK(result.exit_code == 73);
    CHECK(error_lines(result.output).size() == 1);
    CHECK(first.call("GET", "vmm.ping").status == 200);
}

TEST_CASE("vmm api: --kernel with --api-socket boots at once and without KVM exits as the CLI does", "[unit][vmm_api]")
{
    if (kvm_unavailable_reason().empty())
        skip("this host has KVM: the refusal path needs a host without /dev/kvm (the KVM tests cover the boot)");
    auto kernel = minimal_kernel();
    auto socket = scratch_directory() + "/k.sock";
    auto with_api = run_vmm({ "--api-socket", socket, "--kernel", kernel, "--memory", "64M", "--serial", "off" }, 10s);
    auto without = run_vmm({ "--kernel", kernel, "--memory", "64M", "--serial", "off" }, 10s);
    INFO(describe(with_api));
    CHECK(with_api.exit_code == without.exit_code);
    CHECK(error_lines(with_api.output) == error_lines(without.output));
    CHECK_FALSE(std::filesystem::exists(socket));
}

TEST_CASE("vmm api: run as cloud-hypervisor, --version prints the CH API level libvirt parses", "[unit][vmm_api]")
{
    auto link = scratch_directory() + "/cloud-hypervisor";
    std::filesystem::create_symlink(vmm_path(), link);
    auto result = run_process({ link, "--version" });
    INFO(describe(result));
    CHECK(result.exit_code == 0);
    // libvirt 9.0 src/ch/ch_conf.c: "cloud-hypervisor v<major>.<minor>.<micro>", at least 15.0.
    std::smatch match;
    REQUIRE(std::regex_match(result.output, match, std::regex("cloud-hypervisor v([0-9]+)\\.([0-9]+)\\.([0-9]+)\n")));
    CHECK(std::stoi(match[1]) >= 15);
    auto plain = run_vmm({ "--version" });
    CHECK(plain.output.starts_with("monarch-vmm "));
}

TEST_CASE("vmm api: a VM whose disk image is missing is refused at boot, naming the image, and the VMM stays up", "[unit][vmm_api]")
{
    ApiVmm vmm;
    auto body = R"({"memory":{"size":67108864},"payload":{"kernel":")" + minimal_kernel()
        + R"("},"disks":[{"path":"/nonexistent-monarch-disk.img"}]})";
    REQUIRE(vmm.call("PUT", "vm.create", body).status == 204);
    auto boot = vmm.call("PUT", "vm.boot");
    CHECK(boot.status == 500);
    // Device back ends are opened before /dev/kvm, so this is the answer on every host.
    auto message = boot.json()["error"].get<std::string>();
    CHECK(message.find("--disk path=/nonexistent-monarch-disk.img") != std::string::npos);
    CHECK(message.find("does not exist") != std::string::npos);
    CHECK(vmm.call("GET", "vm.info").json()["state"] == "Created");
    CHECK(vmm.call("GET", "vmm.ping").status == 200);
}

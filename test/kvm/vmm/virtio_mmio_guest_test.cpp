// SPDX-License-Identifier: Apache-2.0
// testos against monarch-vmm's devices on virtio-mmio (transport=mmio, label kvm): the slots
// announced on the kernel command line are found, blk/rng/console work over them next to PCI
// devices, and the vsock benchmark workload runs over both transports against an echo server
// on the Unix socket monarch-vmm connects to for guest-initiated connections (PATH_PORT).
#include "support/skip.h"
#include "vmm_process.h"

#include "testos/virtio_pattern.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t SEED = 11;

std::string require_testos()
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built in this tree (guests/testos)");
    return *testos;
}

ProcessResult run_workload(std::string const& run, std::vector<std::string> devices)
{
    std::vector<std::string> args { "--kernel", require_testos(), "--memory", "64M", "--serial", "stdio",
        "--cmdline", "testos.run=" + run + " testos.seed=" + std::to_string(SEED) };
    args.insert(args.end(), devices.begin(), devices.end());
    return run_vmm(args, 90s);
}

std::vector<uint8_t> read_all(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

bool contains(std::string const& text, std::string const& part) { return text.find(part) != std::string::npos; }

// Accepts one connection on `path` and echoes it until the peer closes; counts the bytes.
class UnixEcho {
public:
    explicit UnixEcho(std::string path)
    {
        m_listen = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_un address {};
        address.sun_family = AF_UNIX;
        REQUIRE(path.size() < sizeof address.sun_path);
        path.copy(address.sun_path, path.size());
        // SAFETY: sockaddr_un is a sockaddr for bind's purposes; the length is its size.
        REQUIRE(::bind(m_listen, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
        REQUIRE(::listen(m_listen, 1) == 0);
        m_thread = std::thread([this] { serve(); });
    }
    ~UnixEcho()
    {
        ::shutdown(m_listen, SHUT_RDWR);
        m_thread.join();
        ::close(m_listen);
    }
    [[nodiscard]] uint64_t echoed() const { return m_echoed; }

private:
    void serve()
    {
        int connection = ::accept4(m_listen, nullptr, nullptr, SOCK_CLOEXEC);
        if (connection < 0)
            return;
        char buffer[65536];
        for (ssize_t got; (got = ::read(connection, buffer, sizeof buffer)) > 0;) {
            for (ssize_t sent = 0; sent < got;) {
                ssize_t n = ::write(connection, buffer + sent, static_cast<size_t>(got - sent));
                if (n <= 0)
                    break;
                sent += n;
            }
            m_echoed += static_cast<uint64_t>(got);
        }
        ::close(connection);
    }

    int m_listen { -1 };
    std::atomic<uint64_t> m_echoed { 0 };
    std::thread m_thread;
};

} // namespace

TEST_CASE("kvm virtio-mmio: testos finds the slot on its command line and writes its pattern", "[kvm][virtio][mmio]")
{
    std::string image = scratch_file("disk.img", std::vector<uint8_t>(1 << 20, 0));
    auto result = run_workload("virtio-blk", { "--disk", "path=" + image + ",transport=mmio" });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(contains(result.output, "virtio: 0 PCI and 1 MMIO devices"));
    CHECK(contains(result.output, "virtio-blk: result=ok transport=mmio"));
    auto bytes = read_all(image);
    REQUIRE(bytes.size() == (1u << 20));
    for (uint64_t sector = TESTOS_BLK_FIRST_SECTOR; sector < TESTOS_BLK_FIRST_SECTOR + TESTOS_BLK_SECTORS; ++sector)
        for (uint32_t i = 0; i < 512; ++i)
            REQUIRE(bytes[sector * 512 + i] == testos_pattern_byte(SEED, sector, i));
}

TEST_CASE("kvm virtio-mmio: rng and console over mmio next to a PCI disk", "[kvm][virtio][mmio]")
{
    std::string image = scratch_file("disk.img", std::vector<uint8_t>(1 << 20, 0));
    auto list = run_workload("virtio-list", { "--disk", "path=" + image, "--rng", "transport=mmio" });
    INFO(describe(list));
    CHECK(list.exit_code == 0);
    CHECK(contains(list.output, "virtio: 1 PCI and 1 MMIO devices"));

    auto rng = run_workload("virtio-rng", { "--disk", "path=" + image, "--rng", "transport=mmio" });
    INFO(describe(rng));
    CHECK(rng.exit_code == 0);
    CHECK(contains(rng.output, "virtio-rng: result=ok transport=mmio"));

    std::string console_file = scratch_directory() + "/console.txt";
    auto console = run_workload("virtio-console", { "--rng", "transport=mmio", "--console", "file=" + console_file + ",transport=mmio" });
    INFO(describe(console));
    CHECK(console.exit_code == 0);
    auto text = read_all(console_file);
    CHECK(contains(std::string(text.begin(), text.end()), "virtio-console port 0 says hello"));
}

TEST_CASE("kvm virtio-mmio: the ring-3 blk benchmark driver runs over mmio", "[kvm][virtio][mmio]")
{
    std::string image = scratch_file("bench.img", std::vector<uint8_t>(16 << 20, 0x5a));
    auto result = run_workload("virtio-blk-bench:1", { "--disk", "path=" + image + ",transport=mmio" });
    INFO(describe(result));
    CHECK(result.exit_code == 0);
    CHECK(contains(result.output, "virtio-blk-bench: result=ok transport=mmio"));
    CHECK(contains(result.output, "errors=0"));
}

TEST_CASE("kvm virtio-mmio: the vsock benchmark workload against a host echo over both transports", "[kvm][virtio][mmio][vsock]")
{
    for (std::string transport : { "pci", "mmio" }) {
        INFO(transport);
        require_testos();
        std::string socket = scratch_directory() + "/v-" + transport + ".sock";
        uint32_t const port = 1234;
        uint64_t const bytes = 1 << 20;
        uint32_t const rounds = 200;
        UnixEcho echo { socket + "_" + std::to_string(port) };
        auto result = run_workload("virtio-vsock-bench:" + std::to_string(rounds) + " testos.vsock.bytes=" + std::to_string(bytes)
                + " testos.vsock.port=" + std::to_string(port),
            { "--vsock", "cid=3,socket=" + socket + ",transport=" + transport });
        INFO(describe(result));
        CHECK(result.exit_code == 0);
        CHECK(contains(result.output, "virtio-vsock-bench: result=ok transport=" + transport));
        CHECK(contains(result.output, "virtio-vsock-bench: rtt rounds=" + std::to_string(rounds)));
        CHECK(contains(result.output, "virtio-vsock-bench: bulk bytes=" + std::to_string(bytes)));
        CHECK(echo.echoed() == rounds * 64 + bytes);
    }
}

// SPDX-License-Identifier: Apache-2.0
// testos's vsock benchmark workload (virtio-vsock-bench: ping-pong rounds, then a bulk
// transfer) against the tests' vhost-user echo back end under QEMU TCG, over virtio-pci and
// virtio-mmio: the stream the back end saw must be exactly what the workload promises to send,
// and the figures it prints must be there and consistent. The timings themselves mean nothing
// under TCG; bench/virtio/run takes them on KVM.
#include "qemu_virtio.h"
#include "vhost_user_vsock.h"
#include "testos/abi.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

using namespace monarch::test;
using namespace monarch::test::virtio;

namespace {

constexpr Machine ALL_TRANSPORTS[] = { Machine::Q35, Machine::Microvm };

struct BenchRun {
    ProcessResult result;
    VsockLog log;
};

BenchRun run_bench(Machine machine, std::string const& arguments, uint32_t port)
{
    TempFile socket_file("vsock.sock");
    std::filesystem::remove(socket_file.path());
    VhostUserVsock backend { socket_file.path(), 3, port };
    std::vector<std::string> extra { "-object", "memory-backend-memfd,id=mem,size=64M,share=on", "-machine",
        "memory-backend=mem", "-chardev", "socket,id=vs0,path=" + socket_file.path() };
    auto vsock = device(machine, "vhost-user-vsock", ",chardev=vs0");
    extra.insert(extra.end(), vsock.begin(), vsock.end());
    auto result = boot(machine, arguments + " testos.vsock.port=" + std::to_string(port), extra);
    backend.stop();
    return { std::move(result), backend.log() };
}

uint64_t number(std::string const& text)
{
    REQUIRE(!text.empty());
    return std::strtoull(text.c_str(), nullptr, 10);
}

} // namespace

TEST_CASE("virtio-vsock-bench ping-pongs and streams through the echo back end over both transports", "[qemu][virtio][vsock][bench]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        uint64_t const seed = fresh_seed();
        uint32_t const rounds = 5 + static_cast<uint32_t>(seed % 20);
        uint64_t const bytes = 40000 + seed % 30000; // more than the guest's 32 KiB window: credit must flow
        uint32_t const port = 2000 + static_cast<uint32_t>(seed % 100);
        auto run = run_bench(machine, "testos.run=virtio-vsock-bench:" + std::to_string(rounds) + " testos.vsock.bytes=" + std::to_string(bytes), port);
        INFO(run.result.output);
        INFO("back end error: " << run.log.error);
        require_guest_status(run.result, TESTOS_EXIT_SUCCESS);
        REQUIRE(run.log.error.empty());
        REQUIRE(run.log.connected);
        REQUIRE(run.log.port == port);
        REQUIRE(run.log.shutdown);
        // Each round's message is bytes (round + i) for i < 64; then the bulk bytes (i * 7).
        REQUIRE(run.log.received.size() == rounds * 64 + bytes);
        for (uint32_t round = 0; round < rounds; ++round) {
            for (uint32_t i = 0; i < 64; ++i)
                REQUIRE(static_cast<uint8_t>(run.log.received[round * 64 + i]) == static_cast<uint8_t>(round + i));
        }
        for (uint64_t i = 0; i < bytes; ++i)
            REQUIRE(static_cast<uint8_t>(run.log.received[rounds * 64 + i]) == static_cast<uint8_t>((i % 4096) * 7));

        auto const& out = run.result.output;
        REQUIRE(result_field(out, "virtio-vsock-bench: ", "result") == "ok");
        REQUIRE(number(result_field(out, "virtio-vsock-bench: rtt ", "rounds")) == rounds);
        uint64_t const min = number(result_field(out, "virtio-vsock-bench: rtt ", "min_ns"));
        uint64_t const median = number(result_field(out, "virtio-vsock-bench: rtt ", "median_ns"));
        uint64_t const mean = number(result_field(out, "virtio-vsock-bench: rtt ", "mean_ns"));
        REQUIRE(min > 0);
        REQUIRE(min <= median);
        REQUIRE(min <= mean);
        REQUIRE(number(result_field(out, "virtio-vsock-bench: bulk ", "bytes")) == bytes);
        REQUIRE(number(result_field(out, "virtio-vsock-bench: bulk ", "ns")) > 0);
        REQUIRE(number(result_field(out, "virtio-vsock-bench: ", "received")) == rounds * 64 + bytes);
    }
}

TEST_CASE("virtio-vsock-bench rejects bad arguments with the usage status", "[qemu][virtio][vsock][bench]")
{
    for (std::string arguments : { "testos.run=virtio-vsock-bench:0", "testos.run=virtio-vsock-bench:10001",
             "testos.run=virtio-vsock-bench testos.vsock.bytes=0", "testos.run=virtio-vsock-bench testos.vsock.port=x" }) {
        INFO(arguments);
        auto result = boot(Machine::Microvm, arguments, {});
        require_guest_status(result, TESTOS_EXIT_USAGE);
    }
}

TEST_CASE("virtio-vsock-bench without a device says there is none", "[qemu][virtio][vsock][bench]")
{
    auto result = boot(Machine::Microvm, "testos.run=virtio-vsock-bench:3", {});
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    REQUIRE(contains(result.output, "virtio-vsock: no virtio-vsock device found"));
}

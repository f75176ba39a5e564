// SPDX-License-Identifier: Apache-2.0
// testos's virtio-console, virtio-rng, vsock and benchmark workloads against QEMU's devices over
// both transports (vsock through the tests' own vhost-user back end), and the bad-argument cases.
#include "qemu_virtio.h"
#include "vhost_user_vsock.h"
#include "testos/abi.h"

#include <catch2/catch.hpp>

#include "support/skip.h"

#include <cstdlib>

using namespace monarch::test;
using namespace monarch::test::virtio;

namespace {

constexpr Machine ALL_TRANSPORTS[] = { Machine::Q35, Machine::Microvm };

} // namespace

TEST_CASE("virtio-console writes its line to port 0 over virtio-pci and virtio-mmio", "[qemu][virtio][console]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        TempFile out("console.txt");
        uint64_t seed = fresh_seed();
        std::vector<std::string> extra { "-chardev", "file,id=c0,path=" + out.path() };
        auto serial = device(machine, "virtio-serial");
        extra.insert(extra.end(), serial.begin(), serial.end());
        extra.insert(extra.end(), { "-device", "virtconsole,chardev=c0" });
        auto result = boot(machine, "testos.run=virtio-console testos.seed=" + std::to_string(seed), extra);
        require_guest_status(result, TESTOS_EXIT_SUCCESS);
        REQUIRE(result_field(result.output, "virtio-console: ", "transport") == (is_mmio(machine) ? "mmio" : "pci"));
        auto bytes = out.read();
        std::string written(bytes.begin(), bytes.end());
        REQUIRE(written == "testos: virtio-console port 0 says hello (seed " + std::to_string(seed) + ")\n");
    }
}

TEST_CASE("virtio-rng reads bytes that are not all equal over virtio-pci and virtio-mmio", "[qemu][virtio][rng]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        auto rng = device(machine, "virtio-rng");
        auto result = boot(machine, "testos.run=virtio-rng:1000", rng);
        require_guest_status(result, TESTOS_EXIT_SUCCESS);
        INFO(result.output);
        REQUIRE(result_field(result.output, "virtio-rng: ", "bytes") == "1000");
        REQUIRE(std::atoi(result_field(result.output, "virtio-rng: ", "distinct").c_str()) > 100);
    }
}

// A random source that always gives the same byte must fail the workload: QEMU's rng-random
// backend reading /dev/zero.
TEST_CASE("virtio-rng fails when every byte is the same", "[qemu][virtio][rng]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        auto rng = device(machine, "virtio-rng", ",rng=r0");
        std::vector<std::string> extra { "-object", "rng-random,id=r0,filename=/dev/zero" };
        extra.insert(extra.end(), rng.begin(), rng.end());
        auto result = boot(machine, "testos.run=virtio-rng:64", extra);
        require_guest_status(result, TESTOS_EXIT_FAILURE);
        REQUIRE(result_field(result.output, "virtio-rng: ", "result") == "failed");
        REQUIRE(result_field(result.output, "virtio-rng: ", "distinct") == "1");
    }
}

TEST_CASE("virtio-blk-bench drives the disk from ring 3 and prints its figures", "[qemu][virtio][bench]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        TempFile image("bench.img");
        std::filesystem::resize_file(image.path(), 16 << 20);
        std::vector<std::string> extra { "-drive", "if=none,id=d0,format=raw,file=" + image.path() };
        auto blk = device(machine, "virtio-blk", ",drive=d0");
        extra.insert(extra.end(), blk.begin(), blk.end());
        auto result = boot(machine, "testos.run=virtio-blk-bench:1", extra);
        require_guest_status(result, TESTOS_EXIT_SUCCESS);
        INFO(result.output);
        std::string const prefix = "virtio-blk-bench: ";
        REQUIRE(result_field(result.output, prefix, "result") == "ok");
        REQUIRE(result_field(result.output, prefix, "transport") == (is_mmio(machine) ? "mmio" : "pci"));
        REQUIRE(result_field(result.output, prefix, "errors") == "0");
        REQUIRE(std::atoll(result_field(result.output, prefix, "rand4k_ios").c_str()) > 0);
        REQUIRE(std::atoll(result_field(result.output, prefix, "rand4k_iops").c_str()) > 0);
        REQUIRE(std::atoll(result_field(result.output, prefix, "seq1m_ios").c_str()) > 0);
        REQUIRE(std::atoll(result_field(result.output, prefix, "seq1m_mbps").c_str()) > 0);
    }
}

TEST_CASE("virtio-blk-bench refuses a disk smaller than 1 MiB", "[qemu][virtio][bench]")
{
    TempFile image("small.img");
    image.write(std::vector<uint8_t>(512 * 1024));
    std::vector<std::string> extra { "-drive", "if=none,id=d0,format=raw,file=" + image.path() };
    auto blk = device(Machine::Q35, "virtio-blk", ",drive=d0");
    extra.insert(extra.end(), blk.begin(), blk.end());
    auto result = boot(Machine::Q35, "testos.run=virtio-blk-bench:1", extra);
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    REQUIRE(result_field(result.output, "virtio-blk-bench: ", "result") == "too-small");
}

TEST_CASE("virtio workloads reject bad arguments with the usage status", "[qemu][virtio]")
{
    for (char const* cmdline : { "testos.run=virtio-nothing", "testos.run=virtio-rng:0", "testos.run=virtio-rng:5000",
             "testos.run=virtio-blk-bench:x", "testos.run=virtio-blk testos.seed=abc" }) {
        INFO(cmdline);
        require_guest_status(boot(Machine::Microvm, cmdline, {}), TESTOS_EXIT_USAGE);
    }
}

TEST_CASE("virtio-list finds every device over both transports", "[qemu][virtio]")
{
    auto rng = device(Machine::Q35, "virtio-rng");
    auto serial = device(Machine::Q35, "virtio-serial");
    std::vector<std::string> extra = rng;
    extra.insert(extra.end(), serial.begin(), serial.end());
    auto result = boot(Machine::Q35, "testos.run=virtio-list", extra);
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE(contains(result.output, "virtio: PCI configuration through ECAM"));
    REQUIRE(contains(result.output, "virtio: 2 PCI and 0 MMIO devices"));

    auto mmio = device(Machine::Microvm, "virtio-rng");
    auto mmio_serial = device(Machine::Microvm, "virtio-serial");
    mmio.insert(mmio.end(), mmio_serial.begin(), mmio_serial.end());
    for (Machine machine : { Machine::Microvm, Machine::MicrovmNoAcpi }) {
        INFO(machine_name(machine));
        auto listed = boot(machine, "testos.run=virtio-list", mmio);
        require_guest_status(listed, TESTOS_EXIT_SUCCESS);
        REQUIRE(contains(listed.output, "virtio: 0 PCI and 2 MMIO devices"));
        REQUIRE(contains(listed.output, machine == Machine::Microvm ? "(from ACPI DSDT)" : "(from command line)"));
    }
}

// QEMU 7.2 offers vsock only through vhost (vhost-vsock needs /dev/vhost-vsock, absent on these
// hosts) or vhost-user: the test is the vhost-user back end (vhost_user_vsock.h), an echo
// server on host port 1234 + n; guest memory is a shared memfd so that it can map it.
TEST_CASE("virtio-vsock echoes a line through a vhost-user back end over virtio-pci and virtio-mmio", "[qemu][virtio][vsock]")
{
    for (Machine machine : ALL_TRANSPORTS) {
        INFO(machine_name(machine));
        TempFile socket_file("vsock.sock");
        std::filesystem::remove(socket_file.path());
        uint64_t seed = fresh_seed();
        uint64_t cid = 3 + seed % 1000;
        uint32_t port = 1234 + static_cast<uint32_t>(seed % 100);
        VhostUserVsock backend { socket_file.path(), cid, port };
        std::vector<std::string> extra { "-object", "memory-backend-memfd,id=mem,size=64M,share=on", "-machine",
            "memory-backend=mem", "-chardev", "socket,id=vs0,path=" + socket_file.path() };
        auto vsock = device(machine, "vhost-user-vsock", ",chardev=vs0");
        extra.insert(extra.end(), vsock.begin(), vsock.end());
        auto result = boot(machine, "testos.run=virtio-vsock testos.seed=" + std::to_string(seed) + " testos.vsock.port=" + std::to_string(port), extra);
        backend.stop();
        auto log = backend.log();
        INFO(result.output);
        INFO("back end error: " << log.error);
        require_guest_status(result, TESTOS_EXIT_SUCCESS);
        REQUIRE(log.error.empty());
        REQUIRE(log.handshake_done);
        REQUIRE(log.connected);
        REQUIRE(log.port == port);
        REQUIRE(log.guest_cid == cid); // the CID from the device's configuration
        REQUIRE(log.received == "testos vsock echo " + std::to_string(seed) + "\n");
        REQUIRE(log.shutdown);
        REQUIRE(result_field(result.output, "virtio-vsock: ", "result") == "ok");
        REQUIRE(result_field(result.output, "virtio-vsock: ", "cid") == std::to_string(cid));
    }
}

TEST_CASE("virtio-vsock without a device says there is none", "[qemu][virtio][vsock]")
{
    auto result = boot(Machine::Microvm, "testos.run=virtio-vsock", {});
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    REQUIRE(contains(result.output, "virtio-vsock: no virtio-vsock device found"));
}

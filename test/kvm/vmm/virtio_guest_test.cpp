// SPDX-License-Identifier: Apache-2.0
// testos's virtio drivers against monarch-vmm's own devices on /dev/kvm (label kvm): the same
// workloads the qemu_testos_virtio tests run against QEMU's devices, here on virtio-pci.
#include "support/skip.h"
#include "vmm_process.h"

#include "testos/virtio_pattern.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <iterator>
#include <vector>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t SEED = 7;

std::string require_testos()
{
    require_kvm();
    auto testos = built_testos();
    if (!testos)
        skip("testos.elf is not built in this tree (guests/testos)");
    return *testos;
}

ProcessResult run_workload(std::string const& workload, std::vector<std::string> devices)
{
    std::vector<std::string> args { "--kernel", require_testos(), "--memory", "64M", "--serial", "stdio",
        "--cmdline", "testos.run=" + workload + " testos.seed=" + std::to_string(SEED) };
    args.insert(args.end(), devices.begin(), devices.end());
    return run_vmm(args, 60s);
}

std::vector<uint8_t> read_all(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    return { std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>() };
}

} // namespace

TEST_CASE("kvm virtio: testos writes, flushes and reads back its pattern on a monarch-vmm virtio-blk disk", "[kvm][virtio]")
{
    std::string image = scratch_file("disk.img", std::vector<uint8_t>(1 << 20, 0));
    auto result = run_workload("virtio-blk", { "--disk", "path=" + image });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("virtio-blk: result=ok transport=pci") != std::string::npos);
    auto bytes = read_all(image);
    REQUIRE(bytes.size() == (1u << 20));
    for (uint64_t sector = TESTOS_BLK_FIRST_SECTOR; sector < TESTOS_BLK_FIRST_SECTOR + TESTOS_BLK_SECTORS; ++sector)
        for (uint32_t i = 0; i < 512; ++i)
            REQUIRE(bytes[sector * 512 + i] == testos_pattern_byte(SEED, sector, i));
    CHECK(bytes[0] == 0); // sectors the workload does not write stay as they were
}

TEST_CASE("kvm virtio: garbage descriptor chains leave the disk and the VMM intact", "[kvm][virtio]")
{
    std::string image = scratch_file("disk.img", std::vector<uint8_t>(1 << 20, 0));
    auto result = run_workload("virtio-blk-garbage", { "--disk", "path=" + image });
    INFO(describe(result));
    REQUIRE(result.exited);
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("virtio-blk-garbage: result=ok") != std::string::npos);
}

TEST_CASE("kvm virtio: the rng and the console answer testos", "[kvm][virtio]")
{
    auto rng = run_workload("virtio-rng", { "--rng" });
    INFO(describe(rng));
    CHECK(rng.exit_code == 0);
    CHECK(rng.output.find("virtio-rng: result=ok") != std::string::npos);
    std::string console_file = scratch_directory() + "/console.txt";
    auto console = run_workload("virtio-console", { "--console", "file=" + console_file });
    INFO(describe(console));
    CHECK(console.exit_code == 0);
    auto text = read_all(console_file);
    CHECK(std::string(text.begin(), text.end()).find("virtio-console port 0 says hello") != std::string::npos);
}

TEST_CASE("kvm virtio: the ring-3 polling benchmark driver runs on monarch-vmm's virtio-blk", "[kvm][virtio]")
{
    std::string image = scratch_file("bench.img", std::vector<uint8_t>(16 << 20, 0x5a));
    auto result = run_workload("virtio-blk-bench:1", { "--disk", "path=" + image });
    INFO(describe(result));
    CHECK(result.exit_code == 0);
    CHECK(result.output.find("virtio-blk-bench: result=ok transport=pci") != std::string::npos);
    CHECK(result.output.find("errors=0") != std::string::npos);
}

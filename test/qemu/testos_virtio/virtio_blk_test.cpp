// SPDX-License-Identifier: Apache-2.0
// testos's virtio-blk driver (testos.run=virtio-blk) against QEMU's virtio-blk over virtio-pci
// (q35 with ECAM, pc with ports 0xcf8) and virtio-mmio (microvm, found through the DSDT or the
// command line). The disk image is checked on the host afterwards: the seeded pattern is in
// sectors 8-23 and nothing else changed. Also: disks that are too short or read-only.
#include "qemu_virtio.h"
#include "testos/abi.h"
#include "testos/virtio_pattern.h"

#include <catch2/catch.hpp>

#include <random>

using namespace monarch::test;
using namespace monarch::test::virtio;

namespace {

constexpr size_t SECTOR = 512;

std::vector<uint8_t> garbage(size_t size)
{
    std::mt19937_64 random { std::random_device {}() };
    std::vector<uint8_t> bytes(size);
    for (auto& b : bytes)
        b = static_cast<uint8_t>(random());
    return bytes;
}

std::vector<std::string> disk(Machine machine, TempFile const& image, std::string const& drive_options = "")
{
    std::vector<std::string> extra { "-drive", "if=none,id=d0,format=raw,file=" + image.path() + drive_options };
    auto d = device(machine, "virtio-blk", ",drive=d0");
    extra.insert(extra.end(), d.begin(), d.end());
    return extra;
}

// Boots `workload` on a disk that starts as `before` and checks the image afterwards: the
// pattern for `seed` in sectors 8-23, every other byte as it was. Returns the guest's output.
std::string require_pattern_written(Machine machine, std::vector<uint8_t> const& before, std::string const& workload = "virtio-blk")
{
    TempFile image("disk.img");
    image.write(before);
    uint64_t seed = fresh_seed();
    auto result = boot(machine, "testos.run=" + workload + " testos.seed=" + std::to_string(seed), disk(machine, image));
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    INFO(result.output);
    REQUIRE(result_field(result.output, workload + ": ", "result") == "ok");
    REQUIRE(result_field(result.output, workload + ": ", "transport") == (is_mmio(machine) ? "mmio" : "pci"));
    auto after = image.read();
    REQUIRE(after.size() == before.size());
    size_t first = TESTOS_BLK_FIRST_SECTOR * SECTOR, last = (TESTOS_BLK_FIRST_SECTOR + TESTOS_BLK_SECTORS) * SECTOR;
    size_t pattern_mismatches = 0, other_changes = 0;
    for (size_t i = 0; i < after.size(); i++) {
        if (i >= first && i < last)
            pattern_mismatches += after[i] != testos_pattern_byte(seed, i / SECTOR, static_cast<uint32_t>(i % SECTOR));
        else
            other_changes += after[i] != before[i];
    }
    REQUIRE(pattern_mismatches == 0);
    REQUIRE(other_changes == 0);
    return result.output;
}

} // namespace

TEST_CASE("virtio-blk over virtio-pci on q35 (ECAM) writes the pattern to the image", "[qemu][virtio][blk]")
{
    require_pattern_written(Machine::Q35, std::vector<uint8_t>(1 << 20));
}

TEST_CASE("virtio-blk over virtio-pci on pc (ports 0xcf8) writes the pattern to the image", "[qemu][virtio][blk]")
{
    require_pattern_written(Machine::Pc, std::vector<uint8_t>(64 * 1024));
}

TEST_CASE("virtio-blk over virtio-mmio on microvm (DSDT) writes the pattern to the image", "[qemu][virtio][blk]")
{
    require_pattern_written(Machine::Microvm, std::vector<uint8_t>(1 << 20));
}

TEST_CASE("virtio-blk over virtio-mmio on microvm without ACPI (command line) writes the pattern", "[qemu][virtio][blk]")
{
    require_pattern_written(Machine::MicrovmNoAcpi, std::vector<uint8_t>(1 << 20));
}

TEST_CASE("virtio-blk writes only its sectors of a disk full of garbage", "[qemu][virtio][blk]")
{
    require_pattern_written(Machine::Q35, garbage(256 * 1024));
    require_pattern_written(Machine::Microvm, garbage(256 * 1024));
}

// SeaBIOS moves every 64-bit prefetchable BAR above 4 GiB when the 32-bit window cannot hold
// them all: a 4 GiB ivshmem BAR does that to virtio-blk's BAR 4, which testos must then map.
TEST_CASE("virtio-blk over virtio-pci with its BAR above 4 GiB", "[qemu][virtio][blk]")
{
    TempFile image("high.img");
    image.write(std::vector<uint8_t>(64 * 1024));
    auto extra = disk(Machine::Q35, image);
    extra.insert(extra.end(), { "-object", "memory-backend-ram,id=big,size=4G", "-device", "ivshmem-plain,memdev=big" });
    auto result = boot(Machine::Q35, "testos.run=virtio-blk", extra);
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    unsigned long long common = 0;
    auto at = result.output.find("common cfg at ");
    REQUIRE(at != std::string::npos);
    common = std::stoull(result.output.substr(at + 14), nullptr, 16);
    REQUIRE(common >= (4ull << 30));
    REQUIRE(result_field(result.output, "virtio-blk: ", "result") == "ok");
}

// A driver feeding malformed chains: QEMU sets NEEDS_RESET for a looping chain, a header the
// device may write and a head past the queue size; the guest resets the device each time, and
// the pattern written and flushed before is on the image afterwards.
TEST_CASE("virtio-blk-garbage gets NEEDS_RESET for malformed chains and loses no flushed data", "[qemu][virtio][blk]")
{
    for (Machine machine : { Machine::Q35, Machine::Microvm }) {
        INFO(machine_name(machine));
        auto output = require_pattern_written(machine, std::vector<uint8_t>(64 * 1024), "virtio-blk-garbage");
        for (char const* kind : { "looping chain", "device-writable header", "head past the queue size" })
            REQUIRE(contains(output, std::string("virtio-blk-garbage: ") + kind + ": NEEDS_RESET"));
        REQUIRE(contains(output, "virtio-blk-garbage: read back after the resets, 0 bytes differ"));
    }
}

// The device reports whole sectors: 8 sectors, and 100 bytes (capacity 0), are both too short
// for sectors 8-23; the guest says so and the image stays as it was.
TEST_CASE("virtio-blk on a disk shorter than its sectors fails cleanly", "[qemu][virtio][blk]")
{
    for (size_t size : { size_t { 8 * SECTOR }, size_t { 100 } }) {
        for (Machine machine : { Machine::Q35, Machine::Microvm }) {
            INFO(machine_name(machine) << " with " << size << " bytes");
            TempFile image("short.img");
            auto before = garbage(size);
            image.write(before);
            auto result = boot(machine, "testos.run=virtio-blk", disk(machine, image));
            require_guest_status(result, TESTOS_EXIT_FAILURE);
            REQUIRE(contains(result.output, "virtio-blk: failed: disk too small"));
            REQUIRE(image.read() == before);
        }
    }
}

TEST_CASE("virtio-blk on a read-only drive refuses to write", "[qemu][virtio][blk]")
{
    for (Machine machine : { Machine::Q35, Machine::Microvm }) {
        INFO(machine_name(machine));
        TempFile image("ro.img");
        auto before = garbage(64 * 1024);
        image.write(before);
        auto result = boot(machine, "testos.run=virtio-blk", disk(machine, image, ",readonly=on"));
        require_guest_status(result, TESTOS_EXIT_FAILURE);
        REQUIRE(contains(result.output, "read-only"));
        REQUIRE(image.read() == before);
    }
}

TEST_CASE("virtio-blk without a disk says there is none", "[qemu][virtio][blk]")
{
    for (Machine machine : { Machine::Q35, Machine::Microvm }) {
        INFO(machine_name(machine));
        auto result = boot(machine, "testos.run=virtio-blk", {});
        require_guest_status(result, TESTOS_EXIT_FAILURE);
        REQUIRE(contains(result.output, "virtio-blk: no virtio-blk device found"));
    }
}

// QEMU's virtio-mmio defaults to the legacy version 1 interface; testos drives version 2 only
// and must say so rather than misdrive it.
TEST_CASE("virtio-blk skips a legacy virtio-mmio (version 1) transport", "[qemu][virtio][blk]")
{
    TempFile image("legacy.img");
    image.write(std::vector<uint8_t>(64 * 1024));
    auto extra = disk(Machine::Microvm, image);
    extra.insert(extra.end(), { "-global", "virtio-mmio.force-legacy=true" });
    auto result = boot(Machine::Microvm, "testos.run=virtio-blk", extra);
    require_guest_status(result, TESTOS_EXIT_FAILURE);
    REQUIRE(contains(result.output, "is version 1 (legacy), skipped"));
    REQUIRE(image.read() == std::vector<uint8_t>(64 * 1024));
}

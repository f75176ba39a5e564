// SPDX-License-Identifier: Apache-2.0
// PvPanic: the IDs Linux's pvpanic_pci binds by, BAR sizing, the event register as the driver
// uses it, everything else a hostile guest may do, snapshot bytes, and the device on a PciRoot.
#include "pci_test_support.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/devices/pci/pvpanic.h"

#include <catch2/catch.hpp>
#include <array>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::pci;
using monarch::vmm::test::config_read;
using monarch::vmm::test::config_write;

namespace {

struct Recorder {
    int panicked { 0 };
    int crash_loaded { 0 };
    PvPanic device { PvPanic::Events { [this] { ++panicked; }, [this] { ++crash_loaded; } } };
};

uint8_t read_event(PvPanic& device, uint8_t bar = 0, uint64_t offset = 0)
{
    std::array<std::byte, 1> data { std::byte { 0xa5 } };
    device.bar_read(bar, offset, data);
    return std::to_integer<uint8_t>(data[0]);
}

void write_event(PvPanic& device, uint8_t value, uint8_t bar = 0, uint64_t offset = 0)
{
    std::array<std::byte, 1> data { std::byte { value } };
    device.bar_write(bar, offset, data);
}

// Linux's __pci_read_base: save, write all ones, read the mask back, restore.
uint32_t probe_bar_dword(PvPanic& device, uint16_t offset)
{
    auto const saved = config_read<uint32_t>(device, offset);
    config_write<uint32_t>(device, offset, 0xffffffff);
    auto const mask = config_read<uint32_t>(device, offset);
    config_write<uint32_t>(device, offset, saved);
    return mask;
}

} // namespace

TEST_CASE("pvpanic: the IDs and class QEMU's pvpanic-pci has", "[unit][pci][pvpanic]")
{
    Recorder r;
    CHECK(r.device.name() == "pvpanic");
    CHECK(config_read<uint16_t>(r.device, config::VENDOR_ID) == 0x1b36);
    CHECK(config_read<uint16_t>(r.device, config::DEVICE_ID) == 0x0011);
    CHECK(config_read<uint8_t>(r.device, config::REVISION_ID) == 1);
    // Class code 0x088000: system peripheral, other, no programming interface.
    CHECK((config_read<uint32_t>(r.device, config::REVISION_ID) >> 8) == 0x088000);
    CHECK(config_read<uint16_t>(r.device, config::SUBSYSTEM_VENDOR_ID) == 0x1af4);
    CHECK(config_read<uint16_t>(r.device, config::SUBSYSTEM_ID) == 0x1100);
    CHECK(config_read<uint8_t>(r.device, config::HEADER_TYPE) == 0x00);
    CHECK(config_read<uint8_t>(r.device, config::INTERRUPT_PIN) == 0); // it never interrupts
    CHECK((config_read<uint16_t>(r.device, config::STATUS) & status::CAPABILITIES_LIST) == 0);
    // The IDs are read-only.
    config_write<uint32_t>(r.device, config::VENDOR_ID, 0x12345678);
    CHECK(config_read<uint32_t>(r.device, config::VENDOR_ID) == 0x00111b36);
}

TEST_CASE("pvpanic: one 32-bit memory BAR, sized as Linux probes it", "[unit][pci][pvpanic]")
{
    Recorder r;
    auto const bars = r.device.bar_requests();
    REQUIRE(bars.size() == 1);
    CHECK(bars[0].index == 0);
    CHECK(bars[0].size == PVPANIC_BAR_SIZE);
    CHECK(bars[0].kind == BarKind::Memory32);
    CHECK_FALSE(bars[0].prefetchable);
    r.device.bar_assigned(0, 0xc0003000);
    CHECK(config_read<uint32_t>(r.device, config::BAR0) == 0xc0003000);
    CHECK(probe_bar_dword(r.device, config::BAR0) == static_cast<uint32_t>(~(PVPANIC_BAR_SIZE - 1)));
    CHECK(config_read<uint32_t>(r.device, config::BAR0) == 0xc0003000);
    for (uint8_t index = 1; index < config::BAR_COUNT; ++index)
        CHECK(probe_bar_dword(r.device, static_cast<uint16_t>(config::BAR0 + 4 * index)) == 0);
    // A BAR the device does not have is not recorded.
    r.device.bar_assigned(3, 0xc0004000);
    CHECK(config_read<uint32_t>(r.device, config::BAR0 + 12) == 0);
}

TEST_CASE("pvpanic: a byte read at offset 0 offers PANICKED and CRASH_LOADED", "[unit][pci][pvpanic]")
{
    Recorder r;
    CHECK(read_event(r.device) == 3);
    CHECK(read_event(r.device) == (pvpanic_event::PANICKED | pvpanic_event::CRASH_LOADED));
    CHECK(r.panicked == 0);
    CHECK(r.crash_loaded == 0);
}

TEST_CASE("pvpanic: other offsets, widths and BARs read zero", "[unit][pci][pvpanic]")
{
    Recorder r;
    CHECK(read_event(r.device, 0, 1) == 0);
    CHECK(read_event(r.device, 0, PVPANIC_BAR_SIZE - 1) == 0);
    CHECK(read_event(r.device, 0, UINT64_MAX) == 0);
    CHECK(read_event(r.device, 1, 0) == 0);
    CHECK(read_event(r.device, 255, 0) == 0);
    for (size_t width : { 2, 4, 8 }) {
        std::vector<std::byte> data(width, std::byte { 0xa5 });
        r.device.bar_read(0, 0, data);
        CHECK(std::ranges::all_of(data, [](std::byte b) { return b == std::byte { 0 }; }));
    }
    std::span<std::byte> empty;
    r.device.bar_read(0, 0, empty);
    CHECK(r.device.counters().odd_accesses == 9);
}

TEST_CASE("pvpanic: writing PANICKED reports a panic", "[unit][pci][pvpanic]")
{
    Recorder r;
    write_event(r.device, pvpanic_event::PANICKED);
    CHECK(r.panicked == 1);
    CHECK(r.crash_loaded == 0);
    CHECK(r.device.counters().panicked == 1);
    // Each write is an event (two vCPUs may panic); the machine's latch keeps the first.
    write_event(r.device, pvpanic_event::PANICKED);
    CHECK(r.panicked == 2);
}

TEST_CASE("pvpanic: writing CRASH_LOADED reports a crash kernel, not a panic", "[unit][pci][pvpanic]")
{
    Recorder r;
    write_event(r.device, pvpanic_event::CRASH_LOADED);
    CHECK(r.panicked == 0);
    CHECK(r.crash_loaded == 1);
    CHECK(r.device.counters().crash_loaded == 1);
}

TEST_CASE("pvpanic: both bits at once count as the panic", "[unit][pci][pvpanic]")
{
    Recorder r;
    write_event(r.device, pvpanic_event::PANICKED | pvpanic_event::CRASH_LOADED);
    CHECK(r.panicked == 1);
    CHECK(r.crash_loaded == 0);
}

TEST_CASE("pvpanic: zero, unknown bits, other offsets and widths do nothing", "[unit][pci][pvpanic]")
{
    Recorder r;
    write_event(r.device, 0);
    for (uint8_t value : { 0x04, 0x08, 0x80, 0xfc })
        write_event(r.device, value); // unknown events only (0x04 is a newer QEMU's SHUTDOWN)
    CHECK(r.device.counters().unknown_events == 4);
    write_event(r.device, pvpanic_event::PANICKED, 0, 1);
    write_event(r.device, pvpanic_event::PANICKED, 0, PVPANIC_BAR_SIZE - 1);
    write_event(r.device, pvpanic_event::PANICKED, 0, UINT64_MAX);
    write_event(r.device, pvpanic_event::PANICKED, 1, 0);
    write_event(r.device, pvpanic_event::PANICKED, 5, 0);
    for (size_t width : { 2, 4, 8 }) {
        std::vector<std::byte> data(width, std::byte { pvpanic_event::PANICKED });
        r.device.bar_write(0, 0, data);
    }
    r.device.bar_write(0, 0, std::span<std::byte const> {});
    CHECK(r.panicked == 0);
    CHECK(r.crash_loaded == 0);
    CHECK(r.device.counters().odd_accesses == 9);
    // Unknown bits beside a known one: the known event still counts (as in QEMU).
    write_event(r.device, 0x80 | pvpanic_event::CRASH_LOADED);
    CHECK(r.crash_loaded == 1);
    CHECK(r.device.counters().unknown_events == 5);
    // The register still answers afterwards.
    CHECK(read_event(r.device) == 3);
}

TEST_CASE("pvpanic: without callbacks an event is only counted", "[unit][pci][pvpanic]")
{
    PvPanic device { PvPanic::Events {} };
    write_event(device, pvpanic_event::PANICKED);
    write_event(device, pvpanic_event::CRASH_LOADED);
    CHECK(device.counters().panicked == 1);
    CHECK(device.counters().crash_loaded == 1);
}

TEST_CASE("pvpanic: random guest accesses never crash and only offset-0 bytes act", "[unit][pci][pvpanic]")
{
    Recorder r;
    std::mt19937_64 random { 0x70766e63 }; // fixed seed: a failure replays
    int expected_panics = 0;
    int expected_crash_loaded = 0;
    for (int round = 0; round < 200000; ++round) {
        auto const bar = static_cast<uint8_t>(random() % 8);
        // Mostly inside the BAR, sometimes anywhere.
        uint64_t const offset = random() % 4 == 0 ? random() : random() % (PVPANIC_BAR_SIZE + 16);
        size_t const width = random() % 9;
        std::vector<std::byte> data(width);
        for (auto& byte : data)
            byte = std::byte { static_cast<uint8_t>(random()) };
        switch (random() % 4) {
        case 0:
            r.device.bar_read(bar, offset, data);
            if (bar == 0 && offset == 0 && width == 1)
                REQUIRE(std::to_integer<uint8_t>(data[0]) == 3);
            else
                REQUIRE(std::ranges::all_of(data, [](std::byte b) { return b == std::byte { 0 }; }));
            break;
        case 1:
            // Config writes too, BARs and command included: the event register does not care.
            if (width == 1 || width == 2 || width == 4)
                r.device.config_write(static_cast<uint16_t>(offset % 0x1000), data);
            break;
        default:
            r.device.bar_write(bar, offset, data);
            if (bar == 0 && offset == 0 && width == 1) {
                auto const value = std::to_integer<uint8_t>(data[0]);
                expected_panics += (value & pvpanic_event::PANICKED) ? 1 : 0;
                expected_crash_loaded += (value & pvpanic_event::SUPPORTED) == pvpanic_event::CRASH_LOADED ? 1 : 0;
            }
            break;
        }
    }
    CHECK(r.panicked == expected_panics);
    CHECK(r.crash_loaded == expected_crash_loaded);
    // The IDs survived all of it.
    CHECK(config_read<uint32_t>(r.device, config::VENDOR_ID) == 0x00111b36);
}

TEST_CASE("pvpanic: its configuration space is its snapshot state", "[unit][pci][pvpanic]")
{
    Recorder source;
    source.device.bar_assigned(0, 0xc0010000);
    config_write<uint16_t>(source.device, config::COMMAND, command::MEMORY_SPACE);
    config_write<uint8_t>(source.device, config::INTERRUPT_LINE, 11);
    auto const state = source.device.config_state();

    Recorder target;
    REQUIRE(target.device.restore_config(state).has_value());
    CHECK(target.device.config_state() == state);
    CHECK(config_read<uint32_t>(target.device, config::BAR0) == 0xc0010000);
    CHECK(config_read<uint16_t>(target.device, config::COMMAND) == command::MEMORY_SPACE);

    // Another device's bytes (other IDs), a short state, a set Interrupt bit.
    auto other = state;
    other[config::DEVICE_ID] = std::byte { 0x12 };
    CHECK(target.device.restore_config(other).error().code == Errc::Corrupt);
    CHECK(target.device.restore_config(std::span { state }.first(64)).error().code == Errc::Corrupt);
    auto interrupt = state;
    interrupt[config::STATUS] |= std::byte { status::INTERRUPT };
    REQUIRE(target.device.restore_config(interrupt).has_value());
    CHECK((config_read<uint16_t>(target.device, config::STATUS) & status::INTERRUPT) == 0);
}

TEST_CASE("pvpanic: on the PCI root its BAR is mapped and the event register works through the bus", "[unit][pci][pvpanic]")
{
    Bus mmio;
    Bus pio;
    PciRoot root { mmio, pio, PciWindows::for_ram_end(2 * layout::GiB) };
    auto recorder = std::make_shared<Recorder>();
    auto device = std::shared_ptr<PvPanic>(recorder, &recorder->device);
    auto attached = root.attach(device);
    REQUIRE(attached.has_value());

    auto const mappings = root.bar_mappings();
    auto const bar = std::ranges::find_if(mappings, [&](BarMapping const& m) { return m.slot == attached->slot; });
    REQUIRE(bar != mappings.end());
    CHECK(bar->mapped);
    CHECK(bar->size == PVPANIC_BAR_SIZE);
    CHECK(bar->address % PVPANIC_BAR_SIZE == 0);

    std::array<std::byte, 1> byte {};
    REQUIRE(mmio.read(bar->address, byte));
    CHECK(std::to_integer<uint8_t>(byte[0]) == 3);
    byte[0] = std::byte { pvpanic_event::PANICKED };
    REQUIRE(mmio.write(bar->address, byte));
    CHECK(recorder->panicked == 1);

    // The guest turns memory decoding off: the register is gone from the bus.
    std::array<std::byte, 2> command {};
    root.config_write(0, attached->slot, 0, config::COMMAND, command);
    CHECK_FALSE(mmio.read(bar->address, byte));
    CHECK_FALSE(mmio.write(bar->address, byte));
    CHECK(recorder->panicked == 1);
}

// SPDX-License-Identifier: Apache-2.0
// PciRoot: BAR allocation and mapping, relocation, decode enable, INTx routing, attach errors.
#include "fake_pci_device.h"
#include "pci_test_support.h"
#include "vmm/devices/pci/pci_root.h"

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <tuple>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::pci;
using monarch::vmm::test::FakePciDevice;

namespace {

struct Fixture {
    Bus mmio;
    Bus pio;
    PciWindows windows = PciWindows::for_ram_end(6 * layout::GiB);
    PciRoot root { mmio, pio, windows };

    template<typename T> T config(uint8_t slot, uint16_t offset)
    {
        std::array<std::byte, sizeof(T)> data {};
        root.config_read(0, slot, 0, offset, data);
        T value;
        std::memcpy(&value, data.data(), sizeof(T));
        return value;
    }
    template<typename T> void set_config(uint8_t slot, uint16_t offset, T value)
    {
        std::array<std::byte, sizeof(T)> data {};
        std::memcpy(data.data(), &value, sizeof(T));
        root.config_write(0, slot, 0, offset, data);
    }
    [[nodiscard]] bool mmio_mapped(uint64_t address) const
    {
        for (auto const& range : mmio.ranges())
            if (range.base == address)
                return true;
        return false;
    }
};

std::vector<BarRequest> const mixed_bars {
    { 0, 0x1000, BarKind::Memory32, false },
    { 1, 0x20, BarKind::Io, false },
    { 2, 0x4000, BarKind::Memory64, true },
    { 4, 256 * layout::MiB, BarKind::Memory64, true },
};

} // namespace

TEST_CASE("pci root: windows follow the layout and RAM size", "[unit][pci]")
{
    auto const small = PciWindows::for_ram_end(2 * layout::GiB);
    CHECK(small.mmio32_start == layout::PCI_MMIO_START);
    CHECK(small.mmio32_end == layout::PCI_ECAM_START); // ECAM sits inside layout's PCI MMIO range
    CHECK(small.mmio64_start == layout::RAM_ABOVE_4G_START);
    auto const big = PciWindows::for_ram_end(6 * layout::GiB + 1);
    CHECK(big.mmio64_start == 7 * layout::GiB);
    CHECK(big.mmio64_end - big.mmio64_start == MMIO64_SIZE);
}

TEST_CASE("pci root: BARs are allocated naturally aligned inside their windows and mapped", "[unit][pci]")
{
    Fixture f;
    auto first = std::make_shared<FakePciDevice>(mixed_bars);
    auto second = std::make_shared<FakePciDevice>(mixed_bars);
    auto a = f.root.attach(first);
    auto b = f.root.attach(second);
    REQUIRE(a.has_value());
    REQUIRE(b.has_value());
    CHECK(a->slot == 1);
    CHECK(b->slot == 2);

    auto const mappings = f.root.bar_mappings();
    REQUIRE(mappings.size() == 8);
    std::vector<std::pair<uint64_t, uint64_t>> used;
    for (auto const& m : mappings) {
        INFO("slot " << int(m.slot) << " bar " << int(m.bar) << " at " << std::hex << m.address);
        CHECK(m.mapped);
        CHECK(m.address % m.size == 0);
        if (m.kind == BarKind::Io) {
            CHECK((m.address >= f.windows.io_start && m.address + m.size <= f.windows.io_end));
        } else if (m.size >= 64 * layout::MiB) {
            CHECK((m.address >= f.windows.mmio64_start && m.address + m.size <= f.windows.mmio64_end));
        } else {
            CHECK((m.address >= f.windows.mmio32_start && m.address + m.size <= f.windows.mmio32_end));
        }
        for (auto const& [start, end] : used)
            if (m.kind != BarKind::Io)
                CHECK((m.address + m.size <= start || m.address >= end));
        if (m.kind != BarKind::Io)
            used.emplace_back(m.address, m.address + m.size);
        // The device's own registers agree with the root.
        auto& device = m.slot == 1 ? *first : *second;
        CHECK(device.config.bar_address(m.bar) == m.address);
    }
    // Decoding was enabled as firmware would, and both buses route to the right BAR.
    CHECK((first->config.command() & 0x3) == 0x3);
    auto const bar0 = first->config.bar_address(0);
    std::array<std::byte, 4> data {};
    REQUIRE(f.mmio.read(bar0 + 0x10, data));
    CHECK(data[0] == std::byte { 0x40 });
    REQUIRE(f.mmio.write(second->config.bar_address(4) + 0x123, data));
    REQUIRE(f.pio.read(first->config.bar_address(1) + 2, std::span { data }.first(2)));
    using Access = FakePciDevice::Access;
    CHECK(first->accesses == std::vector<Access> { { 'r', 0, 0x10, 4 }, { 'r', 1, 2, 2 } });
    CHECK(second->accesses == std::vector<Access> { { 'w', 4, 0x123, 4 } });
}

TEST_CASE("pci root: Linux's probe (decode off, size, restore, decode on) unmaps and remaps", "[unit][pci]")
{
    Fixture f;
    auto device = std::make_shared<FakePciDevice>(mixed_bars);
    REQUIRE(f.root.attach(device, 7).has_value());
    std::vector<std::tuple<uint8_t, uint8_t, std::optional<uint64_t>>> events;
    f.root.set_bar_observer([&](uint8_t slot, uint8_t bar, std::optional<uint64_t> at) { events.emplace_back(slot, bar, at); });
    auto const bar0 = device->config.bar_address(0);
    auto const ranges_before = f.mmio.ranges().size();

    auto const command = f.config<uint16_t>(7, config::COMMAND);
    f.set_config<uint16_t>(7, config::COMMAND, command & ~(command::MEMORY_SPACE | command::IO_SPACE));
    CHECK(f.mmio.ranges().size() == ranges_before - 3);
    CHECK(f.pio.ranges().empty());
    CHECK(events.size() == 4);
    for (auto const& [slot, bar, at] : events)
        CHECK((slot == 7 && !at.has_value()));

    auto const saved = f.config<uint32_t>(7, config::BAR0);
    f.set_config<uint32_t>(7, config::BAR0, 0xffffffff);
    CHECK(f.config<uint32_t>(7, config::BAR0) == 0xfffff000);
    f.set_config<uint32_t>(7, config::BAR0, saved);
    CHECK(f.mmio.ranges().size() == ranges_before - 3); // nothing mapped while decode is off
    events.clear();
    f.set_config<uint16_t>(7, config::COMMAND, command);
    CHECK(f.mmio.ranges().size() == ranges_before);
    CHECK(f.mmio_mapped(bar0));
    CHECK(events.size() == 4);
    CHECK(std::get<2>(events[0]) == std::optional<uint64_t> { bar0 });
    CHECK(f.root.rejected_placements() == 0);
}

TEST_CASE("pci root: a BAR moved by the guest moves on the bus", "[unit][pci]")
{
    Fixture f;
    auto device = std::make_shared<FakePciDevice>(mixed_bars);
    REQUIRE(f.root.attach(device).has_value());
    std::vector<std::tuple<uint8_t, uint8_t, std::optional<uint64_t>>> events;
    f.root.set_bar_observer([&](uint8_t slot, uint8_t bar, std::optional<uint64_t> at) { events.emplace_back(slot, bar, at); });
    auto const old_address = device->config.bar_address(0);
    uint64_t const new_address = f.windows.mmio32_end - 0x1000;

    f.set_config<uint32_t>(1, config::BAR0, static_cast<uint32_t>(new_address));
    CHECK_FALSE(f.mmio_mapped(old_address));
    CHECK(f.mmio_mapped(new_address));
    using Events = std::vector<std::tuple<uint8_t, uint8_t, std::optional<uint64_t>>>;
    CHECK(events == Events { { 1, 0, std::nullopt }, { 1, 0, new_address } });
    CHECK(device->assigned.back() == FakePciDevice::Assignment { 0, new_address });
    std::array<std::byte, 4> data {};
    CHECK_FALSE(f.mmio.read(old_address, data));
    CHECK(f.mmio.read(new_address + 4, data));

    // Moved outside every window (onto RAM, onto ECAM): not mapped, counted.
    events.clear();
    f.set_config<uint32_t>(1, config::BAR0, 0x100000);
    CHECK_FALSE(f.mmio_mapped(0x100000));
    f.set_config<uint32_t>(1, config::BAR0, static_cast<uint32_t>(layout::PCI_ECAM_START));
    CHECK(f.root.rejected_placements() == 2);
    CHECK(events == Events { { 1, 0, std::nullopt } });

    // Onto another BAR: the bus refuses the overlap; the BAR stays unmapped.
    auto const bar2 = device->config.bar_address(2);
    f.set_config<uint32_t>(1, config::BAR0, static_cast<uint32_t>(bar2));
    CHECK(f.root.rejected_placements() == 3);
    f.set_config<uint32_t>(1, config::BAR0, static_cast<uint32_t>(old_address));
    CHECK(f.mmio_mapped(old_address));

    // The 64-bit BAR, moved high half then low half, lands in the 64-bit window.
    uint64_t const high = f.windows.mmio64_end - 0x4000;
    f.set_config<uint32_t>(1, config::BAR0 + 12, static_cast<uint32_t>(high >> 32));
    f.set_config<uint32_t>(1, config::BAR0 + 8, static_cast<uint32_t>(high));
    CHECK(f.mmio_mapped(high));
    CHECK_FALSE(f.mmio_mapped(bar2));
}

TEST_CASE("pci root: INTx lines follow the swizzle and land in the interrupt line", "[unit][pci]")
{
    CHECK(intx_gsi(1, 0) == 17);
    CHECK(intx_gsi(7, 0) == 23);
    CHECK(intx_gsi(8, 0) == 16);
    CHECK(intx_gsi(1, 3) == 20);
    CHECK(intx_gsi(31, 3) == 18);
    Fixture f;
    for (uint8_t slot : { 1, 5, 9, 31 }) {
        auto device = std::make_shared<FakePciDevice>(std::vector<BarRequest> {});
        auto attached = f.root.attach(device, slot);
        REQUIRE(attached.has_value());
        CHECK(attached->intx_gsi == intx_gsi(slot, 0));
        CHECK(device->config.interrupt_line() == intx_gsi(slot, 0));
    }
}

TEST_CASE("pci root: attach refuses bad slots, taken slots, full windows", "[unit][pci]")
{
    Fixture f;
    auto make = [] { return std::make_shared<FakePciDevice>(std::vector<BarRequest> { { 0, 0x1000, BarKind::Memory32, false } }); };
    CHECK(f.root.attach(nullptr).error().code == Errc::InvalidArgument);
    CHECK(f.root.attach(make(), 0).error().code == Errc::InvalidArgument);
    CHECK(f.root.attach(make(), 32).error().code == Errc::InvalidArgument);
    REQUIRE(f.root.attach(make(), 4).has_value());
    CHECK(f.root.attach(make(), 4).error().code == Errc::Busy);

    // A 1 GiB 32-bit BAR cannot fit in the 512 MiB window; nothing of it stays behind.
    auto huge = std::make_shared<FakePciDevice>(std::vector<BarRequest> { { 0, 1 * layout::GiB, BarKind::Memory32, false } });
    CHECK(f.root.attach(huge, 5).error().code == Errc::OutOfRange);
    auto next = f.root.attach(make(), 5);
    REQUIRE(next.has_value());
    for (uint8_t slot = 1; slot < 30; ++slot)
        (void)f.root.attach(make());
    CHECK(f.root.attach(make()).error().code == Errc::OutOfRange);
}

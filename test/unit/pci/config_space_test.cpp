// SPDX-License-Identifier: Apache-2.0
// PciConfigSpace: read-only bits, BAR sizing as Linux probes it, the capability list, hooks
// and the BAR/command observers.
#include "pci_test_support.h"
#include "vmm/devices/pci/pci_config_space.h"

#include <catch2/catch.hpp>
#include <array>
#include <tuple>
#include <vector>

using namespace monarch::vmm;
using namespace monarch::vmm::pci;
using monarch::vmm::test::config_read;
using monarch::vmm::test::config_write;

namespace {

PciIds const test_ids { 0x1af4, 0x1042, 0x01, 0x01, 0x80, 0x00, 0x1af4, 0x0002 };

// Linux's __pci_read_base: save, write all ones, read the mask back, restore.
uint32_t probe_bar_dword(PciConfigSpace& space, uint16_t offset)
{
    auto const saved = config_read<uint32_t>(space, offset);
    config_write<uint32_t>(space, offset, 0xffffffff);
    auto const mask = config_read<uint32_t>(space, offset);
    config_write<uint32_t>(space, offset, saved);
    REQUIRE(config_read<uint32_t>(space, offset) == saved);
    return mask;
}

} // namespace

TEST_CASE("config space: IDs, class and header type read back and are read-only", "[unit][pci]")
{
    PciConfigSpace space { test_ids, InterruptPin::IntA };
    CHECK(config_read<uint16_t>(space, config::VENDOR_ID) == 0x1af4);
    CHECK(config_read<uint16_t>(space, config::DEVICE_ID) == 0x1042);
    CHECK(config_read<uint32_t>(space, config::REVISION_ID) == 0x01800001); // class 01, sub 80, if 00, rev 01
    CHECK(config_read<uint8_t>(space, config::HEADER_TYPE) == 0);
    CHECK(config_read<uint16_t>(space, config::SUBSYSTEM_VENDOR_ID) == 0x1af4);
    CHECK(config_read<uint16_t>(space, config::SUBSYSTEM_ID) == 0x0002);
    CHECK(config_read<uint8_t>(space, config::INTERRUPT_PIN) == 1);

    config_write<uint32_t>(space, config::VENDOR_ID, 0x12345678);
    config_write<uint32_t>(space, config::REVISION_ID, 0xffffffff);
    config_write<uint8_t>(space, config::INTERRUPT_PIN, 3);
    config_write<uint32_t>(space, config::CAPABILITIES_POINTER, 0xffffffff);
    CHECK(config_read<uint32_t>(space, config::VENDOR_ID) == 0x10421af4);
    CHECK(config_read<uint32_t>(space, config::REVISION_ID) == 0x01800001);
    CHECK(config_read<uint8_t>(space, config::INTERRUPT_PIN) == 1);
    CHECK(config_read<uint8_t>(space, config::CAPABILITIES_POINTER) == 0);
}

TEST_CASE("config space: command keeps only the implemented bits, status is read-only", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    CHECK(config_read<uint16_t>(space, config::COMMAND) == 0);
    config_write<uint32_t>(space, config::COMMAND, 0xffffffff); // command and status in one dword
    CHECK(config_read<uint16_t>(space, config::COMMAND) == 0x0407);
    CHECK(config_read<uint16_t>(space, config::STATUS) == 0);
    CHECK(space.memory_enabled());
    CHECK(space.io_enabled());
    CHECK(space.bus_master());
    CHECK(space.intx_disabled());
    config_write<uint8_t>(space, config::COMMAND, 0x02); // byte write leaves the high byte alone
    CHECK(config_read<uint16_t>(space, config::COMMAND) == 0x0402);
    space.set_interrupt_status(true);
    CHECK(config_read<uint16_t>(space, config::STATUS) == status::INTERRUPT);
    space.set_interrupt_status(false);
    CHECK(config_read<uint16_t>(space, config::STATUS) == 0);
}

TEST_CASE("config space: interrupt line is writable, cache line size too, ROM BAR absent", "[unit][pci]")
{
    PciConfigSpace space { test_ids, InterruptPin::IntA };
    config_write<uint8_t>(space, config::INTERRUPT_LINE, 0x13);
    CHECK(space.interrupt_line() == 0x13);
    config_write<uint8_t>(space, config::CACHE_LINE_SIZE, 0x10);
    CHECK(config_read<uint8_t>(space, config::CACHE_LINE_SIZE) == 0x10);
    CHECK(probe_bar_dword(space, config::EXPANSION_ROM) == 0);
}

TEST_CASE("config space: 32-bit memory BAR sizing", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    space.add_bar({ 0, 0x1000, BarKind::Memory32, false });
    space.add_bar({ 1, 0x100000, BarKind::Memory32, true });
    space.set_bar_address(0, 0xc0001000);
    space.set_bar_address(1, 0xc0100000);
    CHECK(config_read<uint32_t>(space, config::BAR0) == 0xc0001000);
    CHECK(config_read<uint32_t>(space, config::BAR0 + 4) == 0xc0100008);
    CHECK(probe_bar_dword(space, config::BAR0) == 0xfffff000);
    CHECK(probe_bar_dword(space, config::BAR0 + 4) == 0xfff00008);
    CHECK(space.bar_address(0) == 0xc0001000);
    // Unaligned addresses lose their low bits; unused BARs read zero and stay zero.
    config_write<uint32_t>(space, config::BAR0, 0xd0000fff);
    CHECK(space.bar_address(0) == 0xd0000000);
    for (uint8_t index = 2; index < 6; ++index)
        CHECK(probe_bar_dword(space, config::BAR0 + 4 * index) == 0);
}

TEST_CASE("config space: 64-bit memory BAR sizing", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    space.add_bar({ 2, 0x4000, BarKind::Memory64, true });
    space.add_bar({ 4, 8ull << 30, BarKind::Memory64, false });
    space.set_bar_address(2, 0x10'0000'4000);
    CHECK(config_read<uint32_t>(space, config::BAR0 + 8) == 0x0000400c);
    CHECK(config_read<uint32_t>(space, config::BAR0 + 12) == 0x10);
    CHECK(probe_bar_dword(space, config::BAR0 + 8) == 0xffffc00c);
    CHECK(probe_bar_dword(space, config::BAR0 + 12) == 0xffffffff);
    CHECK(probe_bar_dword(space, config::BAR0 + 16) == 0x00000004);
    CHECK(probe_bar_dword(space, config::BAR0 + 20) == 0xfffffffe);
    CHECK(space.bar_address(2) == 0x10'0000'4000);
    CHECK_FALSE(space.bar_request(3).has_value()); // the upper half is not a BAR of its own
    REQUIRE(space.bar_requests().size() == 2);
    CHECK(space.bar_requests()[1].size == (8ull << 30));
}

TEST_CASE("config space: I/O BAR sizing", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    space.add_bar({ 5, 32, BarKind::Io, false });
    space.set_bar_address(5, 0xc020);
    CHECK(config_read<uint32_t>(space, config::BAR0 + 20) == 0xc021);
    CHECK(probe_bar_dword(space, config::BAR0 + 20) == 0xffffffe1);
    CHECK(space.bar_address(5) == 0xc020);
}

TEST_CASE("config space: partial-width and malformed accesses", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    space.add_bar({ 0, 0x1000, BarKind::Memory32, false });
    // Byte-wise programming of a BAR, as some firmware does.
    config_write<uint8_t>(space, config::BAR0 + 3, 0xc1);
    config_write<uint8_t>(space, config::BAR0 + 2, 0x23);
    config_write<uint8_t>(space, config::BAR0 + 1, 0x45);
    config_write<uint8_t>(space, config::BAR0 + 0, 0xff); // type bits and size bits are read-only
    CHECK(config_read<uint32_t>(space, config::BAR0) == 0xc1234000);
    CHECK(config_read<uint16_t>(space, config::BAR0 + 2) == 0xc123);
    CHECK(config_read<uint8_t>(space, config::BAR0 + 1) == 0x40);
    CHECK(config_read<uint16_t>(space, config::VENDOR_ID + 2) == 0x1042);

    CHECK(space.malformed_accesses() == 0);
    config_write<uint32_t>(space, config::BAR0 + 2, 0); // crosses a dword: ignored
    CHECK(config_read<uint32_t>(space, config::BAR0 + 1) == 0); // crosses: reads zero
    CHECK(space.malformed_accesses() == 2);
    CHECK(config_read<uint32_t>(space, config::BAR0) == 0xc1234000);
    // Extended space (PCIe offsets 0x100-0xfff) reads zero.
    CHECK(config_read<uint32_t>(space, 0x100) == 0);
    CHECK(config_read<uint32_t>(space, 0xffc) == 0);
}

TEST_CASE("config space: the capability list walks from 0x34", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    CHECK((config_read<uint16_t>(space, config::STATUS) & status::CAPABILITIES_LIST) == 0);
    std::array<std::byte, 14> vendor_body { std::byte { 16 } }; // virtio-style cap_len first
    std::array<std::byte, 1> odd_body { std::byte { 0x77 } };
    std::array<std::byte, 10> msix_like {};
    auto const first = space.add_capability(0x09, vendor_body);
    auto const second = space.add_capability(0x09, odd_body);
    auto const third = space.add_capability(0x11, msix_like);
    CHECK((config_read<uint16_t>(space, config::STATUS) & status::CAPABILITIES_LIST) != 0);

    std::vector<std::pair<uint8_t, uint8_t>> walked; // (offset, id)
    uint8_t next = config_read<uint8_t>(space, config::CAPABILITIES_POINTER);
    while (next != 0 && walked.size() < 48) {
        CHECK(next % 4 == 0);
        CHECK(next >= config::FIRST_CAPABILITY);
        walked.emplace_back(next, config_read<uint8_t>(space, next));
        next = config_read<uint8_t>(space, next + 1);
    }
    using Walk = std::vector<std::pair<uint8_t, uint8_t>>;
    CHECK(walked == Walk { { first, 0x09 }, { second, 0x09 }, { third, 0x11 } });
    CHECK(first == 0x40);
    CHECK(second == 0x50);  // 0x40 + 16 bytes
    CHECK(third == 0x54);   // 0x50 + 3 bytes, rounded up to a dword
    CHECK(config_read<uint8_t>(space, first + 2) == 16);
    CHECK(config_read<uint8_t>(space, second + 2) == 0x77);
}

TEST_CASE("config space: capability write masks and hooks", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    std::array<std::byte, 6> body { std::byte { 0x11 }, std::byte { 0x22 }, std::byte { 0x33 }, std::byte { 0x44 }, std::byte { 0x55 }, std::byte { 0x66 } };
    std::array<std::byte, 6> writable { std::byte { 0 }, std::byte { 0x0f }, std::byte { 0xff }, std::byte { 0xff }, std::byte { 0 }, std::byte { 0 } };
    std::vector<std::tuple<char, uint16_t, size_t>> calls;
    CapabilityHooks hooks;
    hooks.before_read = [&](uint16_t offset, size_t size) { calls.emplace_back('r', offset, size); };
    hooks.after_write = [&](uint16_t offset, size_t size) { calls.emplace_back('w', offset, size); };
    auto const cap = space.add_capability(0x09, body, writable, std::move(hooks));

    config_write<uint32_t>(space, cap, 0xffffffff); // ID and next: read-only; 0x22 -> low nibble writable
    CHECK(config_read<uint32_t>(space, cap) == 0x2f110009);
    config_write<uint32_t>(space, cap + 4, 0x00000000);
    CHECK(config_read<uint32_t>(space, cap + 4) == 0x66550000);
    config_write<uint8_t>(space, cap + 5, 0xab);
    CHECK(config_read<uint8_t>(space, cap + 5) == 0xab);
    space.write_u8(cap + 6, 0x99); // the device updates a read-only field itself
    CHECK(config_read<uint8_t>(space, cap + 6) == 0x99);

    // A dword read at cap + 4 covers capability bytes 4-7 of which 4-7 exist: hook sees (4, 4).
    using Calls = std::vector<std::tuple<char, uint16_t, size_t>>;
    CHECK(calls == Calls { { 'w', 0, 4 }, { 'r', 0, 4 }, { 'w', 4, 4 }, { 'r', 4, 4 }, { 'w', 5, 1 }, { 'r', 5, 1 }, { 'r', 6, 1 } });
    calls.clear();
    (void)config_read<uint32_t>(space, config::COMMAND); // outside: no hook
    CHECK(calls.empty());
}

TEST_CASE("config space: BAR and command observers see guest changes only", "[unit][pci]")
{
    PciConfigSpace space { test_ids };
    space.add_bar({ 0, 0x1000, BarKind::Memory32, false });
    space.add_bar({ 2, 0x4000, BarKind::Memory64, false });
    std::vector<std::tuple<uint8_t, uint64_t, uint64_t>> moves;
    std::vector<std::pair<uint16_t, uint16_t>> commands;
    space.set_bar_observer([&](uint8_t index, uint64_t from, uint64_t to) { moves.emplace_back(index, from, to); });
    space.set_command_observer([&](uint16_t from, uint16_t to) { commands.emplace_back(from, to); });

    space.set_bar_address(0, 0xc0000000); // host-bridge placement: not reported
    CHECK(moves.empty());
    config_write<uint32_t>(space, config::BAR0, 0xc0001000);
    config_write<uint32_t>(space, config::BAR0, 0xc0001000); // same value: nothing
    config_write<uint32_t>(space, config::BAR0 + 8, 0x8000);
    config_write<uint32_t>(space, config::BAR0 + 12, 0x1);
    using Moves = std::vector<std::tuple<uint8_t, uint64_t, uint64_t>>;
    CHECK(moves == Moves { { 0, 0xc0000000, 0xc0001000 }, { 2, 0, 0x8000 }, { 2, 0x8000, 0x1'0000'8000 } });

    config_write<uint16_t>(space, config::COMMAND, command::MEMORY_SPACE);
    config_write<uint16_t>(space, config::COMMAND, command::MEMORY_SPACE);
    config_write<uint16_t>(space, config::COMMAND, 0);
    using Commands = std::vector<std::pair<uint16_t, uint16_t>>;
    CHECK(commands == Commands { { 0, command::MEMORY_SPACE }, { command::MEMORY_SPACE, 0 } });
}

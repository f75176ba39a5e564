// SPDX-License-Identifier: Apache-2.0
// The layers under the virtio records: PciConfigSpace and MsixTable state round trips and
// refusals, Virtqueue::restore's checks and Virtqueue::rewind.

#include "../virtio/fake_device.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"
#include "vmm/devices/pci/msix.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/virtio/virtqueue.h"

#include <catch2/catch.hpp>

#include <array>
#include <cstring>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::pci;

namespace {

PciIds const IDS { 0x1af4, 0x1042, 0x01, 0x01, 0x00, 0x00, 0x1af4, 0x0002 };

struct Device {
    FakeMsiRouter router;
    MsixTable table { 3, router };
    PciConfigSpace config { IDS, InterruptPin::IntA };
    uint8_t msix_at { 0 };
    Device()
    {
        config.add_bar(BarRequest { 0, 0x8000, BarKind::Memory64, false });
        MsixCapability capability { config, table, { 0, 0x4000 }, { 0, 0x6000 } };
        msix_at = capability.offset();
    }
    void write16(uint16_t offset, uint16_t value)
    {
        std::array<std::byte, 2> data {};
        std::memcpy(data.data(), &value, 2);
        config.config_write(offset, data);
    }
    void write32(uint16_t offset, uint32_t value)
    {
        std::array<std::byte, 4> data {};
        std::memcpy(data.data(), &value, 4);
        config.config_write(offset, data);
    }
    void table_write(uint64_t offset, uint32_t value)
    {
        std::array<std::byte, 4> data {};
        std::memcpy(data.data(), &value, 4);
        table.table_write(offset, data);
    }
};

} // namespace

TEST_CASE("PCI config space: the writable bytes round trip, another device's are refused", "[unit][pci][snapshot]")
{
    Device old;
    old.write16(config::COMMAND, command::MEMORY_SPACE | command::BUS_MASTER | command::INTX_DISABLE);
    old.write32(config::BAR0, 0xc000'0000);
    old.write32(config::BAR0 + 4, 0x1);
    old.write16(old.msix_at + msix::MESSAGE_CONTROL, msix::CONTROL_ENABLE);
    old.config.set_interrupt_line(11);
    auto const saved = old.config.state();

    Device fresh;
    REQUIRE(fresh.config.restore(saved));
    CHECK(fresh.config.state() == saved);
    CHECK(fresh.config.bar_address(0) == 0x1'c000'0000);
    CHECK(fresh.config.intx_disabled());
    CHECK(fresh.config.interrupt_line() == 11);

    auto other = saved;
    other[config::DEVICE_ID] = std::byte { 0x41 }; // virtio-net's device ID
    Device target;
    auto const before = target.config.state();
    auto refused = target.config.restore(other);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::Corrupt);
    CHECK(target.config.state() == before);

    auto misaligned = saved;
    misaligned[config::BAR0 + 1] = std::byte { 0x10 }; // below the BAR's 32 KiB size
    CHECK_FALSE(target.config.restore(misaligned));
    CHECK_FALSE(target.config.restore(std::span { saved }.first(100)));
}

TEST_CASE("MSI-X table and PBA round trip and are reported to the router", "[unit][pci][snapshot]")
{
    Device old;
    old.table.set_control(true, false);
    old.table_write(16 * 1, 0xfee0'1000);
    old.table_write(16 * 1 + 8, 0x4321);
    old.table_write(16 * 1 + 12, 0);   // vector 1 unmasked
    old.table_write(16 * 2, 0xfee0'2000);
    CHECK(old.table.notify(2) == MsixDelivery::Pending); // vector 2 masked: PBA bit
    auto const saved = old.table.state();
    CHECK(saved.pending[0] == 0b100);

    Device fresh;
    REQUIRE(fresh.table.restore(saved));
    CHECK(fresh.table.state() == saved);
    CHECK(fresh.table.enabled());
    CHECK(fresh.table.pending(2));
    CHECK(fresh.table.message(1) == MsiMessage { 0xfee0'1000, 0x4321 });
    REQUIRE(fresh.router.updates.size() == 3);
    CHECK_FALSE(fresh.router.updates[1].masked);
    CHECK(fresh.router.updates[1].message.data == 0x4321);
    CHECK(fresh.router.updates[2].masked);
    CHECK(fresh.router.triggered.empty()); // pending stays pending until the guest unmasks
    fresh.table_write(16 * 2 + 12, 0);
    CHECK(fresh.router.triggered == std::vector<uint16_t> { 2 });

    auto refuse = [](MsixState state) {
        Device target;
        auto result = target.table.restore(state);
        REQUIRE_FALSE(result);
        CHECK(result.error().code == Errc::Corrupt);
        CHECK(target.router.updates.empty());
        CHECK_FALSE(target.table.enabled());
    };
    auto fewer = saved;
    fewer.entries.pop_back();
    refuse(fewer);
    auto reserved = saved;
    reserved.entries[0].vector_control = 2;
    refuse(reserved);
    auto low_bits = saved;
    low_bits.entries[0].address_low = 0xfee0'0001;
    refuse(low_bits);
    auto past_end = saved;
    past_end.pending[0] |= 1ULL << 5;
    refuse(past_end);
}

TEST_CASE("virtqueue restore checks the ring and the indices, and rewind gives chains back", "[unit][virtio][snapshot]")
{
    VecGuestMemory memory { 1 << 20 };
    VirtqueueDriver driver { memory, 8 };
    auto queue = vmm::virtio::Virtqueue::create(memory, driver.config(true));
    REQUIRE(queue);
    uint16_t first = driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
    uint16_t second = driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
    REQUIRE((*queue->pop())->head == first);
    REQUIRE((*queue->pop())->head == second);
    REQUIRE(queue->push_used(first, 8));
    REQUIRE(queue->rewind(1)); // the second chain goes back
    CHECK_FALSE(queue->rewind(1)); // nothing else is outstanding
    auto const state = queue->state();
    CHECK(state.next_available == 1);
    CHECK(state.next_used == 1);

    auto restored = vmm::virtio::Virtqueue::restore(memory, state);
    REQUIRE(restored);
    auto again = restored->pop();
    REQUIRE(again);
    REQUIRE(again->has_value());
    CHECK((*again)->head == second);

    auto refuse = [&](auto&& change) {
        auto bad = state;
        change(bad);
        auto result = vmm::virtio::Virtqueue::restore(memory, bad);
        REQUIRE_FALSE(result);
        CHECK(result.error().code == Errc::Corrupt);
    };
    refuse([](vmm::virtio::VirtqueueState& s) { s.config.size = 6; });
    refuse([](vmm::virtio::VirtqueueState& s) { s.config.size = 0; });
    refuse([](vmm::virtio::VirtqueueState& s) { s.config.available_ring = GuestPhysAddr { 1 << 20 }; });
    refuse([](vmm::virtio::VirtqueueState& s) { s.config.descriptor_table = GuestPhysAddr { 0x1008 }; });
    refuse([](vmm::virtio::VirtqueueState& s) { s.next_available = 10; });
    refuse([](vmm::virtio::VirtqueueState& s) { s.signalled_valid = true; s.signalled_used = 40000; });
}

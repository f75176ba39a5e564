// SPDX-License-Identifier: Apache-2.0
// VirtioWiring::save_state/restore_state between two KVM VMs built from one config (no vCPU):
// record names for virtio-pci and virtio-mmio, a BAR the guest moved is mapped (with its
// ioeventfd) at the restored address, and the records of another config are refused.

#include "support/skip.h"
#include "support/vec_guest_memory.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/kvm/kvm.h"
#include "vmm/machine/irq_routing.h"
#include "vmm/machine/virtio_state_codec.h"
#include "vmm/machine/virtio_wiring.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

using namespace monarch;
using namespace monarch::vmm;

namespace {

struct Machine {
    kvm::VmFd vm;
    test::VecGuestMemory memory { 16 << 20 };
    boost::asio::io_context loop;
    Bus mmio;
    Bus pio;
    pci::PciRoot root { mmio, pio, pci::PciWindows::for_ram_end(16 << 20) };
    machine::GsiRouteTable routes;
    std::unique_ptr<machine::VirtioWiring> wiring;

    explicit Machine(kvm::VmFd fd)
        : vm(std::move(fd))
        , routes(machine::legacy_gsi_routing(), [this](std::span<kvm_irq_routing_entry const> entries) { return vm.set_gsi_routing(entries); })
    {
    }
    ~Machine()
    {
        if (wiring)
            wiring->stop_devices();
    }
    uint16_t command(uint8_t slot)
    {
        std::array<std::byte, 2> data {};
        root.config_read(0, slot, 0, pci::config::COMMAND, data);
        uint16_t value = 0;
        std::memcpy(&value, data.data(), 2);
        return value;
    }
    void config_write32(uint8_t slot, uint16_t offset, uint32_t value)
    {
        std::array<std::byte, 4> data {};
        std::memcpy(data.data(), &value, 4);
        root.config_write(0, slot, 0, offset, data);
    }
};

std::unique_ptr<Machine> make_machine(machine::VmConfig const& config)
{
    auto kvm = kvm::Kvm::open();
    REQUIRE(kvm.has_value());
    auto vm = kvm->create_vm();
    REQUIRE(vm.has_value());
    REQUIRE(vm->create_irqchip().has_value());
    auto machine = std::make_unique<Machine>(std::move(*vm));
    REQUIRE(machine->routes.commit().has_value());
    auto wiring = machine::VirtioWiring::create({ machine->vm, machine->memory, machine->loop, machine->root, machine->routes, machine->mmio }, config);
    REQUIRE(wiring.has_value());
    machine->wiring = std::move(*wiring);
    auto* raw = machine->wiring.get();
    machine->root.set_bar_observer([raw](uint8_t slot, uint8_t bar, std::optional<uint64_t> at) { raw->bar_moved(slot, bar, at); });
    return machine;
}

machine::VmConfig pci_rng_config()
{
    machine::VmConfig config;
    config.rng = machine::RngConfig {};
    return config;
}

} // namespace

TEST_CASE("kvm virtio state: records restore into a VM of the same config, BAR and ioeventfd follow", "[kvm][virtio][snapshot]")
{
    test::require_kvm();
    auto config = pci_rng_config();
    auto source = make_machine(config);
    auto const slot = source->wiring->devices().at(0).slot;
    // The guest moves BAR 0 (64-bit) inside the 32-bit window.
    uint64_t const moved = pci::MMIO32_START + 0x10'0000;
    source->config_write32(slot, pci::config::BAR0, static_cast<uint32_t>(moved));
    source->config_write32(slot, pci::config::BAR0 + 4, 0);
    REQUIRE(source->wiring->quiesce());
    auto records = source->wiring->save_state();
    REQUIRE(records.has_value());
    REQUIRE(records->size() == 1);
    CHECK(records->at(0).name == fmt::format("virtio.{:02}", slot));

    auto target = make_machine(config);
    REQUIRE(target->wiring->restore_state(*records));
    auto mappings = target->root.bar_mappings();
    auto bar = std::find_if(mappings.begin(), mappings.end(), [&](pci::BarMapping const& m) { return m.slot == slot && m.bar == 0; });
    REQUIRE(bar != mappings.end());
    CHECK(bar->address == moved);
    CHECK(bar->mapped);
    CHECK(target->wiring->devices().at(0).ioeventfds == 1);
}

TEST_CASE("kvm virtio state: virtio-mmio records, and records of another config are refused", "[kvm][virtio][snapshot]")
{
    test::require_kvm();
    machine::VmConfig mmio_config;
    mmio_config.rng = machine::RngConfig {};
    mmio_config.rng->transport = machine::VirtioTransport::Mmio;
    auto source = make_machine(mmio_config);
    REQUIRE(source->wiring->quiesce());
    auto records = source->wiring->save_state();
    REQUIRE(records.has_value());
    REQUIRE(records->size() == 1);
    CHECK(records->at(0).name == "virtio.mmio.0");
    auto same = make_machine(mmio_config);
    CHECK(same->wiring->restore_state(*records).has_value());

    auto pci_machine = make_machine(pci_rng_config());
    auto refused = pci_machine->wiring->restore_state(*records);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == Errc::Corrupt);
    CHECK_FALSE(pci_machine->wiring->restore_state({}).has_value());
}

TEST_CASE("kvm virtio state: one bad record refuses the restore before any device changes", "[kvm][virtio][snapshot]")
{
    test::require_kvm();
    std::string const output = "/tmp/monarch-kvm-virtio-state-console";
    machine::VmConfig config = pci_rng_config();
    config.console.mode = "file:" + output;
    auto source = make_machine(config);
    auto const devices = source->wiring->devices();
    REQUIRE(devices.size() == 2);
    uint8_t const rng_slot = devices[0].slot;
    // The guest turns bus mastering on for the rng: its record carries that command register.
    uint16_t const command = source->command(rng_slot) | pci::command::BUS_MASTER;
    std::array<std::byte, 2> bytes {};
    std::memcpy(bytes.data(), &command, 2);
    source->root.config_write(0, rng_slot, 0, pci::config::COMMAND, bytes);
    REQUIRE(source->wiring->quiesce());
    auto records = source->wiring->save_state();
    REQUIRE(records.has_value());
    REQUIRE(records->size() == 2);

    auto target = make_machine(config);
    uint16_t const before = target->command(rng_slot);
    REQUIRE((before & pci::command::BUS_MASTER) == 0);
    auto bad = *records;
    // The console's record, well-formed but with an ISR bit that does not exist: only the
    // transport's own check refuses it, after the rng's record passed.
    auto console = machine::decode_virtio_pci(bad[1].bytes, virtio::DeviceType::Console);
    REQUIRE(console.has_value());
    console->isr = 0x80;
    bad[1].bytes = machine::encode_virtio_pci(virtio::DeviceType::Console, *console);
    auto refused = target->wiring->restore_state(bad);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == Errc::Corrupt);
    CHECK(target->command(rng_slot) == before);
    REQUIRE(target->wiring->restore_state(*records).has_value());
    CHECK((target->command(rng_slot) & pci::command::BUS_MASTER) != 0);
    std::remove(output.c_str());
}

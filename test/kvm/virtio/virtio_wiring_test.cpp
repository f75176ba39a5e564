// SPDX-License-Identifier: Apache-2.0
// VirtioWiring against a real KVM VM (no vCPU): PCI attachment, MSI-X router creation, one
// ioeventfd per queue at the BAR, moved and dropped with the BAR; a bad back end fails creation;
// virtio-mmio slots (transport=mmio) with their GSIs and QueueNotify ioeventfds.

#include "support/skip.h"
#include "support/vec_guest_memory.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/kvm/kvm.h"
#include "vmm/machine/irq_routing.h"
#include "vmm/machine/virtio_wiring.h"
#include "vmm/memory/layout.h"
#include "vmm/memory/virtio_mmio_layout.h"
#include "vmm/virtio/rng/virtio_rng.h"

#include "unit/virtio/fake_device.h"

#include <catch2/catch.hpp>

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

    explicit Machine(kvm::VmFd fd)
        : vm(std::move(fd))
        , routes(machine::legacy_gsi_routing(), [this](std::span<kvm_irq_routing_entry const> entries) { return vm.set_gsi_routing(entries); })
    {
    }
    machine::VirtioWiring::Resources resources() { return { vm, memory, loop, root, routes, mmio }; }
};

std::unique_ptr<Machine> make_machine()
{
    auto kvm = kvm::Kvm::open();
    REQUIRE(kvm.has_value());
    auto vm = kvm->create_vm();
    REQUIRE(vm.has_value());
    REQUIRE(vm->create_irqchip().has_value());
    auto machine = std::make_unique<Machine>(std::move(*vm));
    REQUIRE(machine->routes.commit().has_value());
    return machine;
}

std::unique_ptr<test::FakeDevice> fake(size_t queues)
{
    auto device = std::make_unique<test::FakeDevice>();
    device->max_sizes.assign(queues, 16);
    return device;
}

} // namespace

TEST_CASE("kvm virtio: an rng on virtio-pci gets a slot, vectors and its ioeventfd", "[kvm][virtio]")
{
    test::require_kvm();
    auto machine = make_machine();
    machine::VmConfig config;
    config.rng = machine::RngConfig {};
    auto wiring = machine::VirtioWiring::create(machine->resources(), config);
    REQUIRE(wiring.has_value());
    auto devices = (*wiring)->devices();
    REQUIRE(devices.size() == 1);
    CHECK(devices[0].slot >= 1);
    CHECK(devices[0].queues == 1);
    CHECK(devices[0].ioeventfds == 1);

    // The guest moves the BAR, then turns memory decoding off.
    (*wiring)->bar_moved(devices[0].slot, 0, 0xd000'0000);
    CHECK((*wiring)->devices()[0].ioeventfds == 1);
    (*wiring)->bar_moved(devices[0].slot, 0, std::nullopt);
    CHECK((*wiring)->devices()[0].ioeventfds == 0);
    (*wiring)->bar_moved(devices[0].slot, 0, 0xd000'8000);
    CHECK((*wiring)->devices()[0].ioeventfds == 1);
    (*wiring)->stop_devices();
}

TEST_CASE("kvm virtio: a missing disk image fails creation with its error", "[kvm][virtio]")
{
    test::require_kvm();
    auto machine = make_machine();
    machine::VmConfig config;
    config.disks.push_back(machine::DiskConfig { "/nonexistent/monarch-disk.img" });
    auto wiring = machine::VirtioWiring::create(machine->resources(), config);
    REQUIRE_FALSE(wiring.has_value());
}

TEST_CASE("kvm virtio: transport=mmio devices take the window's slots, GSIs and QueueNotify ioeventfds", "[kvm][virtio][mmio]")
{
    test::require_kvm();
    auto machine = make_machine();
    machine::VmConfig config;
    config.rng = machine::RngConfig {};
    config.rng->transport = machine::VirtioTransport::Mmio;
    auto wiring = machine::VirtioWiring::create(machine->resources(), config);
    REQUIRE(wiring.has_value());
    REQUIRE((*wiring)->add(fake(3), machine::VirtioTransport::Mmio).has_value());
    REQUIRE((*wiring)->add(fake(1), machine::VirtioTransport::Pci).has_value());
    auto devices = (*wiring)->devices();
    REQUIRE(devices.size() == 3);
    for (size_t index = 0; index < 2; ++index) {
        INFO("mmio device " << index);
        CHECK(devices[index].transport == machine::VirtioTransport::Mmio);
        CHECK(devices[index].slot == index);
        CHECK(devices[index].mmio_base == layout::virtio_mmio_base(index));
        CHECK(devices[index].irq == layout::VIRTIO_MMIO_GSIS[index]);
        CHECK(devices[index].ioeventfds == devices[index].queues); // one per queue, registered at once
        // The transport answers on the MMIO bus at its base: "virt", version 2.
        std::array<std::byte, 4> magic {};
        REQUIRE(machine->mmio.read(devices[index].mmio_base, magic));
        CHECK(std::to_integer<uint8_t>(magic[0]) == 'v');
    }
    CHECK(devices[1].queues == 3);
    CHECK(devices[2].transport == machine::VirtioTransport::Pci);
    CHECK(devices[2].slot >= 1);
    // virtio-mmio slots never move: a BAR move of another slot leaves them registered.
    (*wiring)->bar_moved(devices[2].slot, 0, std::nullopt);
    CHECK((*wiring)->devices()[0].ioeventfds == 1);
    CHECK((*wiring)->devices()[2].ioeventfds == 0);
    (*wiring)->stop_devices();
}

TEST_CASE("kvm virtio: a tenth mmio device does not fit the window", "[kvm][virtio][mmio]")
{
    test::require_kvm();
    auto machine = make_machine();
    auto wiring = machine::VirtioWiring::create(machine->resources(), machine::VmConfig {});
    REQUIRE(wiring.has_value());
    for (size_t index = 0; index < layout::VIRTIO_MMIO_SLOTS; ++index)
        REQUIRE((*wiring)->add(fake(1), machine::VirtioTransport::Mmio).has_value());
    auto extra = (*wiring)->add(fake(1), machine::VirtioTransport::Mmio);
    REQUIRE_FALSE(extra.has_value());
    CHECK(extra.error().code == Errc::OutOfRange);
    (*wiring)->stop_devices();
}

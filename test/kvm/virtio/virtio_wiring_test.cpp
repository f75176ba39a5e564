// SPDX-License-Identifier: Apache-2.0
// VirtioWiring against a real KVM VM (no vCPU): PCI attachment, MSI-X router creation, one
// ioeventfd per queue at the BAR, moved and dropped with the BAR; a bad back end fails creation.

#include "support/skip.h"
#include "support/vec_guest_memory.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/pci/pci_root.h"
#include "vmm/kvm/kvm.h"
#include "vmm/machine/irq_routing.h"
#include "vmm/machine/virtio_wiring.h"
#include "vmm/memory/layout.h"
#include "vmm/virtio/rng/virtio_rng.h"

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

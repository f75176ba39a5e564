// SPDX-License-Identifier: Apache-2.0
// VmFd's ioeventfd/irqfd/GSI-routing calls and KvmMsiRouter on a real KVM VM: registration
// succeeds, duplicates and unknown entries are refused as the KVM API documents.
#include "support/skip.h"
#include "vmm/kvm/kvm.h"
#include "vmm/machine/adapters/kvm_msi_router.h"
#include "vmm/machine/irq_routing.h"

#include <catch2/catch.hpp>
#include <cerrno>
#include <sys/eventfd.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::kvm;

namespace {

UniqueFd make_eventfd()
{
    UniqueFd fd { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    REQUIRE(fd);
    return fd;
}

VmFd make_vm_with_irqchip()
{
    auto kvm = Kvm::open();
    REQUIRE(kvm.has_value());
    auto vm = kvm->create_vm();
    REQUIRE(vm.has_value());
    REQUIRE(vm->create_irqchip().has_value());
    return std::move(*vm);
}

} // namespace

TEST_CASE("kvm pci: ioeventfd register, duplicate, unregister (MMIO and PIO)", "[kvm][pci]")
{
    test::require_kvm();
    auto vm = make_vm_with_irqchip();
    auto fd = make_eventfd();

    IoEventFd const notify { 0xc0001000, 0, std::nullopt, fd.get(), IoEventSpace::Mmio };
    IoEventFd const matched { 0xc0002000, 2, 3, fd.get(), IoEventSpace::Mmio };
    IoEventFd const port { 0xc040, 2, std::nullopt, fd.get(), IoEventSpace::Pio };
    REQUIRE(vm.register_ioeventfd(notify).has_value());
    REQUIRE(vm.register_ioeventfd(matched).has_value());
    REQUIRE(vm.register_ioeventfd(port).has_value());

    auto duplicate = vm.register_ioeventfd(notify);
    REQUIRE_FALSE(duplicate.has_value());
    CHECK(duplicate.error().sys_errno == EEXIST);

    REQUIRE(vm.unregister_ioeventfd(notify).has_value());
    REQUIRE(vm.unregister_ioeventfd(matched).has_value());
    REQUIRE(vm.unregister_ioeventfd(port).has_value());
    auto gone = vm.unregister_ioeventfd(port);
    REQUIRE_FALSE(gone.has_value());
    CHECK(gone.error().code == Errc::Sys);

    CHECK(vm.register_ioeventfd({ 0xc0003000, 3, std::nullopt, fd.get(), IoEventSpace::Mmio }).error().code == Errc::InvalidArgument);
    CHECK(vm.register_ioeventfd({ 0xc0003000, 0, 1, fd.get(), IoEventSpace::Mmio }).error().code == Errc::InvalidArgument);
}

TEST_CASE("kvm pci: irqfd on an IOAPIC pin, with and without resample", "[kvm][pci]")
{
    test::require_kvm();
    auto vm = make_vm_with_irqchip();
    REQUIRE(vm.set_gsi_routing(machine::legacy_gsi_routing()).has_value());
    auto edge = make_eventfd();
    auto level = make_eventfd();
    auto resample = make_eventfd();

    REQUIRE(vm.register_irqfd(edge.get(), Gsi { 16 }).has_value());
    REQUIRE(vm.register_irqfd(level.get(), Gsi { 17 }, resample.get()).has_value());
    auto twice = vm.register_irqfd(edge.get(), Gsi { 16 });
    REQUIRE_FALSE(twice.has_value());
    CHECK(twice.error().sys_errno == EBUSY);
    uint64_t const one = 1;
    CHECK(::write(level.get(), &one, sizeof one) == sizeof one); // asserts GSI 17; no vCPU to see it
    REQUIRE(vm.unregister_irqfd(edge.get(), Gsi { 16 }).has_value());
    REQUIRE(vm.unregister_irqfd(level.get(), Gsi { 17 }).has_value());
}

TEST_CASE("kvm pci: KvmMsiRouter routes and triggers MSI vectors", "[kvm][pci]")
{
    test::require_kvm();
    auto vm = make_vm_with_irqchip();
    machine::GsiRouteTable routes { machine::legacy_gsi_routing(), [&vm](std::span<kvm_irq_routing_entry const> entries) { return vm.set_gsi_routing(entries); } };
    REQUIRE(routes.commit().has_value());
    {
        auto router = machine::KvmMsiRouter::create(vm, routes, 4);
        REQUIRE(router.has_value());
        auto& msi = **router;
        CHECK(msi.gsi(0).raw() == machine::MSI_GSI_FIRST);
        CHECK(msi.gsi(3).raw() == machine::MSI_GSI_FIRST + 3);
        msi.update(0, pci::MsiMessage { 0xfee00000, 0x0030 }, false); // APIC 0, vector 0x30
        CHECK(routes.dirty()); // recorded; KVM gets it at the next trigger or commit
        REQUIRE(routes.commit().has_value());
        msi.update(1, pci::MsiMessage { 0xfee00000, 0x0031 }, true); // masked: no route, nothing to commit
        CHECK_FALSE(routes.dirty());
        msi.update(2, pci::MsiMessage { 0xfee00000, 0x0032 }, false);
        msi.update(2, pci::MsiMessage { 0xfee00000, 0x0032 }, true); // route dropped, not committed yet
        CHECK(routes.dirty());
        msi.trigger(0); // commits the batch, then writes the eventfd
        CHECK_FALSE(routes.dirty());
        CHECK(msi.failures() == 0);
    }
    // The router's irqfds are gone and its GSIs free again.
    REQUIRE(routes.commit().has_value());
    auto again = routes.allocate();
    REQUIRE(again.has_value());
    CHECK(again->raw() == machine::MSI_GSI_FIRST);
}

// SPDX-License-Identifier: Apache-2.0
// virtio_placement.h and virtio_mmio_layout.h: the wiring order, the slots, and the kernel
// command-line words, read back the way Linux's virtio_mmio module parses them
// (drivers/virtio/virtio_mmio.c vm_cmdline_set: memparse size, '@', memparse base, ':', irq).
#include "vmm/devices/pci/pci_windows.h"
#include "vmm/machine/virtio_placement.h"
#include "vmm/memory/layout.h"
#include "vmm/memory/virtio_mmio_layout.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace monarch::vmm;
using namespace monarch::vmm::machine;

namespace {

struct ParsedDevice {
    uint64_t size { 0 };
    uint64_t base { 0 };
    uint32_t irq { 0 };
};

// Linux's memparse: a number in C syntax (0x hex, 0 octal, decimal) with an optional K/M/G.
bool memparse(std::string const& text, size_t& position, uint64_t& value)
{
    char const* start = text.c_str() + position;
    char* end = nullptr;
    value = std::strtoull(start, &end, 0);
    if (end == start)
        return false;
    switch (*end) {
    case 'G': case 'g': value <<= 10; [[fallthrough]];
    case 'M': case 'm': value <<= 10; [[fallthrough]];
    case 'K': case 'k': value <<= 10; ++end; break;
    default: break;
    }
    position = static_cast<size_t>(end - text.c_str());
    return true;
}

std::vector<ParsedDevice> parse_cmdline(std::string const& cmdline)
{
    std::vector<ParsedDevice> devices;
    std::istringstream words(cmdline);
    std::string const key = "virtio_mmio.device=";
    for (std::string word; words >> word;) {
        if (word.rfind(key, 0) != 0)
            continue;
        ParsedDevice device;
        size_t position = key.size();
        REQUIRE(memparse(word, position, device.size));
        REQUIRE(word.at(position) == '@');
        ++position;
        REQUIRE(memparse(word, position, device.base));
        REQUIRE(word.at(position) == ':');
        device.irq = static_cast<uint32_t>(std::stoul(word.substr(position + 1)));
        devices.push_back(device);
    }
    return devices;
}

bool overlaps(uint64_t base, uint64_t size, uint64_t other_base, uint64_t other_size)
{
    return base < other_base + other_size && other_base < base + size;
}

VmConfig mixed_config()
{
    VmConfig config;
    config.cmdline = "console=ttyS0 -- init-argument";
    config.disks = { DiskConfig { "a.img" }, DiskConfig { "b.img" } };
    config.disks[1].transport = VirtioTransport::Mmio;
    config.nets = { NetConfig { "tap0" } };
    config.nets[0].transport = VirtioTransport::Mmio;
    config.rng = RngConfig {};
    config.vsock = VsockConfig { 3, "/v" };
    config.vsock->transport = VirtioTransport::Mmio;
    config.console.mode = "pty";
    return config;
}

} // namespace

TEST_CASE("virtio placement: the wiring order is disks, nets, rng, vsock, console", "[unit][virtio_mmio]")
{
    auto order = virtio_wiring_order(mixed_config());
    using enum VirtioTransport;
    CHECK(order == std::vector<VirtioTransport> { Pci, Mmio, Mmio, Pci, Mmio, Pci });
    CHECK(virtio_mmio_device_count(mixed_config()) == 3);
    CHECK(virtio_wiring_order(VmConfig {}).empty());
}

TEST_CASE("virtio placement: one command-line word per mmio device, before the user's words", "[unit][virtio_mmio]")
{
    auto config = mixed_config();
    auto cmdline = kernel_cmdline_with_virtio_mmio(config);
    INFO(cmdline);
    // The user's line is kept whole at the end, so its " -- " cannot capture our words.
    REQUIRE(cmdline.ends_with(" " + config.cmdline));
    CHECK(cmdline.find("virtio_mmio.device=") < cmdline.find(" -- "));
    auto devices = parse_cmdline(cmdline);
    REQUIRE(devices.size() == 3);
    std::set<uint64_t> bases;
    std::set<uint32_t> irqs;
    for (size_t index = 0; index < devices.size(); ++index) {
        auto const& device = devices[index];
        auto slot = virtio_mmio_slot(index);
        REQUIRE(slot);
        CHECK(device.base == slot->base);
        CHECK(device.irq == slot->gsi);
        CHECK(device.size == 0x1000);
        bases.insert(device.base);
        irqs.insert(device.irq);
    }
    CHECK(bases.size() == 3);
    CHECK(irqs.size() == 3);
}

TEST_CASE("virtio placement: no mmio device leaves the command line alone", "[unit][virtio_mmio]")
{
    VmConfig config;
    config.cmdline = "console=ttyS0";
    config.disks = { DiskConfig { "a.img" } };
    CHECK(kernel_cmdline_with_virtio_mmio(config) == "console=ttyS0");
    config.cmdline.clear();
    config.disks[0].transport = VirtioTransport::Mmio;
    auto only = kernel_cmdline_with_virtio_mmio(config);
    CHECK(parse_cmdline(only).size() == 1);
    CHECK_FALSE(only.ends_with(" "));
}

TEST_CASE("virtio placement: every slot is in the MMIO hole clear of PCI, ECAM, IOAPIC and LAPIC", "[unit][virtio_mmio]")
{
    for (size_t index = 0; index < layout::VIRTIO_MMIO_SLOTS; ++index) {
        auto slot = virtio_mmio_slot(index);
        REQUIRE(slot);
        INFO("slot " << index << " at " << slot->base);
        CHECK(slot->base >= layout::MMIO_HOLE_START);
        CHECK(slot->base + slot->size <= layout::MMIO_HOLE_END);
        CHECK(slot->base % 0x1000 == 0);
        CHECK_FALSE(overlaps(slot->base, slot->size, pci::MMIO32_START, pci::MMIO32_END - pci::MMIO32_START));
        CHECK_FALSE(overlaps(slot->base, slot->size, layout::PCI_ECAM_START, layout::PCI_ECAM_SIZE));
        CHECK_FALSE(overlaps(slot->base, slot->size, layout::IOAPIC_START, layout::IOAPIC_SIZE));
        CHECK_FALSE(overlaps(slot->base, slot->size, layout::LAPIC_START, layout::LAPIC_SIZE));
        CHECK_FALSE(overlaps(slot->base, slot->size, layout::MMIO_BENCH_PAGE, 0x1000));
        CHECK_FALSE(overlaps(slot->base, slot->size, KVM_IDENTITY_MAP_ADDRESS, 0x4000));
    }
    CHECK_FALSE(virtio_mmio_slot(layout::VIRTIO_MMIO_SLOTS));
}

TEST_CASE("virtio placement: the GSIs avoid the legacy lines and PCI INTx", "[unit][virtio_mmio]")
{
    std::set<uint32_t> const taken { 0, 1, 2, layout::IRQ_COM1, layout::IRQ_RTC, layout::IRQ_ACPI_SCI };
    std::set<uint32_t> seen;
    for (uint32_t gsi : layout::VIRTIO_MMIO_GSIS) {
        INFO("GSI " << gsi);
        CHECK_FALSE(taken.contains(gsi));
        CHECK((gsi < pci::INTX_GSI_BASE || gsi >= pci::INTX_GSI_BASE + pci::INTX_GSI_COUNT));
        CHECK(gsi < 24); // KVM's IOAPIC has 24 pins
        CHECK(seen.insert(gsi).second);
    }
}

TEST_CASE("virtio placement: words past the window are left out", "[unit][virtio_mmio]")
{
    VmConfig config;
    for (size_t index = 0; index < layout::VIRTIO_MMIO_SLOTS + 2; ++index) {
        config.disks.push_back(DiskConfig { "d" + std::to_string(index) });
        config.disks.back().transport = VirtioTransport::Mmio;
    }
    CHECK(parse_cmdline(kernel_cmdline_with_virtio_mmio(config)).size() == layout::VIRTIO_MMIO_SLOTS);
}

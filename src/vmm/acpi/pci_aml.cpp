// SPDX-License-Identifier: Apache-2.0
// \_SB.PCI0 and \_SB.MRES: the root bridge and its ECAM reservation.
#include "vmm/acpi/pci_aml.h"

#include "common/verify.h"

namespace monarch::vmm::acpi {
namespace {

constexpr uint16_t PORT_CONFIG_ADDRESS = 0xcf8; // configuration mechanism #1, 8 ports
constexpr uint8_t PORT_CONFIG_SIZE = 8;

aml::Bytes pci_crs(PciHostBridgeInfo const& info)
{
    using namespace aml;
    Bytes resources = word_bus_number_resource(info.bus_first, info.bus_last);
    // The bridge consumes 0xCF8-0xCFF itself.
    append(resources, io_port_resource(PORT_CONFIG_ADDRESS, PORT_CONFIG_SIZE));
    if (info.io_end > info.io_start)
        append(resources, word_io_resource(static_cast<uint16_t>(info.io_start), static_cast<uint16_t>(info.io_end - 1)));
    append(resources, dword_memory_resource(static_cast<uint32_t>(info.mmio32_start), static_cast<uint32_t>(info.mmio32_end - 1)));
    if (info.mmio64_end > info.mmio64_start)
        append(resources, qword_memory_resource(info.mmio64_start, info.mmio64_end - 1));
    append(resources, end_tag_resource());
    return buffer(resources);
}

// _PRT (6.2.13): Package { Address = device << 16 | 0xFFFF (any function), Pin (0 = INTA),
// Source = 0 (the index is a GSI: level-triggered, active-low, shareable), Source Index }.
aml::Bytes pci_prt(PciHostBridgeInfo const& info)
{
    using namespace aml;
    VERIFY(info.interrupts.size() <= 0xff);
    std::vector<Bytes> entries;
    for (auto const& route : info.interrupts) {
        std::vector<Bytes> fields { integer((uint32_t { route.slot } << 16) | 0xffff), integer(route.pin), integer(0), integer(route.gsi) };
        entries.push_back(package(fields));
    }
    return package(entries);
}

} // namespace

aml::Bytes pci_root_devices(PciHostBridgeInfo const& info)
{
    using namespace aml;
    VERIFY(info.mmio32_end > info.mmio32_start && info.mmio32_end <= (uint64_t { 1 } << 32));
    VERIFY(info.io_end <= 0x10000 && info.bus_first <= info.bus_last);

    Bytes pci = name("_HID", integer(eisa_id("PNP0A08"))); // PCI Express root bridge
    append(pci, name("_CID", integer(eisa_id("PNP0A03")))); // ... compatible with a PCI one
    append(pci, name("_SEG", integer(0)));
    append(pci, name("_BBN", integer(info.bus_first)));
    append(pci, name("_UID", integer(0)));
    append(pci, name("_CRS", pci_crs(info)));
    append(pci, name("_PRT", pci_prt(info)));

    uint64_t const ecam_size = (uint64_t { info.bus_last } + 1 - info.bus_first) << 20;
    Bytes reserved = memory32_fixed_resource(static_cast<uint32_t>(info.ecam_base + (uint64_t { info.bus_first } << 20)), static_cast<uint32_t>(ecam_size));
    append(reserved, end_tag_resource());
    Bytes mres = name("_HID", integer(eisa_id("PNP0C02")));
    append(mres, name("_UID", integer(1)));
    append(mres, name("_CRS", buffer(reserved)));

    Bytes out = device("PCI0", pci);
    append(out, device("MRES", mres));
    return out;
}

} // namespace monarch::vmm::acpi

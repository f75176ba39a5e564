// SPDX-License-Identifier: Apache-2.0
// write_firmware_tables: the MP table and the ACPI tables a Monarch VM's kernel reads at boot,
// written into guest RAM. The VMM marks `regions` reserved in the e820 map and passes `rsdp`
// to the kernel (PVH start_info.rsdp_paddr or boot_params.acpi_rsdp_addr); a kernel that is
// told nothing finds the RSDP by scanning 0xe0000-0xfffff and the MP pointer in the EBDA.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "vmm/acpi/pci_host_bridge_info.h"
#include "vmm/arch/topology.h"
#include "vmm/memory/guest_memory.h"

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

namespace monarch::vmm::acpi {

struct FirmwareConfig {
    uint32_t vcpu_count { 1 };
    arch::CpuTopology topology {}; // its vcpu_count is replaced by the one above
    // Set when the VM has a PCI root bridge: adds MCFG to the XSDT and PCI0 to the DSDT.
    std::optional<PciHostBridgeInfo> pci {};
};

struct FirmwareTables {
    GuestPhysAddr rsdp;
    GuestPhysAddr mp_floating_pointer;
    // (base, size) of the windows the tables occupy: [EBDA_START, LOW_RAM_END) and
    // [ACPI_TABLES_START, ACPI_TABLES_END), both zeroed before writing.
    std::vector<std::pair<GuestPhysAddr, uint64_t>> regions;
};

// MP floating pointer at layout::EBDA_START with its configuration table right behind it when
// that fits in the EBDA's 1 KiB (up to 40 vCPUs), else the configuration table goes after the
// ACPI tables. RSDP at ACPI_TABLES_START (16-byte aligned, inside the BIOS scan area), then
// XSDT, FADT, FACS, DSDT, MADT and (with PCI) MCFG, each 64-byte aligned.
// InvalidArgument: vcpu_count 0, or a topology whose APIC IDs exceed arch::MAX_APIC_ID
// (so at most 254 vCPUs), or a PCI description whose windows do not fit (32-bit window or
// ECAM above 4 GiB, I/O past 0xffff, more than 255 _PRT entries). OutOfRange: those windows
// are not guest RAM.
[[nodiscard]] Result<FirmwareTables> write_firmware_tables(GuestMemory&, FirmwareConfig const&);

// The IOAPIC's APIC ID in both tables: one past the highest local APIC ID, so that the MP
// spec's single APIC-ID space has no clash.
[[nodiscard]] uint8_t ioapic_id_for(arch::CpuTopology const&);

} // namespace monarch::vmm::acpi

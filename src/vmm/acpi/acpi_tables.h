// SPDX-License-Identifier: Apache-2.0
// Builders for the individual ACPI tables (ACPI 6.x, chapter 5.2): each returns the complete
// table bytes, checksum included, for the addresses it is told the others live at.
#pragma once

#include "common/strong_int.h"
#include "vmm/acpi/pci_host_bridge_info.h"
#include "vmm/arch/topology.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::acpi {

using TableBytes = std::vector<std::byte>;

inline constexpr char const* OEM_ID = "MONRCH";        // 6 bytes
inline constexpr char const* OEM_TABLE_ID = "MONARCH"; // 8 bytes, space padded
inline constexpr char const* CREATOR_ID = "MNRC";
inline constexpr uint32_t CREATOR_REVISION = 1;
inline constexpr size_t RSDP_SIZE = 36;
inline constexpr size_t FACS_SIZE = 64;

// RSDP revision 2: RSDT address 0 (the XSDT alone lists the tables, as ACPI 6 allows for
// 64-bit OSPM), checksum over the first 20 bytes, extended checksum over all 36.
[[nodiscard]] TableBytes build_rsdp(GuestPhysAddr xsdt);
[[nodiscard]] TableBytes build_xsdt(std::span<GuestPhysAddr const> tables);
// FADT revision 6 (276 bytes), not hardware-reduced: SCI, PM1a event/control blocks, reset
// register, FACS (32-bit FIRMWARE_CTRL only), DSDT (DSDT and X_DSDT), legacy devices and the
// 8042 announced, no PM timer, no GPE blocks.
[[nodiscard]] TableBytes build_fadt(GuestPhysAddr facs, GuestPhysAddr dsdt);
// FACS (no checksum by definition; 64-byte aligned by its placement).
[[nodiscard]] TableBytes build_facs();
// DSDT: \_S5 for soft-off; \_SB.COM1 (PNP0501), \_SB.KBD_ (PNP0303, i8042) and \_SB.RTC_
// (PNP0B00) with their ports and IRQs; one processor device (ACPI0007) per vCPU whose _UID is
// the MADT's processor UID. With `pci`, also \_SB.PCI0 (the root bridge) and \_SB.MRES (its
// ECAM reservation), see pci_aml.h.
[[nodiscard]] TableBytes build_dsdt(uint32_t vcpu_count, std::optional<PciHostBridgeInfo> const& pci = std::nullopt);
// MCFG (PCI Firmware spec 3.0, 4.1.2): one allocation, ECAM base, segment 0, the bus range.
[[nodiscard]] TableBytes build_mcfg(PciHostBridgeInfo const&);
// MADT: local APIC at layout::LAPIC_START, PCAT_COMPAT; one enabled local APIC per vCPU;
// the IOAPIC at IOAPIC_START, GSI base 0; overrides IRQ0 -> GSI2 (edge, high) and the SCI
// (level, high); local APIC NMI on LINT1 for all processors.
[[nodiscard]] TableBytes build_madt(arch::CpuTopology const&, uint8_t ioapic_id);

// Flags and values the tests and the PM device can check against.
inline constexpr uint32_t FADT_WBINVD = 1u << 0;
inline constexpr uint32_t FADT_PROC_C1 = 1u << 2;
inline constexpr uint32_t FADT_PWR_BUTTON = 1u << 4;  // no fixed power button
inline constexpr uint32_t FADT_SLP_BUTTON = 1u << 5;  // no fixed sleep button
inline constexpr uint32_t FADT_RESET_REG_SUP = 1u << 10;
inline constexpr uint32_t FADT_HW_REDUCED_ACPI = 1u << 20;
inline constexpr uint16_t IAPC_LEGACY_DEVICES = 1u << 0;
inline constexpr uint16_t IAPC_8042 = 1u << 1;
inline constexpr uint16_t IAPC_VGA_NOT_PRESENT = 1u << 2;

} // namespace monarch::vmm::acpi

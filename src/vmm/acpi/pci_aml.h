// SPDX-License-Identifier: Apache-2.0
// The AML for a PCI root bridge (ACPI 6.x 9.11 / PCI Firmware spec 4.1): \_SB.PCI0 with its
// IDs, bus range, windows (_CRS) and interrupt routing (_PRT), and \_SB.MRES, the motherboard
// resource (PNP0C02) that reserves the ECAM window, which Linux requires before it uses MCFG.
#pragma once

#include "vmm/acpi/aml.h"
#include "vmm/acpi/pci_host_bridge_info.h"

namespace monarch::vmm::acpi {

// The two Device() terms, to be placed inside Scope(\_SB).
[[nodiscard]] aml::Bytes pci_root_devices(PciHostBridgeInfo const&);

} // namespace monarch::vmm::acpi

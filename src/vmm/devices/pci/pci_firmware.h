// SPDX-License-Identifier: Apache-2.0
// What the firmware tables must say about this host bridge (MCFG, \_SB.PCI0): built from the
// same constants the bridge uses, so the tables and the model cannot disagree.
#pragma once

#include "vmm/acpi/pci_host_bridge_info.h"
#include "vmm/devices/pci/pci_windows.h"

namespace monarch::vmm::pci {

[[nodiscard]] inline acpi::PciHostBridgeInfo firmware_info(PciWindows const& windows)
{
    acpi::PciHostBridgeInfo info;
    info.ecam_base = layout::PCI_ECAM_START;
    info.bus_first = 0;
    info.bus_last = ECAM_LAST_BUS;
    info.mmio32_start = windows.mmio32_start;
    info.mmio32_end = windows.mmio32_end;
    info.mmio64_start = windows.mmio64_start;
    info.mmio64_end = windows.mmio64_end;
    info.io_start = windows.io_start;
    info.io_end = windows.io_end;
    // Every slot a device can occupy, every pin: the guest may look up any of them.
    for (uint8_t slot = 1; slot < SLOT_COUNT; ++slot)
        for (uint8_t pin = 0; pin < 4; ++pin)
            info.interrupts.push_back({ slot, pin, intx_gsi(slot, pin) });
    return info;
}

} // namespace monarch::vmm::pci

// SPDX-License-Identifier: Apache-2.0
// PciHostBridgeInfo: what the firmware tables say about the PCI root bridge (MCFG and the
// DSDT's \_SB.PCI0): the ECAM window, the bus range, the address windows and the INTx routing.
// The machine fills it from the host bridge's own constants (pci::PciWindows, pci::intx_gsi),
// so this layer does not depend on the device model.
#pragma once

#include <cstdint>
#include <vector>

namespace monarch::vmm::acpi {

struct PciInterruptRoute {
    uint8_t slot { 0 };     // device number on bus 0
    uint8_t pin { 0 };      // 0..3 for INTA..INTD
    uint32_t gsi { 0 };
};

struct PciHostBridgeInfo {
    uint64_t ecam_base { 0 };
    uint8_t bus_first { 0 };
    uint8_t bus_last { 0 };       // ECAM covers (bus_last + 1) MiB from ecam_base
    uint64_t mmio32_start { 0 };
    uint64_t mmio32_end { 0 };    // exclusive
    uint64_t mmio64_start { 0 };
    uint64_t mmio64_end { 0 };    // exclusive; equal to start: no 64-bit window
    uint32_t io_start { 0 };
    uint32_t io_end { 0 };        // exclusive; equal to start: no I/O window
    std::vector<PciInterruptRoute> interrupts;
};

} // namespace monarch::vmm::acpi

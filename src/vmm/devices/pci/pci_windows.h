// SPDX-License-Identifier: Apache-2.0
// The address windows of Monarch's PCI root bus (what the host bridge allocates BARs from and
// what the DSDT's PCI0._CRS announces), the config-access ports, and the fixed INTx -> GSI map
// that PCI0._PRT describes.
#pragma once

#include "vmm/memory/layout.h"

#include <algorithm>
#include <cstdint>

namespace monarch::vmm::pci {

// Type 1 configuration mechanism (PCI Local Bus 3.0, 3.2.2.3.2): CONFIG_ADDRESS at 0xCF8,
// CONFIG_DATA at 0xCFC, the 8 ports together.
inline constexpr uint16_t PORT_CONFIG_ADDRESS = 0xcf8;
inline constexpr uint16_t PORT_CONFIG_SIZE = 8;

// ECAM (PCIe base spec 7.2.2): 1 MiB per bus, so layout's 256 MiB cover buses 0-255; MCFG
// announces all of them, only bus 0 is populated.
inline constexpr uint8_t ECAM_LAST_BUS = static_cast<uint8_t>(layout::PCI_ECAM_SIZE / layout::MiB - 1);
static_assert(layout::PCI_ECAM_SIZE == 256 * layout::MiB);

// 32-bit BAR window: layout's PCI MMIO range up to where ECAM begins (layout puts ECAM at
// 0xe0000000, inside PCI_MMIO_START + PCI_MMIO_SIZE), so 0xc0000000-0xdfffffff.
inline constexpr uint64_t MMIO32_START = layout::PCI_MMIO_START;
inline constexpr uint64_t MMIO32_END = std::min(layout::PCI_MMIO_START + layout::PCI_MMIO_SIZE, layout::PCI_ECAM_START);
static_assert(MMIO32_END > MMIO32_START && MMIO32_END <= layout::IOAPIC_START);

// I/O BAR window: 0xc000-0xffff, as QEMU's PC machines use, clear of every legacy port.
inline constexpr uint16_t IO_WINDOW_START = 0xc000;
inline constexpr uint32_t IO_WINDOW_SIZE = 0x4000;

// 64-bit BAR window: 32 GiB from the first 1 GiB boundary at or above both 4 GiB and the end
// of guest RAM. It must stay below the guest's physical-address limit (CPUID 0x80000008:
// 36 bits, 64 GiB, on the oldest x86-64 CPUs), which holds for guests with up to 31 GiB of RAM.
inline constexpr uint64_t MMIO64_ALIGNMENT = layout::GiB;
inline constexpr uint64_t MMIO64_SIZE = 32 * layout::GiB;

struct PciWindows {
    uint64_t mmio32_start { MMIO32_START };
    uint64_t mmio32_end { MMIO32_END };   // exclusive
    uint64_t mmio64_start { 0 };
    uint64_t mmio64_end { 0 };            // exclusive; equal to start: no 64-bit window
    uint32_t io_start { IO_WINDOW_START };
    uint32_t io_end { IO_WINDOW_START + IO_WINDOW_SIZE };

    // The windows for a VM whose RAM ends (exclusive) at `ram_end`.
    [[nodiscard]] static constexpr PciWindows for_ram_end(uint64_t ram_end)
    {
        PciWindows windows;
        uint64_t const floor = std::max(ram_end, layout::RAM_ABOVE_4G_START);
        windows.mmio64_start = (floor + MMIO64_ALIGNMENT - 1) & ~(MMIO64_ALIGNMENT - 1);
        windows.mmio64_end = windows.mmio64_start + MMIO64_SIZE;
        return windows;
    }
};

// INTx routing: slot `s`, pin INTA..INTD (index 0..3) -> GSI 16 + ((s + pin) mod 8), the
// IOAPIC pins above the ISA range (KVM's IOAPIC has 24). The rotation is the usual PCI
// swizzle, so that INTA of neighbouring slots lands on different lines. Level-triggered,
// active-low, as PCI interrupts are (the _PRT entries name the GSI directly).
inline constexpr uint32_t INTX_GSI_BASE = 16;
inline constexpr uint32_t INTX_GSI_COUNT = 8;
inline constexpr uint8_t SLOT_COUNT = 32; // device 0 is the host bridge; 1..31 for devices

[[nodiscard]] constexpr uint32_t intx_gsi(uint8_t slot, uint8_t pin_index)
{
    return INTX_GSI_BASE + (uint32_t { slot } + pin_index) % INTX_GSI_COUNT;
}

} // namespace monarch::vmm::pci

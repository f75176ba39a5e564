// SPDX-License-Identifier: Apache-2.0
// The guest-physical address map of an x86-64 Monarch VM. One place, so that the loaders,
// the firmware tables, the e820 map and the VMM agree. Follows the usual KVM VMM layout
// (Firecracker, Cloud Hypervisor): low structures under 1 MiB, the kernel at 1 MiB, a 1 GiB
// hole for MMIO below 4 GiB, and RAM beyond the hole continuing at 4 GiB.
#pragma once

#include <cstdint>

namespace monarch::vmm::layout {

inline constexpr uint64_t KiB = 1024;
inline constexpr uint64_t MiB = 1024 * KiB;
inline constexpr uint64_t GiB = 1024 * MiB;

// Low memory (all inside the first 640 KiB of RAM, reported as usable RAM except where noted).
inline constexpr uint64_t BOOT_GDT_START = 0x500;        // 64-bit entry: GDT the VMM builds
inline constexpr uint64_t BOOT_IDT_START = 0x520;        // and an empty IDT
inline constexpr uint64_t PVH_START_INFO_START = 0x6000; // hvm_start_info
inline constexpr uint64_t PVH_MEMMAP_START = 0x6040;     // hvm_memmap_table_entry[] right after it
inline constexpr uint64_t ZERO_PAGE_START = 0x7000;      // Linux boot_params
inline constexpr uint64_t BOOT_STACK_POINTER = 0x8ff0;
inline constexpr uint64_t PML4_START = 0x9000;           // boot page tables (identity map)
inline constexpr uint64_t PDPTE_START = 0xa000;
inline constexpr uint64_t PDE_START = 0xb000;            // 4 pages: identity-maps the first 4 GiB with 2 MiB pages
inline constexpr uint64_t CMDLINE_START = 0x20000;
inline constexpr uint64_t CMDLINE_MAX_SIZE = 0x10000;    // 64 KiB, including the NUL
inline constexpr uint64_t EBDA_START = 0x9fc00;          // MP floating pointer and table live here
inline constexpr uint64_t LOW_RAM_END = 0xa0000;         // 640 KiB: VGA hole and BIOS area follow
inline constexpr uint64_t ACPI_TABLES_START = 0xe0000;   // RSDP (found by scanning 0xe0000-0xfffff) and tables
inline constexpr uint64_t ACPI_TABLES_END = 0x100000;
inline constexpr uint64_t HIGH_RAM_START = 1 * MiB;      // kernels load here

// The MMIO hole below 4 GiB: PCI BARs, ECAM, IOAPIC, LAPIC.
inline constexpr uint64_t MMIO_HOLE_START = 3 * GiB;
inline constexpr uint64_t MMIO_HOLE_SIZE = 1 * GiB;
inline constexpr uint64_t MMIO_HOLE_END = MMIO_HOLE_START + MMIO_HOLE_SIZE; // == 4 GiB
inline constexpr uint64_t PCI_MMIO_START = 3 * GiB;                         // 32-bit BARs
inline constexpr uint64_t PCI_MMIO_SIZE = 768 * MiB;
inline constexpr uint64_t PCI_ECAM_START = 0xe0000000;                      // 256 MiB: 256 buses
inline constexpr uint64_t PCI_ECAM_SIZE = 256 * MiB;
inline constexpr uint64_t IOAPIC_START = 0xfec00000;
inline constexpr uint64_t IOAPIC_SIZE = 0x1000;
inline constexpr uint64_t LAPIC_START = 0xfee00000;
inline constexpr uint64_t LAPIC_SIZE = 0x1000;
// Addresses in the hole that no device claims: MMIO there exits to user space and reads 0.
// testos's mmio-bench uses this page.
inline constexpr uint64_t MMIO_BENCH_PAGE = 0xfed00000;

inline constexpr uint64_t RAM_ABOVE_4G_START = 4 * GiB;

// Legacy I/O ports.
inline constexpr uint16_t PORT_COM1 = 0x3f8;
inline constexpr uint16_t PORT_COM_SIZE = 8;
inline constexpr uint16_t PORT_I8042_DATA = 0x60;
inline constexpr uint16_t PORT_I8042_COMMAND = 0x64;
inline constexpr uint16_t PORT_RTC = 0x70;               // index at 0x70, data at 0x71
inline constexpr uint16_t PORT_DEBUG_EXIT = 0xf4;        // QEMU's isa-debug-exit default iobase
inline constexpr uint16_t PORT_PIO_BENCH = 0xf8;         // testos's pio-bench writes here (unclaimed)
// ACPI fixed hardware (FADT): PM1a event block (status u16, enable u16) and control block.
// The guest powers off by writing SLP_TYP=ACPI_SLP_TYP_S5 with SLP_EN to PM1a_CNT; it resets
// through the FADT reset register, which points at the i8042 command port with 0xFE.
inline constexpr uint16_t PORT_ACPI_PM1A_EVT = 0x600;
inline constexpr uint16_t PORT_ACPI_PM1A_EVT_SIZE = 4;
inline constexpr uint16_t PORT_ACPI_PM1A_CNT = 0x604;
inline constexpr uint16_t PORT_ACPI_PM1A_CNT_SIZE = 2;
inline constexpr uint8_t ACPI_SLP_TYP_S5 = 5;             // the DSDT's \_S5 package says the same
inline constexpr uint16_t PORT_ACPI_RESET = PORT_I8042_COMMAND;
inline constexpr uint8_t ACPI_RESET_VALUE = 0xfe;

// Legacy interrupt lines (ISA IRQs through the in-kernel PIC/IOAPIC).
inline constexpr uint32_t IRQ_COM1 = 4;
inline constexpr uint32_t IRQ_I8042_KEYBOARD = 1;
inline constexpr uint32_t IRQ_RTC = 8;
inline constexpr uint32_t IRQ_ACPI_SCI = 9;

} // namespace monarch::vmm::layout

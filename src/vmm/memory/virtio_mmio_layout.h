// SPDX-License-Identifier: Apache-2.0
// Where monarch-vmm puts virtio-mmio transports: a window of 4 KiB slots in the MMIO hole and
// one IOAPIC GSI per slot, and the kernel command-line word that announces each slot
// (`virtio_mmio.device=<size>@<base>:<irq>`, Linux's Documentation/admin-guide/kernel-parameters).
#pragma once

#include "vmm/memory/layout.h"

#include <array>
#include <cstdint>

namespace monarch::vmm::layout {

// Right after ECAM (0xe0000000-0xefffffff), below the IOAPIC at 0xfec00000: outside the PCI
// 32-bit BAR window (0xc0000000-0xdfffffff) that PCI0._CRS announces, so the guest's PCI code
// never allocates here, and clear of everything else in layout.h.
inline constexpr uint64_t VIRTIO_MMIO_START = PCI_ECAM_START + PCI_ECAM_SIZE; // 0xf0000000
inline constexpr uint64_t VIRTIO_MMIO_SLOT_SIZE = 0x1000; // the transport's register window

// One GSI per slot, edge-triggered (irqfd pulses, as Firecracker does), from the ISA range so
// that the guest's default for them (edge, active high; no MADT override names them) matches.
// Not used: 0 (PIT), 1 (i8042), 2 (cascade), 3 (COM2, left free), 4 (COM1), 8 (RTC), 9 (SCI),
// and 16-23, the PCI INTx lines (pci_windows.h).
inline constexpr std::array<uint32_t, 9> VIRTIO_MMIO_GSIS { 5, 6, 7, 10, 11, 12, 13, 14, 15 };
inline constexpr uint64_t VIRTIO_MMIO_SLOTS = VIRTIO_MMIO_GSIS.size();
inline constexpr uint64_t VIRTIO_MMIO_SIZE = VIRTIO_MMIO_SLOTS * VIRTIO_MMIO_SLOT_SIZE;
inline constexpr uint64_t VIRTIO_MMIO_END = VIRTIO_MMIO_START + VIRTIO_MMIO_SIZE; // exclusive

static_assert(VIRTIO_MMIO_START >= PCI_MMIO_START + PCI_MMIO_SIZE, "overlaps the PCI 32-bit window");
static_assert(VIRTIO_MMIO_START >= PCI_ECAM_START + PCI_ECAM_SIZE, "overlaps ECAM");
static_assert(VIRTIO_MMIO_END <= IOAPIC_START, "overlaps the IOAPIC");
static_assert(VIRTIO_MMIO_END <= MMIO_BENCH_PAGE && VIRTIO_MMIO_END <= LAPIC_START);
static_assert(VIRTIO_MMIO_START >= MMIO_HOLE_START && VIRTIO_MMIO_END <= MMIO_HOLE_END);

[[nodiscard]] constexpr uint64_t virtio_mmio_base(uint64_t slot) { return VIRTIO_MMIO_START + slot * VIRTIO_MMIO_SLOT_SIZE; }

} // namespace monarch::vmm::layout

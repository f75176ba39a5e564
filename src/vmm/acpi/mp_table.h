// SPDX-License-Identifier: Apache-2.0
// The Intel MultiProcessor Specification 1.4 tables: floating pointer ("_MP_") and
// configuration table ("PCMP"). Kernels without ACPI (acpi=off) find CPUs and IRQ routing here.
#pragma once

#include "common/strong_int.h"
#include "vmm/arch/topology.h"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace monarch::vmm::acpi {

inline constexpr size_t MP_FLOATING_POINTER_SIZE = 16;

// Configuration table: processor entries (BSP flag on vCPU 0), bus 0 "ISA", the IOAPIC,
// I/O interrupt entries for ISA IRQs 0-15 (IRQ0 on pin 2 like the MADT override; IRQ2, the
// 8259 cascade, has no entry since pin 2 carries IRQ0; the SCI level/active-high), and the
// local interrupt entries LINT0 ExtINT and LINT1 NMI. Checksum included.
[[nodiscard]] std::vector<std::byte> build_mp_config_table(arch::CpuTopology const&, uint8_t ioapic_id);
[[nodiscard]] size_t mp_config_table_size(uint32_t vcpu_count);

// The 16-byte floating pointer to the configuration table at `config_table`.
[[nodiscard]] std::vector<std::byte> build_mp_floating_pointer(GuestPhysAddr config_table);

} // namespace monarch::vmm::acpi

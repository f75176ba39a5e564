// SPDX-License-Identifier: Apache-2.0
// The guest's CPU topology (packages, cores, threads) and the APIC IDs it implies. CPUID, the
// MADT and the MP table all derive their IDs from apic_id_of, so that they agree.
#pragma once

#include "common/result.h"

#include <cstdint>

namespace monarch::vmm::arch {

struct CpuTopology {
    uint32_t vcpu_count { 1 };
    uint32_t threads_per_core { 1 };
    uint32_t cores_per_die { 0 }; // 0: every core in one package (ceil(vcpu_count / threads_per_core))
};

// xAPIC IDs are 8 bits and 0xff is the broadcast ID; the IOAPIC takes the ID after the highest
// local APIC ID (the MP spec puts both on one APIC bus), so local APIC IDs stop at 0xfd.
inline constexpr uint32_t MAX_APIC_ID = 0xfd;
// The most vCPUs any topology can have (a dense one: IDs 0 .. MAX_APIC_ID).
inline constexpr uint32_t MAX_VCPUS = MAX_APIC_ID + 1;

// InvalidArgument for a zero count, zero threads per core, or an APIC ID above MAX_APIC_ID.
[[nodiscard]] Result<void> validate(CpuTopology const&);

// Cores per package after resolving the 0 default.
[[nodiscard]] uint32_t cores_per_package(CpuTopology const&);
// The width of the thread and core fields of an APIC ID (Intel SDM vol. 3A, 9.9.1: each field
// is as wide as needed for its count, rounded up to a power of two).
[[nodiscard]] uint32_t thread_id_bits(CpuTopology const&);
[[nodiscard]] uint32_t core_id_bits(CpuTopology const&);

struct CpuPosition {
    uint32_t package { 0 };
    uint32_t core { 0 };
    uint32_t thread { 0 };
};
[[nodiscard]] CpuPosition position_of(uint32_t vcpu_index, CpuTopology const&);

// APIC ID = package | core | thread fields, as the MADT and the MP table announce them.
[[nodiscard]] uint32_t apic_id_of(uint32_t vcpu_index, CpuTopology const&);

} // namespace monarch::vmm::arch

// SPDX-License-Identifier: Apache-2.0
// The CPUID a vCPU sees: KVM's supported list, with the topology, APIC IDs and a few
// features normalised per vCPU (what Firecracker and Cloud Hypervisor call CPUID normalization).
#pragma once

#include "vmm/arch/topology.h"

#include "vmm/kvm/kvm_uapi.h"

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::arch {

enum class CpuVendor : uint8_t { Intel, Amd, Other };

// From leaf 0's vendor string (EBX, EDX, ECX). Hygon counts as AMD (same topology leaves).
[[nodiscard]] CpuVendor cpu_vendor(std::span<kvm_cpuid_entry2 const> entries);

// The entry for (function, index), if the list has it. Leaves without a significant index
// match any index.
[[nodiscard]] std::optional<kvm_cpuid_entry2> find_cpuid(std::span<kvm_cpuid_entry2 const> entries, uint32_t function, uint32_t index = 0);

// The entries for vCPU `vcpu_index` from KVM_GET_SUPPORTED_CPUID's:
// - leaf 1: EBX[31:24] initial APIC ID, EBX[23:16] addressable logical IDs per package,
//   EBX[15:8] CLFLUSH line size (64 bytes), EDX[28] HTT when the package has more than one
//   logical processor, ECX[31] hypervisor, ECX[24] TSC deadline (the in-kernel LAPIC emulates
//   it), ECX[15] PDCM cleared (no perfmon capabilities MSR);
// - leaf 4 (Intel): EAX[31:26] cores per package - 1, EAX[25:14] logical IDs sharing the cache - 1;
// - leaf 6 (Intel): turbo boost (EAX[1]) and energy/performance bias (ECX[3]) cleared;
// - leaf 0xA (Intel): zeroed, no virtual PMU (as Firecracker and Cloud Hypervisor do);
// - leaves 0xB and 0x1F: rebuilt, SMT level then core level, EDX = x2APIC ID
//   (0xB whenever the basic range reaches it, 0x1F only where KVM listed it);
// - AMD 0x80000008 ECX: NC (threads per package - 1) and ApicIdSize; 0x8000001E: extended
//   APIC ID, core ID and threads per core, node ID; 0x8000001D EAX[25:14] logical processors
//   sharing each cache - 1;
// - everything else, including KVM's signature leaf 0x40000000, as KVM listed it.
// The topology must have passed validate().
[[nodiscard]] std::vector<kvm_cpuid_entry2> vcpu_cpuid(std::span<kvm_cpuid_entry2 const> supported, uint32_t vcpu_index, CpuTopology const&);

} // namespace monarch::vmm::arch

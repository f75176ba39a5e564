// SPDX-License-Identifier: Apache-2.0
// Which MSRs a snapshot saves, and reading them through KVM_GET_MSRS, which stops at the first
// MSR it cannot read on a vCPU (one for a feature outside its CPUID) and reads at most
// MAX_MSRS_PER_CALL per call.
#pragma once

#include "common/result.h"

#include "vmm/kvm/kvm_uapi.h"

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

// arch/x86/kvm/x86.c: KVM_GET_MSRS/KVM_SET_MSRS refuse nmsrs >= MAX_IO_MSRS (256) with E2BIG.
inline constexpr size_t MAX_MSRS_PER_CALL = 255;

// MSR numbers this file decides on (Intel SDM vol. 4, "Model-specific registers").
namespace msr_index {
inline constexpr uint32_t VMX_BASIC = 0x480;   // first of the VMX capability MSRs
inline constexpr uint32_t VMX_VMFUNC = 0x491;  // last of them
inline constexpr uint32_t MTRR_PHYS_BASE0 = 0x200; // variable ranges: base/mask pairs
inline constexpr uint32_t MTRR_VARIABLE_PAIRS = 8; // KVM_NR_VAR_MTRR
inline constexpr uint32_t MTRR_FIX_64K_00000 = 0x250;
inline constexpr uint32_t MTRR_FIX_16K_80000 = 0x258;
inline constexpr uint32_t MTRR_FIX_16K_A0000 = 0x259;
inline constexpr uint32_t MTRR_FIX_4K_C0000 = 0x268; // to 0x26f
inline constexpr uint32_t MTRR_DEF_TYPE = 0x2ff;
inline constexpr uint32_t IA32_TSC_DEADLINE = 0x6e0;
} // namespace msr_index

// The MSRs to save, from KVM_GET_MSR_INDEX_LIST (`kvm_list`): everything KVM lists (the
// syscall, SYSENTER, TSC, TSC_DEADLINE, PAT, KERNEL_GS_BASE, MISC_ENABLE, SPEC_CTRL, kvmclock,
// async PF, steal time, PV EOI and PMU MSRs among them, per host) except the VMX capability
// MSRs, plus the MTRRs, which KVM emulates for every vCPU but does not list. Sorted, distinct.
[[nodiscard]] std::vector<uint32_t> msrs_to_save(std::span<uint32_t const> kvm_list);

// One KVM_GET_MSRS call: fills the values of `entries` and returns how many it read, in order.
using MsrReader = std::function<Result<size_t>(std::span<kvm_msr_entry>)>;

// Reads `indices` in calls of at most MAX_MSRS_PER_CALL. An MSR KVM does not read on this vCPU
// is left out (it holds no state there) and reading goes on after it; the result holds the
// others with their values, in order.
[[nodiscard]] Result<std::vector<kvm_msr_entry>> read_msrs(std::span<uint32_t const> indices, MsrReader const&);

} // namespace monarch::vmm::snapshot

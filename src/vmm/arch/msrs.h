// SPDX-License-Identifier: Apache-2.0
// The MSRs a vCPU gets before its first entry (Firecracker's boot list).
#pragma once

#include "vmm/kvm/kvm_uapi.h"

#include <cstdint>
#include <span>
#include <vector>

namespace monarch::vmm::arch::msr {

// Intel SDM vol. 4, "Model-specific registers".
inline constexpr uint32_t IA32_TSC = 0x10;
inline constexpr uint32_t IA32_SYSENTER_CS = 0x174;
inline constexpr uint32_t IA32_SYSENTER_ESP = 0x175;
inline constexpr uint32_t IA32_SYSENTER_EIP = 0x176;
inline constexpr uint32_t IA32_MISC_ENABLE = 0x1a0;
inline constexpr uint32_t IA32_MTRR_DEF_TYPE = 0x2ff;
inline constexpr uint32_t IA32_EFER = 0xc0000080;
inline constexpr uint32_t IA32_STAR = 0xc0000081;
inline constexpr uint32_t IA32_LSTAR = 0xc0000082;
inline constexpr uint32_t IA32_CSTAR = 0xc0000083;
inline constexpr uint32_t IA32_FMASK = 0xc0000084; // SYSCALL_MASK
inline constexpr uint32_t IA32_KERNEL_GS_BASE = 0xc0000102;

inline constexpr uint64_t MISC_ENABLE_FAST_STRINGS = 1u << 0;
inline constexpr uint64_t MTRR_DEF_TYPE_ENABLE = 1u << 11;
inline constexpr uint64_t MTRR_TYPE_WRITE_BACK = 6;

} // namespace monarch::vmm::arch::msr

namespace monarch::vmm::arch {

// The full boot list: SYSENTER_CS/ESP/EIP, STAR, LSTAR, CSTAR, SYSCALL_MASK, KERNEL_GS_BASE
// and TSC at 0, IA32_MISC_ENABLE with fast strings, MTRRdefType enabled with write-back default.
[[nodiscard]] std::vector<kvm_msr_entry> boot_msrs();

// The same, keeping only the indices in `supported_msr_indices` (KVM_GET_MSR_INDEX_LIST):
// an MSR KVM does not list is dropped rather than failing KVM_SET_MSRS. MTRRdefType is kept
// regardless: KVM emulates the MTRR MSRs for every vCPU (kvm_mtrr_set_msr) but leaves them out
// of that list, as QEMU's use of them (keyed on CPUID.MTRR, not on the list) shows; dropping
// it would leave the guest with MTRRs disabled, and Linux then turns PAT off too.
[[nodiscard]] std::vector<kvm_msr_entry> boot_msrs(std::span<uint32_t const> supported_msr_indices);

} // namespace monarch::vmm::arch

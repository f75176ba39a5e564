// SPDX-License-Identifier: Apache-2.0
// Boot MSR values. Zeroed syscall MSRs give a known state before the kernel programs them;
// fast strings and a write-back MTRR default match what firmware leaves on real machines, so
// that Linux's MTRR code does not fall back to uncached memory.
#include "vmm/arch/msrs.h"

#include <algorithm>

namespace monarch::vmm::arch {

namespace {

kvm_msr_entry entry(uint32_t index, uint64_t data)
{
    kvm_msr_entry result {};
    result.index = index;
    result.data = data;
    return result;
}

} // namespace

std::vector<kvm_msr_entry> boot_msrs()
{
    return {
        entry(msr::IA32_SYSENTER_CS, 0),
        entry(msr::IA32_SYSENTER_ESP, 0),
        entry(msr::IA32_SYSENTER_EIP, 0),
        entry(msr::IA32_STAR, 0),
        entry(msr::IA32_CSTAR, 0),
        entry(msr::IA32_KERNEL_GS_BASE, 0),
        entry(msr::IA32_FMASK, 0),
        entry(msr::IA32_LSTAR, 0),
        entry(msr::IA32_TSC, 0),
        entry(msr::IA32_MISC_ENABLE, msr::MISC_ENABLE_FAST_STRINGS),
        entry(msr::IA32_MTRR_DEF_TYPE, msr::MTRR_DEF_TYPE_ENABLE | msr::MTRR_TYPE_WRITE_BACK),
    };
}

std::vector<kvm_msr_entry> boot_msrs(std::span<uint32_t const> supported_msr_indices)
{
    auto all = boot_msrs();
    std::erase_if(all, [&](kvm_msr_entry const& e) {
        if (e.index == msr::IA32_MTRR_DEF_TYPE)
            return false;
        return std::find(supported_msr_indices.begin(), supported_msr_indices.end(), e.index) == supported_msr_indices.end();
    });
    return all;
}

} // namespace monarch::vmm::arch

// SPDX-License-Identifier: Apache-2.0
// The MSR save list and the short-read handling of KVM_GET_MSRS.
#include "vmm/snapshot/msr_list.h"

#include <algorithm>

namespace monarch::vmm::snapshot {

namespace {

bool is_vmx_capability(uint32_t index) { return index >= msr_index::VMX_BASIC && index <= msr_index::VMX_VMFUNC; }

// KVM emulates the MTRRs (arch/x86/kvm/mtrr.c) but leaves them out of KVM_GET_MSR_INDEX_LIST;
// QEMU saves them whenever the guest's CPUID has MTRR. A vCPU without MTRR fails to read them
// and read_msrs() leaves them out.
void add_mtrrs(std::vector<uint32_t>& out)
{
    out.push_back(msr_index::MTRR_DEF_TYPE);
    out.push_back(msr_index::MTRR_FIX_64K_00000);
    out.push_back(msr_index::MTRR_FIX_16K_80000);
    out.push_back(msr_index::MTRR_FIX_16K_A0000);
    for (uint32_t i = 0; i < 8; ++i)
        out.push_back(msr_index::MTRR_FIX_4K_C0000 + i);
    for (uint32_t i = 0; i < 2 * msr_index::MTRR_VARIABLE_PAIRS; ++i)
        out.push_back(msr_index::MTRR_PHYS_BASE0 + i);
}

} // namespace

std::vector<uint32_t> msrs_to_save(std::span<uint32_t const> kvm_list)
{
    // The VMX capability MSRs describe what nested VMX offers, derived from the vCPU's CPUID
    // (which the builder sets again on restore); they are not guest state, and KVM refuses to
    // change them once a vCPU is in VMX operation. Everything else KVM lists is state.
    std::vector<uint32_t> out;
    for (uint32_t index : kvm_list)
        if (!is_vmx_capability(index))
            out.push_back(index);
    add_mtrrs(out);
    std::ranges::sort(out);
    auto const [first, last] = std::ranges::unique(out);
    out.erase(first, last);
    return out;
}

Result<std::vector<kvm_msr_entry>> read_msrs(std::span<uint32_t const> indices, MsrReader const& read)
{
    std::vector<kvm_msr_entry> entries(indices.size());
    for (size_t i = 0; i < indices.size(); ++i)
        entries[i].index = indices[i];
    std::vector<kvm_msr_entry> result;
    size_t position = 0;
    while (position < entries.size()) {
        auto chunk = std::span { entries }.subspan(position, std::min(MAX_MSRS_PER_CALL, entries.size() - position));
        size_t const count = TRY(read(chunk));
        if (count > chunk.size())
            return fail(Errc::Corrupt, "KVM_GET_MSRS: read more MSRs than asked for");
        result.insert(result.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(count));
        // KVM stops at the first MSR it cannot read (x86.c, __msr_io): skip that one and go on.
        position += count < chunk.size() ? count + 1 : count;
    }
    return result;
}

} // namespace monarch::vmm::snapshot

// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vcpu_fd.h"

#include <atomic>
#include <cerrno>
#include <sys/ioctl.h>
#include <vector>

namespace monarch::vmm::kvm {
namespace {

// KVM_GET_* of one fixed-size struct.
template<typename T>
Result<T> get_struct(int fd, unsigned long request, std::string_view what)
{
    T value {};
    // SAFETY: `request` is a KVM_GET_* ioctl that writes exactly one T through the pointer.
    if (::ioctl(fd, request, &value) < 0)
        return fail_errno(what);
    return value;
}

template<typename T>
Result<void> set_struct(int fd, unsigned long request, T const& value, std::string_view what)
{
    // SAFETY: `request` is a KVM_SET_* ioctl that reads exactly one T through the pointer.
    if (::ioctl(fd, request, &value) < 0)
        return fail_errno(what);
    return {};
}

// A kvm_cpuid2 or kvm_msrs header followed by its entries, in one aligned buffer.
template<typename Header, typename Entry>
std::vector<uint64_t> flexible_buffer(size_t count)
{
    size_t bytes = sizeof(Header) + count * sizeof(Entry);
    return std::vector<uint64_t>((bytes + sizeof(uint64_t) - 1) / sizeof(uint64_t), 0);
}

} // namespace

kvm_run& VcpuFd::run_struct() const
{
    // SAFETY: m_run maps the vCPU fd at offset 0 with at least sizeof(kvm_run) bytes (checked
    // by Kvm::open against KVM_GET_VCPU_MMAP_SIZE); the kernel lays kvm_run out there.
    return *reinterpret_cast<kvm_run*>(m_run.data());
}

Result<void> VcpuFd::set_cpuid(std::span<kvm_cpuid_entry2 const> entries) const
{
    auto buffer = flexible_buffer<kvm_cpuid2, kvm_cpuid_entry2>(entries.size());
    // SAFETY: the 8-byte-aligned buffer holds a kvm_cpuid2 header and entries.size() entries.
    auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
    cpuid->nent = static_cast<uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), cpuid->entries);
    // SAFETY: KVM reads nent entries from the buffer described above.
    if (::ioctl(m_fd.get(), KVM_SET_CPUID2, cpuid) < 0)
        return fail_errno("KVM_SET_CPUID2");
    return {};
}

Result<void> VcpuFd::set_msrs(std::span<kvm_msr_entry const> entries) const
{
    auto buffer = flexible_buffer<kvm_msrs, kvm_msr_entry>(entries.size());
    // SAFETY: the 8-byte-aligned buffer holds a kvm_msrs header and entries.size() entries.
    auto* msrs = reinterpret_cast<kvm_msrs*>(buffer.data());
    msrs->nmsrs = static_cast<uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), msrs->entries);
    // SAFETY: KVM reads nmsrs entries; it returns how many it set.
    int set = ::ioctl(m_fd.get(), KVM_SET_MSRS, msrs);
    if (set < 0)
        return fail_errno("KVM_SET_MSRS");
    if (static_cast<size_t>(set) != entries.size())
        return fail(Errc::Unsupported, "KVM_SET_MSRS: KVM refused one of the boot MSRs");
    return {};
}

Result<kvm_regs> VcpuFd::get_regs() const { return get_struct<kvm_regs>(m_fd.get(), KVM_GET_REGS, "KVM_GET_REGS"); }
Result<void> VcpuFd::set_regs(kvm_regs const& regs) const { return set_struct(m_fd.get(), KVM_SET_REGS, regs, "KVM_SET_REGS"); }
Result<kvm_sregs> VcpuFd::get_sregs() const { return get_struct<kvm_sregs>(m_fd.get(), KVM_GET_SREGS, "KVM_GET_SREGS"); }
Result<void> VcpuFd::set_sregs(kvm_sregs const& sregs) const { return set_struct(m_fd.get(), KVM_SET_SREGS, sregs, "KVM_SET_SREGS"); }
Result<kvm_fpu> VcpuFd::get_fpu() const { return get_struct<kvm_fpu>(m_fd.get(), KVM_GET_FPU, "KVM_GET_FPU"); }
Result<void> VcpuFd::set_fpu(kvm_fpu const& fpu) const { return set_struct(m_fd.get(), KVM_SET_FPU, fpu, "KVM_SET_FPU"); }
Result<kvm_lapic_state> VcpuFd::get_lapic() const { return get_struct<kvm_lapic_state>(m_fd.get(), KVM_GET_LAPIC, "KVM_GET_LAPIC"); }
Result<void> VcpuFd::set_lapic(kvm_lapic_state const& lapic) const { return set_struct(m_fd.get(), KVM_SET_LAPIC, lapic, "KVM_SET_LAPIC"); }
Result<kvm_mp_state> VcpuFd::get_mp_state() const { return get_struct<kvm_mp_state>(m_fd.get(), KVM_GET_MP_STATE, "KVM_GET_MP_STATE"); }

Result<kvm_translation> VcpuFd::translate(uint64_t linear_address) const
{
    kvm_translation translation {};
    translation.linear_address = linear_address;
    // SAFETY: KVM reads linear_address and writes the rest of the struct.
    if (::ioctl(m_fd.get(), KVM_TRANSLATE, &translation) < 0)
        return fail_errno("KVM_TRANSLATE");
    return translation;
}

Result<VcpuExit> VcpuFd::run()
{
    // SAFETY: KVM_RUN takes no argument; it fills the kvm_run page this object maps.
    if (::ioctl(m_fd.get(), KVM_RUN, 0) < 0) {
        if (errno == EINTR || errno == EAGAIN)
            return exit::Interrupted {};
        return fail_errno("KVM_RUN");
    }
    return decode_exit(run_struct(), m_run.size());
}

void VcpuFd::set_immediate_exit(bool value) const
{
    // Written by a kicking thread while this vCPU's thread may be entering KVM_RUN: atomic.
    std::atomic_ref<uint8_t>(run_struct().immediate_exit).store(value ? 1 : 0, std::memory_order_seq_cst);
}

} // namespace monarch::vmm::kvm

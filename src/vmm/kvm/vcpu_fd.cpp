// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vcpu_fd.h"

#include "vmm/kvm/ioctl_struct.h"

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/ioctl.h>
#include <vector>

namespace monarch::vmm::kvm {
namespace {

using detail::get_struct;
using detail::set_struct;

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

Result<void> VcpuFd::set_mp_state(kvm_mp_state const& state) const { return set_struct(m_fd.get(), KVM_SET_MP_STATE, state, "KVM_SET_MP_STATE"); }
Result<kvm_xcrs> VcpuFd::get_xcrs() const { return get_struct<kvm_xcrs>(m_fd.get(), KVM_GET_XCRS, "KVM_GET_XCRS"); }
Result<void> VcpuFd::set_xcrs(kvm_xcrs const& xcrs) const { return set_struct(m_fd.get(), KVM_SET_XCRS, xcrs, "KVM_SET_XCRS"); }
Result<kvm_vcpu_events> VcpuFd::get_vcpu_events() const { return get_struct<kvm_vcpu_events>(m_fd.get(), KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS"); }
Result<void> VcpuFd::set_vcpu_events(kvm_vcpu_events const& events) const { return set_struct(m_fd.get(), KVM_SET_VCPU_EVENTS, events, "KVM_SET_VCPU_EVENTS"); }
Result<kvm_debugregs> VcpuFd::get_debugregs() const { return get_struct<kvm_debugregs>(m_fd.get(), KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS"); }
Result<void> VcpuFd::set_debugregs(kvm_debugregs const& regs) const { return set_struct(m_fd.get(), KVM_SET_DEBUGREGS, regs, "KVM_SET_DEBUGREGS"); }
Result<void> VcpuFd::set_guest_debug(kvm_guest_debug const& debug) const { return set_struct(m_fd.get(), KVM_SET_GUEST_DEBUG, debug, "KVM_SET_GUEST_DEBUG"); }

Result<size_t> VcpuFd::get_msrs(std::span<kvm_msr_entry> entries) const
{
    auto buffer = flexible_buffer<kvm_msrs, kvm_msr_entry>(entries.size());
    // SAFETY: the 8-byte-aligned buffer holds a kvm_msrs header and entries.size() entries.
    auto* msrs = reinterpret_cast<kvm_msrs*>(buffer.data());
    msrs->nmsrs = static_cast<uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), msrs->entries);
    // SAFETY: KVM reads the indices and writes the values of up to nmsrs entries; it returns
    // how many it read.
    int read = ::ioctl(m_fd.get(), KVM_GET_MSRS, msrs);
    if (read < 0)
        return fail_errno("KVM_GET_MSRS");
    size_t const count = std::min(static_cast<size_t>(read), entries.size());
    std::copy_n(msrs->entries, count, entries.begin());
    return count;
}

Result<std::vector<std::byte>> VcpuFd::get_xsave(size_t size) const
{
    if (size < sizeof(kvm_xsave) || size > (size_t { 1 } << 20))
        return fail(Errc::InvalidArgument, "KVM_GET_XSAVE: implausible XSAVE area size");
    // kvm_xsave is 4 KiB of u32 followed by a flexible array: keep the buffer 4-byte aligned.
    std::vector<uint32_t> area((size + 3) / 4, 0);
    // KVM_GET_XSAVE2 writes the whole `size` bytes the VM reported; plain KVM_GET_XSAVE only
    // the legacy 4 KiB, which is all there is without KVM_CAP_XSAVE2.
    unsigned long const request = size > sizeof(kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
    // SAFETY: the buffer holds at least `size` bytes, what either request writes (api.rst).
    if (::ioctl(m_fd.get(), request, area.data()) < 0)
        return fail_errno(request == KVM_GET_XSAVE2 ? "KVM_GET_XSAVE2" : "KVM_GET_XSAVE");
    auto bytes = std::as_bytes(std::span(area)).first(size);
    return std::vector<std::byte>(bytes.begin(), bytes.end());
}

Result<void> VcpuFd::set_xsave(std::span<std::byte const> area) const
{
    if (area.size() < sizeof(kvm_xsave))
        return fail(Errc::InvalidArgument, "KVM_SET_XSAVE: the XSAVE area is shorter than 4 KiB");
    std::vector<uint32_t> aligned((area.size() + 3) / 4, 0);
    std::memcpy(aligned.data(), area.data(), area.size());
    // SAFETY: KVM reads the legacy 4 KiB, or with KVM_CAP_XSAVE2 enabled as many bytes as that
    // capability reported, which get_xsave() saved; the buffer holds them all.
    if (::ioctl(m_fd.get(), KVM_SET_XSAVE, aligned.data()) < 0)
        return fail_errno("KVM_SET_XSAVE");
    return {};
}

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

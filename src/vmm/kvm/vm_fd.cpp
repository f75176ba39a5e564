// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vm_fd.h"

#include "vmm/kvm/ioctl_struct.h"

#include <algorithm>
#include "vmm/kvm/kvm_uapi.h"
#include <vector>
#include <sys/ioctl.h>

namespace monarch::vmm::kvm {

Result<void> VmFd::set_tss_address(GuestPhysAddr address) const
{
    // SAFETY: KVM_SET_TSS_ADDR takes the address by value (unsigned long).
    if (::ioctl(m_fd.get(), KVM_SET_TSS_ADDR, static_cast<unsigned long>(address.raw())) < 0)
        return fail_errno("KVM_SET_TSS_ADDR");
    return {};
}

Result<void> VmFd::set_identity_map_address(GuestPhysAddr address) const
{
    uint64_t value = address.raw();
    // SAFETY: KVM_SET_IDENTITY_MAP_ADDR reads one __u64 through the pointer.
    if (::ioctl(m_fd.get(), KVM_SET_IDENTITY_MAP_ADDR, &value) < 0)
        return fail_errno("KVM_SET_IDENTITY_MAP_ADDR");
    return {};
}

Result<void> VmFd::create_irqchip() const
{
    // SAFETY: KVM_CREATE_IRQCHIP takes no argument.
    if (::ioctl(m_fd.get(), KVM_CREATE_IRQCHIP, 0) < 0)
        return fail_errno("KVM_CREATE_IRQCHIP");
    return {};
}

Result<void> VmFd::create_pit2() const
{
    kvm_pit_config config {};
    config.flags = KVM_PIT_SPEAKER_DUMMY;
    // SAFETY: KVM reads one struct kvm_pit_config through the pointer.
    if (::ioctl(m_fd.get(), KVM_CREATE_PIT2, &config) < 0)
        return fail_errno("KVM_CREATE_PIT2");
    return {};
}

Result<void> VmFd::set_user_memory_region(MemSlot slot, GuestPhysAddr gpa, uint64_t size, void* host, bool log_dirty) const
{
    kvm_userspace_memory_region region {};
    region.slot = slot.raw();
    region.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0;
    region.guest_phys_addr = gpa.raw();
    region.memory_size = size;
    region.userspace_addr = reinterpret_cast<uint64_t>(host);
    // SAFETY: KVM reads the region descriptor; `host` is a live shared mapping of at least
    // `size` bytes that the caller (GuestMemoryMmap) keeps mapped for the VM's lifetime.
    if (::ioctl(m_fd.get(), KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return fail_errno("KVM_SET_USER_MEMORY_REGION");
    return {};
}

Result<std::vector<uint64_t>> VmFd::get_dirty_log(MemSlot slot, uint64_t pages) const
{
    // KVM writes ALIGN(pages, 64) / 8 bytes: whole u64 words (virt/kvm/kvm_main.c
    // kvm_dirty_bitmap_bytes), so a buffer of whole words is large enough.
    std::vector<uint64_t> words((pages + 63) / 64, 0);
    kvm_dirty_log log {};
    log.slot = slot.raw();
    log.dirty_bitmap = words.data();
    // SAFETY: KVM writes the slot's bitmap (pages bits rounded up to u64 words) into `words`,
    // which holds exactly that many words; the caller passes the slot's own page count.
    if (::ioctl(m_fd.get(), KVM_GET_DIRTY_LOG, &log) < 0)
        return fail_errno("KVM_GET_DIRTY_LOG");
    return words;
}

Result<void> VmFd::set_gsi_routing(std::span<kvm_irq_routing_entry const> entries) const
{
    // struct kvm_irq_routing: a u32 count, u32 flags, then the entries (8-byte aligned).
    size_t bytes = sizeof(kvm_irq_routing) + entries.size() * sizeof(kvm_irq_routing_entry);
    std::vector<uint64_t> buffer((bytes + 7) / 8, 0);
    // SAFETY: the zeroed, 8-byte-aligned buffer holds the header and entries.size() entries.
    auto* routing = reinterpret_cast<kvm_irq_routing*>(buffer.data());
    routing->nr = static_cast<uint32_t>(entries.size());
    std::copy(entries.begin(), entries.end(), routing->entries);
    // SAFETY: KVM reads nr entries from the buffer described above.
    if (::ioctl(m_fd.get(), KVM_SET_GSI_ROUTING, routing) < 0)
        return fail_errno("KVM_SET_GSI_ROUTING");
    return {};
}

Result<void> VmFd::set_irq_line(Gsi gsi, bool asserted) const
{
    kvm_irq_level level {};
    level.irq = gsi.raw();
    level.level = asserted ? 1 : 0;
    // SAFETY: KVM reads one struct kvm_irq_level through the pointer.
    if (::ioctl(m_fd.get(), KVM_IRQ_LINE, &level) < 0)
        return fail_errno("KVM_IRQ_LINE");
    return {};
}

namespace {

Result<kvm_ioeventfd> ioeventfd_args(IoEventFd const& event)
{
    bool const width_ok = event.length == 0 || event.length == 1 || event.length == 2 || event.length == 4 || event.length == 8;
    if (!width_ok)
        return fail(Errc::InvalidArgument, "ioeventfd: length must be 0, 1, 2, 4 or 8");
    if (event.length == 0 && event.datamatch)
        return fail(Errc::InvalidArgument, "ioeventfd: a zero length cannot have a datamatch");
    if (event.eventfd < 0)
        return fail(Errc::InvalidArgument, "ioeventfd: no eventfd");
    kvm_ioeventfd args {};
    args.addr = event.address;
    args.len = event.length;
    args.fd = event.eventfd;
    if (event.datamatch) {
        args.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
        args.datamatch = *event.datamatch;
    }
    if (event.space == IoEventSpace::Pio)
        args.flags |= KVM_IOEVENTFD_FLAG_PIO;
    return args;
}

} // namespace

Result<void> VmFd::register_ioeventfd(IoEventFd const& event) const
{
    auto args = TRY(ioeventfd_args(event));
    // SAFETY: KVM reads one struct kvm_ioeventfd; it takes its own reference on the eventfd.
    if (::ioctl(m_fd.get(), KVM_IOEVENTFD, &args) < 0)
        return fail_errno("KVM_IOEVENTFD");
    return {};
}

Result<void> VmFd::unregister_ioeventfd(IoEventFd const& event) const
{
    auto args = TRY(ioeventfd_args(event));
    args.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
    // SAFETY: as above; DEASSIGN drops the entry matching address, length, fd and datamatch.
    if (::ioctl(m_fd.get(), KVM_IOEVENTFD, &args) < 0)
        return fail_errno("KVM_IOEVENTFD (deassign)");
    return {};
}

Result<void> VmFd::register_irqfd(int eventfd, Gsi gsi, std::optional<int> resample_fd) const
{
    if (eventfd < 0 || (resample_fd && *resample_fd < 0))
        return fail(Errc::InvalidArgument, "irqfd: no eventfd");
    kvm_irqfd args {};
    args.fd = static_cast<uint32_t>(eventfd);
    args.gsi = gsi.raw();
    if (resample_fd) {
        args.flags = KVM_IRQFD_FLAG_RESAMPLE;
        args.resamplefd = static_cast<uint32_t>(*resample_fd);
    }
    // SAFETY: KVM reads one struct kvm_irqfd and takes its own references on the eventfds.
    if (::ioctl(m_fd.get(), KVM_IRQFD, &args) < 0)
        return fail_errno("KVM_IRQFD");
    return {};
}

Result<void> VmFd::unregister_irqfd(int eventfd, Gsi gsi) const
{
    if (eventfd < 0)
        return fail(Errc::InvalidArgument, "irqfd: no eventfd");
    kvm_irqfd args {};
    args.fd = static_cast<uint32_t>(eventfd);
    args.gsi = gsi.raw();
    args.flags = KVM_IRQFD_FLAG_DEASSIGN;
    // SAFETY: KVM reads one struct kvm_irqfd; DEASSIGN matches on fd and gsi.
    if (::ioctl(m_fd.get(), KVM_IRQFD, &args) < 0)
        return fail_errno("KVM_IRQFD (deassign)");
    return {};
}

Result<kvm_irqchip> VmFd::get_irqchip(uint32_t chip_id) const
{
    kvm_irqchip chip {};
    chip.chip_id = chip_id;
    // SAFETY: KVM reads chip_id and writes that chip's state into the same struct.
    if (::ioctl(m_fd.get(), KVM_GET_IRQCHIP, &chip) < 0)
        return fail_errno("KVM_GET_IRQCHIP");
    return chip;
}

Result<void> VmFd::set_irqchip(kvm_irqchip const& chip) const { return detail::set_struct(m_fd.get(), KVM_SET_IRQCHIP, chip, "KVM_SET_IRQCHIP"); }
Result<kvm_pit_state2> VmFd::get_pit2() const { return detail::get_struct<kvm_pit_state2>(m_fd.get(), KVM_GET_PIT2, "KVM_GET_PIT2"); }
Result<void> VmFd::set_pit2(kvm_pit_state2 const& pit) const { return detail::set_struct(m_fd.get(), KVM_SET_PIT2, pit, "KVM_SET_PIT2"); }
Result<kvm_clock_data> VmFd::get_clock() const { return detail::get_struct<kvm_clock_data>(m_fd.get(), KVM_GET_CLOCK, "KVM_GET_CLOCK"); }
Result<void> VmFd::set_clock(kvm_clock_data const& clock) const { return detail::set_struct(m_fd.get(), KVM_SET_CLOCK, clock, "KVM_SET_CLOCK"); }

int VmFd::check_extension(long capability) const
{
    // SAFETY: KVM_CHECK_EXTENSION takes the capability number by value; a negative result
    // means "not supported" here, as for /dev/kvm.
    int answer = ::ioctl(m_fd.get(), KVM_CHECK_EXTENSION, capability);
    return answer < 0 ? 0 : answer;
}

Result<VcpuFd> VmFd::create_vcpu(VcpuId id) const
{
    // SAFETY: the vCPU id by value; the returned fd is owned at once.
    UniqueFd fd { ::ioctl(m_fd.get(), KVM_CREATE_VCPU, static_cast<unsigned long>(id.raw())) };
    if (!fd)
        return fail_errno("KVM_CREATE_VCPU");
    auto run = TRY(Mapping::map_shared(fd.get(), m_vcpu_mmap_size));
    return VcpuFd { id, std::move(fd), std::move(run) };
}

} // namespace monarch::vmm::kvm

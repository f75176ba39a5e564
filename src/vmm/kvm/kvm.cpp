// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/kvm.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <fcntl.h>
#include <sys/ioctl.h>

namespace monarch::vmm::kvm {
namespace {

// Documentation/virt/kvm/api.rst: KVM_GET_API_VERSION "should always return 12".
constexpr int REQUIRED_API_VERSION = 12;

struct RequiredCapability {
    long capability;
    std::string_view missing; // a static literal, so it can be an Error's context
};

// What monarch-vmm needs of every host: the in-kernel irqchip and PIT (interrupts and timer
// in the kernel), user memory slots, the TSS address (Intel), the KVM_GET_SUPPORTED_CPUID
// ioctl, immediate_exit (prompt pause/stop), ioeventfd/irqfd (devices off the vCPU path), and
// GSI routing (the PIT's IRQ 0 on IOAPIC pin 2, machine/irq_routing.h).
constexpr std::array REQUIRED_CAPABILITIES {
    RequiredCapability { KVM_CAP_IRQCHIP, "KVM lacks a required capability: KVM_CAP_IRQCHIP (in-kernel interrupt controller)" },
    RequiredCapability { KVM_CAP_USER_MEMORY, "KVM lacks a required capability: KVM_CAP_USER_MEMORY" },
    RequiredCapability { KVM_CAP_SET_TSS_ADDR, "KVM lacks a required capability: KVM_CAP_SET_TSS_ADDR" },
    RequiredCapability { KVM_CAP_EXT_CPUID, "KVM lacks a required capability: KVM_CAP_EXT_CPUID" },
    RequiredCapability { KVM_CAP_IMMEDIATE_EXIT, "KVM lacks a required capability: KVM_CAP_IMMEDIATE_EXIT (kernel older than 4.11?)" },
    RequiredCapability { KVM_CAP_PIT2, "KVM lacks a required capability: KVM_CAP_PIT2 (in-kernel PIT)" },
    RequiredCapability { KVM_CAP_IOEVENTFD, "KVM lacks a required capability: KVM_CAP_IOEVENTFD" },
    RequiredCapability { KVM_CAP_IRQFD, "KVM lacks a required capability: KVM_CAP_IRQFD" },
    RequiredCapability { KVM_CAP_IRQ_ROUTING, "KVM lacks a required capability: KVM_CAP_IRQ_ROUTING" },
};

} // namespace

Result<Kvm> Kvm::open(char const* path)
{
    UniqueFd fd { ::open(path, O_RDWR | O_CLOEXEC) };
    if (!fd) {
        int error = errno;
        if (error == ENOENT || error == ENODEV || error == ENXIO)
            return fail(Errc::NotFound, NO_DEV_KVM_MESSAGE);
        if (error == EACCES || error == EPERM)
            return Failure(Error::from_errno(error, DEV_KVM_PERMISSION_MESSAGE));
        return Failure(Error::from_errno(error, "cannot open /dev/kvm"));
    }
    // SAFETY: KVM_GET_API_VERSION takes no argument and only returns a number.
    int version = ::ioctl(fd.get(), KVM_GET_API_VERSION, 0);
    if (version < 0)
        return fail_errno("KVM_GET_API_VERSION");
    if (version != REQUIRED_API_VERSION)
        return fail(Errc::Unsupported, "KVM API version is not 12: this kernel's KVM is not supported");

    for (auto const& required : REQUIRED_CAPABILITIES) {
        // SAFETY: KVM_CHECK_EXTENSION takes the capability number by value.
        if (::ioctl(fd.get(), KVM_CHECK_EXTENSION, required.capability) <= 0)
            return fail(Errc::Unsupported, required.missing);
    }

    // SAFETY: KVM_GET_VCPU_MMAP_SIZE takes no argument; returns the kvm_run mapping size.
    int mmap_size = ::ioctl(fd.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
    if (mmap_size < 0)
        return fail_errno("KVM_GET_VCPU_MMAP_SIZE");
    if (static_cast<size_t>(mmap_size) < sizeof(kvm_run))
        return fail(Errc::Unsupported, "KVM_GET_VCPU_MMAP_SIZE is smaller than struct kvm_run");

    // api.rst, KVM_CAP_MAX_VCPUS: "If the KVM_CAP_MAX_VCPUS does not exist, you should assume
    // that max_vcpus is the same as the value returned from KVM_CAP_NR_VCPUS"; and if that does
    // not exist either, 4.
    // SAFETY: capability numbers passed by value.
    int max_vcpus = ::ioctl(fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
    if (max_vcpus <= 0)
        // SAFETY: as above.
        max_vcpus = ::ioctl(fd.get(), KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
    if (max_vcpus <= 0)
        max_vcpus = 4;

    return Kvm { std::move(fd), static_cast<size_t>(mmap_size), static_cast<uint32_t>(max_vcpus) };
}

int Kvm::check_extension(long capability) const
{
    // SAFETY: capability number by value; a negative return means "absent" for our purposes.
    int value = ::ioctl(m_fd.get(), KVM_CHECK_EXTENSION, capability);
    return value < 0 ? 0 : value;
}

Result<std::vector<kvm_cpuid_entry2>> Kvm::supported_cpuid() const
{
    // api.rst, KVM_GET_SUPPORTED_CPUID: E2BIG if nent is too small; retry with a larger buffer.
    for (uint32_t capacity = 128; capacity <= 4096; capacity *= 2) {
        std::vector<std::byte> buffer(sizeof(kvm_cpuid2) + capacity * sizeof(kvm_cpuid_entry2));
        // SAFETY: the buffer is sized and aligned for a kvm_cpuid2 header followed by
        // `capacity` entries (vector storage is suitably aligned for these 4-byte fields).
        auto* cpuid = reinterpret_cast<kvm_cpuid2*>(buffer.data());
        cpuid->nent = capacity;
        // SAFETY: KVM writes at most nent entries into the buffer described above.
        if (::ioctl(m_fd.get(), KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
            if (errno == E2BIG)
                continue;
            return fail_errno("KVM_GET_SUPPORTED_CPUID");
        }
        if (cpuid->nent > capacity)
            return fail(Errc::Corrupt, "KVM_GET_SUPPORTED_CPUID: more entries than the buffer holds");
        return std::vector<kvm_cpuid_entry2>(cpuid->entries, cpuid->entries + cpuid->nent);
    }
    return fail(Errc::Unsupported, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
}

Result<std::vector<uint32_t>> Kvm::msr_index_list() const
{
    // api.rst, KVM_GET_MSR_INDEX_LIST: with nmsrs too small, E2BIG and nmsrs set to the count.
    kvm_msr_list probe {};
    // SAFETY: nmsrs is 0, so KVM writes no indices, only the count.
    if (::ioctl(m_fd.get(), KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return fail_errno("KVM_GET_MSR_INDEX_LIST");
    uint32_t count = probe.nmsrs;
    if (count > 65536)
        return fail(Errc::Corrupt, "KVM_GET_MSR_INDEX_LIST: implausible count");
    std::vector<uint32_t> buffer(1 + count);
    buffer[0] = count;
    // SAFETY: struct kvm_msr_list is a u32 count followed by u32 indices: this vector is exactly
    // that layout with room for `count` indices.
    if (::ioctl(m_fd.get(), KVM_GET_MSR_INDEX_LIST, reinterpret_cast<kvm_msr_list*>(buffer.data())) < 0)
        return fail_errno("KVM_GET_MSR_INDEX_LIST");
    uint32_t returned = std::min(buffer[0], count);
    return std::vector<uint32_t>(buffer.begin() + 1, buffer.begin() + 1 + returned);
}

Result<VmFd> Kvm::create_vm() const
{
    // SAFETY: machine type 0 is the default x86 VM; the returned fd is owned at once.
    UniqueFd vm { ::ioctl(m_fd.get(), KVM_CREATE_VM, 0UL) };
    if (!vm)
        return fail_errno("KVM_CREATE_VM");
    return VmFd { std::move(vm), m_vcpu_mmap_size };
}

} // namespace monarch::vmm::kvm

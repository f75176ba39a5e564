// SPDX-License-Identifier: Apache-2.0
// Kvm: the /dev/kvm system fd. Opening it checks the API version and every capability
// monarch-vmm relies on, so that a host that lacks one fails once, early, naming it.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vm_fd.h"

#include <cstdint>
#include "vmm/kvm/kvm_uapi.h"
#include <vector>

namespace monarch::vmm::kvm {

// The messages a user sees when /dev/kvm cannot be used (the CLI maps them to exit statuses).
inline constexpr std::string_view NO_DEV_KVM_MESSAGE
    = "no /dev/kvm: KVM is not available on this host (is the kvm module loaded, is this a VM without nested virtualization?)";
inline constexpr std::string_view DEV_KVM_PERMISSION_MESSAGE
    = "permission denied on /dev/kvm: add the user to the kvm group";

class Kvm {
public:
    // Opens `path` (O_RDWR | O_CLOEXEC) and checks the API version and required capabilities.
    // Absent: Errc::NotFound; EACCES/EPERM: Errc::Sys with that errno (context says what to do);
    // old API or missing capability: Errc::Unsupported naming it.
    [[nodiscard]] static Result<Kvm> open(char const* path = "/dev/kvm");

    // KVM_CHECK_EXTENSION on the system fd: 0 when absent, else a capability-specific value.
    [[nodiscard]] int check_extension(long capability) const;
    [[nodiscard]] size_t vcpu_mmap_size() const { return m_vcpu_mmap_size; }
    // KVM_CAP_MAX_VCPUS (falls back to KVM_CAP_NR_VCPUS, then 4, as the API document says).
    [[nodiscard]] uint32_t max_vcpus() const { return m_max_vcpus; }

    // KVM_GET_SUPPORTED_CPUID: the CPUID leaves this host's KVM can expose.
    [[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;
    // KVM_GET_MSR_INDEX_LIST: the MSRs KVM_GET/SET_MSRS accept.
    [[nodiscard]] Result<std::vector<uint32_t>> msr_index_list() const;

    [[nodiscard]] Result<VmFd> create_vm() const;

private:
    Kvm(UniqueFd fd, size_t vcpu_mmap_size, uint32_t max_vcpus)
        : m_fd(std::move(fd)), m_vcpu_mmap_size(vcpu_mmap_size), m_max_vcpus(max_vcpus) {}

    UniqueFd m_fd;
    size_t m_vcpu_mmap_size { 0 };
    uint32_t m_max_vcpus { 0 };
};

} // namespace monarch::vmm::kvm

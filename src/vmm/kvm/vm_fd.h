// SPDX-License-Identifier: Apache-2.0
// VmFd: one KVM virtual machine (the fd KVM_CREATE_VM returns): memory slots, the in-kernel
// irqchip and PIT, interrupt lines, and vCPU creation.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vcpu_fd.h"

#include <cstdint>
#include <linux/kvm.h>
#include <span>

namespace monarch::vmm::kvm {

class VmFd {
public:
    VmFd(UniqueFd fd, size_t vcpu_mmap_size) : m_fd(std::move(fd)), m_vcpu_mmap_size(vcpu_mmap_size) {}

    // Intel VMX needs three pages for a real-mode TSS (KVM_SET_TSS_ADDR) and one page for the
    // EPT identity map (KVM_SET_IDENTITY_MAP_ADDR); both in guest-physical space no RAM or device
    // uses, and before the first vCPU is created.
    [[nodiscard]] Result<void> set_tss_address(GuestPhysAddr) const;
    [[nodiscard]] Result<void> set_identity_map_address(GuestPhysAddr) const;
    // KVM_CREATE_IRQCHIP: PIC, IOAPIC and a LAPIC per vCPU, in the kernel.
    [[nodiscard]] Result<void> create_irqchip() const;
    // KVM_CREATE_PIT2 with a dummy speaker port (nothing of ours backs port 0x61).
    [[nodiscard]] Result<void> create_pit2() const;

    // KVM_SET_USER_MEMORY_REGION: [gpa, gpa + size) is backed by host memory at `host`.
    [[nodiscard]] Result<void> set_user_memory_region(MemSlot, GuestPhysAddr, uint64_t size, void* host) const;
    // KVM_SET_GSI_ROUTING: replaces the whole GSI -> irqchip pin table.
    [[nodiscard]] Result<void> set_gsi_routing(std::span<kvm_irq_routing_entry const>) const;
    // KVM_IRQ_LINE: drive a GSI of the in-kernel PIC/IOAPIC.
    [[nodiscard]] Result<void> set_irq_line(Gsi, bool asserted) const;

    [[nodiscard]] Result<VcpuFd> create_vcpu(VcpuId) const;
    [[nodiscard]] int fd() const { return m_fd.get(); }

private:
    UniqueFd m_fd;
    size_t m_vcpu_mmap_size { 0 };
};

} // namespace monarch::vmm::kvm

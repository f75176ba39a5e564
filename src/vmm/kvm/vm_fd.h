// SPDX-License-Identifier: Apache-2.0
// VmFd: one KVM virtual machine (the fd KVM_CREATE_VM returns): memory slots, the in-kernel
// irqchip and PIT, interrupt lines and GSI routing, ioeventfds and irqfds, and vCPU creation.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "common/unique_fd.h"
#include "vmm/kvm/vcpu_fd.h"

#include <cstdint>
#include "vmm/kvm/kvm_uapi.h"
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::kvm {

// Which address space an ioeventfd watches.
enum class IoEventSpace : uint8_t { Mmio, Pio };

// One ioeventfd (KVM_IOEVENTFD): a guest write of `length` bytes (1, 2, 4 or 8; 0 = any
// length, never with a datamatch; for MMIO it lets KVM use its fast MMIO bus) at `address`,
// optionally only when the value equals `datamatch`, signals `eventfd` instead of exiting.
struct IoEventFd {
    uint64_t address { 0 };
    uint32_t length { 0 };
    std::optional<uint64_t> datamatch;
    int eventfd { -1 };
    IoEventSpace space { IoEventSpace::Mmio };
};

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

    // KVM_SET_USER_MEMORY_REGION: [gpa, gpa + size) is backed by host memory at `host`. With
    // `log_dirty` the slot has KVM_MEM_LOG_DIRTY_PAGES (api.rst 4.35): KVM records every page
    // the guest writes, for get_dirty_log(). Registering the same slot again with another flag
    // turns logging on or off (the slot's size and address must stay the same).
    [[nodiscard]] Result<void> set_user_memory_region(MemSlot, GuestPhysAddr, uint64_t size, void* host, bool log_dirty = false) const;
    // KVM_GET_DIRTY_LOG (api.rst 4.8): the pages of `slot` (one with log_dirty, `pages` pages)
    // the guest wrote since the last call, one bit per page in u64 words (bit i of word w is
    // page 64 w + i); KVM clears its log as it copies it (without KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
    // enabled, which we never enable).
    [[nodiscard]] Result<std::vector<uint64_t>> get_dirty_log(MemSlot slot, uint64_t pages) const;
    // KVM_SET_GSI_ROUTING: replaces the whole GSI -> irqchip pin table.
    [[nodiscard]] Result<void> set_gsi_routing(std::span<kvm_irq_routing_entry const>) const;
    // KVM_IRQ_LINE: drive a GSI of the in-kernel PIC/IOAPIC.
    [[nodiscard]] Result<void> set_irq_line(Gsi, bool asserted) const;

    // KVM_IOEVENTFD. InvalidArgument for a length other than 0/1/2/4/8, a zero length with a
    // datamatch, or no eventfd; EEXIST (Errc::Sys) for a duplicate. Unregistering
    // takes the same description as registering (KVM matches address, length, fd, datamatch).
    [[nodiscard]] Result<void> register_ioeventfd(IoEventFd const&) const;
    [[nodiscard]] Result<void> unregister_ioeventfd(IoEventFd const&) const;
    // KVM_IRQFD: a write to `eventfd` injects `gsi` (through the GSI routing table, so an MSI
    // route or an irqchip pin). With `resample_fd` the GSI is level-triggered: KVM deasserts it
    // on the guest's EOI and signals `resample_fd`, so the device can re-assert it (INTx).
    [[nodiscard]] Result<void> register_irqfd(int eventfd, Gsi, std::optional<int> resample_fd = {}) const;
    [[nodiscard]] Result<void> unregister_irqfd(int eventfd, Gsi) const;

    // The in-kernel irqchip's state, one chip at a time (KVM_IRQCHIP_PIC_MASTER,
    // KVM_IRQCHIP_PIC_SLAVE, KVM_IRQCHIP_IOAPIC), and the PIT's (api.rst 4.26, 4.70).
    [[nodiscard]] Result<kvm_irqchip> get_irqchip(uint32_t chip_id) const;
    [[nodiscard]] Result<void> set_irqchip(kvm_irqchip const&) const;
    [[nodiscard]] Result<kvm_pit_state2> get_pit2() const;
    [[nodiscard]] Result<void> set_pit2(kvm_pit_state2 const&) const;
    // kvmclock's guest-visible time (KVM_GET_CLOCK/KVM_SET_CLOCK): saved at pause, written
    // back at restore so the guest's clock does not jump by the time it spent saved.
    [[nodiscard]] Result<kvm_clock_data> get_clock() const;
    [[nodiscard]] Result<void> set_clock(kvm_clock_data const&) const;
    // KVM_CHECK_EXTENSION on the VM (some answers, KVM_CAP_XSAVE2's size among them, are per VM).
    [[nodiscard]] int check_extension(long capability) const;

    [[nodiscard]] Result<VcpuFd> create_vcpu(VcpuId) const;
    [[nodiscard]] int fd() const { return m_fd.get(); }

private:
    UniqueFd m_fd;
    size_t m_vcpu_mmap_size { 0 };
};

} // namespace monarch::vmm::kvm

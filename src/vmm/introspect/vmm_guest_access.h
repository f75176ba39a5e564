// SPDX-License-Identifier: Apache-2.0
// VmmGuestAccess: dkom::GuestAccess over one of monarch-vmm's own VMs: RAM through its
// GuestMemory, pause/resume through VcpuRunner, registers through KVM_GET/SET_REGS, SREGS and
// MSRS, hardware breakpoints and single steps through KVM_SET_GUEST_DEBUG.
#pragma once

#include "dkom/access/guest_access.h"
#include "vmm/machine/vcpu_runner.h"
#include "vmm/memory/guest_memory.h"

#include <vector>

namespace monarch::vmm::introspect {

// MSR_KERNEL_GS_BASE (SDM vol. 4, table 2-2): the swapped-out GS base, which holds the
// per-CPU base while a vCPU runs user code.
inline constexpr uint32_t MSR_KERNEL_GS_BASE = 0xC0000102;

class VmmGuestAccess final : public dkom::GuestAccess {
public:
    // `memory` and `vcpus` must outlive this object. `timeout` bounds a single step.
    VmmGuestAccess(GuestMemory& memory, machine::VcpuRunner& vcpus, std::chrono::milliseconds timeout = std::chrono::seconds(5))
        : m_memory(memory), m_vcpus(vcpus), m_timeout(timeout)
    {
    }
    // Touches nothing: the VM may already be gone. Breakpoints are removed by whoever set them
    // (KernelCaller does), and removing the last one detaches the debugger.
    ~VmmGuestAccess() override = default;
    VmmGuestAccess(VmmGuestAccess const&) = delete;
    VmmGuestAccess& operator=(VmmGuestAccess const&) = delete;

    Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) override { return m_memory.read(gpa, out); }
    Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) override { return m_memory.write(gpa, data); }

    Result<void> pause() override;
    Result<void> resume() override;
    bool paused() const override { return m_vcpus.pause_requested(); }
    uint32_t vcpu_count() const override { return static_cast<uint32_t>(m_vcpus.vcpu_count()); }
    Result<dkom::Registers> read_registers(VcpuId) override;
    Result<void> write_registers(VcpuId, dkom::Registers const&) override;
    Result<void> set_breakpoint(GuestVirtAddr) override;
    Result<void> clear_breakpoint(GuestVirtAddr) override;
    Result<VcpuId> run_until_breakpoint(std::chrono::milliseconds timeout) override;
    Result<VcpuId> run_vcpu_until_breakpoint(VcpuId vcpu, std::chrono::milliseconds timeout) override;
    Result<void> step(VcpuId vcpu) override;

private:
    Result<kvm::VcpuFd const*> paused_vcpu(VcpuId);
    // KVM_SET_GUEST_DEBUG on every vCPU: the breakpoints, and a single step on `stepping`.
    Result<void> apply_debug(std::optional<size_t> stepping);
    Result<VcpuId> wait_for_stop(std::chrono::milliseconds timeout);

    GuestMemory& m_memory;
    machine::VcpuRunner& m_vcpus;
    std::chrono::milliseconds m_timeout;
    std::vector<uint64_t> m_breakpoints; // DR0.. in order; at most four
    bool m_block_irq { true };            // cleared when KVM refuses KVM_GUESTDBG_BLOCKIRQ
};

} // namespace monarch::vmm::introspect

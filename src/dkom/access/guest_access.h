// SPDX-License-Identifier: Apache-2.0
// GuestAccess: what introspection needs from a VM, whoever runs it (QEMU, monarch-vmm):
// guest-physical memory, vCPU pause/resume and registers, hardware breakpoints.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

namespace monarch::dkom {

// Guest-physical memory, bounds-checked: an access that is not wholly inside guest RAM fails
// with Errc::OutOfRange and touches nothing. The page walker needs only this part.
class PhysicalMemory {
public:
    virtual ~PhysicalMemory() = default;
    [[nodiscard]] virtual Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) = 0;
    [[nodiscard]] virtual Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) = 0;

    template<typename T>
    [[nodiscard]] Result<T> read_physical_obj(GuestPhysAddr gpa)
    {
        T value {};
        TRY_VOID(read_physical(gpa, std::as_writable_bytes(std::span(&value, 1))));
        return value;
    }
};

// The x86-64 register state a back end can give. Registers the back end lacks read as 0 and
// are not written back; `has_system` says whether the control registers, EFER and the
// segment bases are real.
struct Registers {
    uint64_t rax {}, rbx {}, rcx {}, rdx {}, rsi {}, rdi {}, rbp {}, rsp {};
    uint64_t r8 {}, r9 {}, r10 {}, r11 {}, r12 {}, r13 {}, r14 {}, r15 {};
    uint64_t rip {}, rflags {};
    uint32_t cs {}, ss {};
    bool has_system { false };
    uint64_t cr0 {}, cr2 {}, cr3 {}, cr4 {}, efer {};
    uint64_t fs_base {}, gs_base {}, kernel_gs_base {};

    [[nodiscard]] bool in_kernel_mode() const { return (cs & 3) == 0; }
    [[nodiscard]] bool la57() const { return (cr4 & (uint64_t { 1 } << 12)) != 0; } // SDM vol. 3, 2.5: CR4.LA57
};

class GuestAccess : public PhysicalMemory {
public:
    // Stops every vCPU; returns once all are stopped (or fails with Timeout). Idempotent.
    [[nodiscard]] virtual Result<void> pause() = 0;
    // Lets every vCPU run again. Idempotent.
    [[nodiscard]] virtual Result<void> resume() = 0;
    [[nodiscard]] virtual bool paused() const = 0;

    [[nodiscard]] virtual uint32_t vcpu_count() const = 0;
    // Registers of a vCPU; the VM must be paused.
    [[nodiscard]] virtual Result<Registers> read_registers(VcpuId) = 0;
    [[nodiscard]] virtual Result<void> write_registers(VcpuId, Registers const&) = 0;
    // Only cs, gs_base and kernel_gs_base (the rest of the result is zero): what finding a
    // vCPU's per-CPU area needs, for back ends where each register costs a round trip.
    [[nodiscard]] virtual Result<Registers> read_segment_bases(VcpuId vcpu) { return read_registers(vcpu); }

    // A hardware (execution) breakpoint at a guest-virtual address, on all vCPUs.
    [[nodiscard]] virtual Result<void> set_breakpoint(GuestVirtAddr) = 0;
    [[nodiscard]] virtual Result<void> clear_breakpoint(GuestVirtAddr) = 0;
    // Resumes the VM and waits until a vCPU hits a breakpoint; the VM is then paused and the
    // vCPU that hit is returned. On timeout the VM is paused again and Errc::Timeout returned.
    [[nodiscard]] virtual Result<VcpuId> run_until_breakpoint(std::chrono::milliseconds timeout) = 0;
    // The same, but only `vcpu` runs; the others stay paused (for code that must run before
    // any other vCPU makes progress, and takes no lock another vCPU could hold).
    [[nodiscard]] virtual Result<VcpuId> run_vcpu_until_breakpoint(VcpuId vcpu, std::chrono::milliseconds timeout) = 0;
    // Executes one instruction on `vcpu` (the others stay paused); the VM must be paused.
    [[nodiscard]] virtual Result<void> step(VcpuId vcpu) = 0;
};

// Pauses on construction when the VM was running, and resumes on destruction only in that case.
class PauseScope {
public:
    static Result<PauseScope> create(GuestAccess&);
    PauseScope(PauseScope&& other) noexcept : m_access(other.m_access), m_resume(other.m_resume) { other.m_resume = false; }
    PauseScope(PauseScope const&) = delete;
    PauseScope& operator=(PauseScope const&) = delete;
    PauseScope& operator=(PauseScope&&) = delete;
    ~PauseScope();

private:
    PauseScope(GuestAccess& access, bool resume) : m_access(access), m_resume(resume) {}
    GuestAccess& m_access;
    bool m_resume { false };
};

} // namespace monarch::dkom

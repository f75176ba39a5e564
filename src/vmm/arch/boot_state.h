// SPDX-License-Identifier: Apache-2.0
// vCPU register state at the first instruction, for the two entry modes Monarch boots:
// PVH (32-bit protected mode, paging off) and Linux's 64-bit boot protocol (long mode).
// Pure functions over KVM's structs; the caller does the ioctls (GET_SREGS, modify, SET_SREGS).
#pragma once

#include "common/strong_int.h"

#include "vmm/kvm/kvm_uapi.h"

#include <cstdint>

namespace monarch::vmm::arch {

// Control-register and EFER bits (Intel SDM vol. 3A, 2.5 and 2.2.1).
inline constexpr uint64_t CR0_PE = 1u << 0;
inline constexpr uint64_t CR0_ET = 1u << 4;
inline constexpr uint64_t CR0_PG = 1u << 31;
inline constexpr uint64_t CR4_PAE = 1u << 5;
inline constexpr uint64_t EFER_LME = 1u << 8;
inline constexpr uint64_t EFER_LMA = 1u << 10;
inline constexpr uint64_t RFLAGS_RESERVED_1 = 1u << 1; // bit 1 always reads 1

// PVH (xen/include/public/arch-x86/hvm/start_info.h): EIP = entry, EBX = start_info, flags 2.
[[nodiscard]] kvm_regs pvh_boot_regs(GuestPhysAddr entry, GuestPhysAddr start_info);
// CR0 = PE|ET (paging and CD/NW off), CR3 = 0, CR4 = 0, EFER = 0; flat 4 GiB 32-bit CS (0x08, type 0xb) and
// DS/ES/FS/GS/SS (0x10, type 0x3); TR a busy TSS (0x18, type 0xb); GDTR at BOOT_GDT_START
// (write_pvh_gdt writes the matching descriptors), IDTR at BOOT_IDT_START.
void pvh_boot_sregs(kvm_sregs&);

// Linux 64-bit boot protocol (Documentation/arch/x86/boot.rst): RIP = 64-bit entry,
// RSI = boot_params, RSP = RBP = layout::BOOT_STACK_POINTER, flags 2.
[[nodiscard]] kvm_regs linux64_boot_regs(GuestPhysAddr entry, GuestPhysAddr zero_page);
// CR0 = PE|ET|PG (CD/NW off), CR4 = PAE, EFER = LME|LMA (whole values), CR3 = layout::PML4_START, CS 64-bit (L=1, D=0),
// data segments flat, GDTR BOOT_GDT_START, IDTR BOOT_IDT_START (write_linux64_gdt_and_page_tables
// writes what these point at).
void linux64_boot_sregs(kvm_sregs&);

// Everything a boot vCPU gets, for either entry mode. The caller writes regs and fpu with
// KVM_SET_REGS/KVM_SET_FPU and passes KVM_GET_SREGS's result through apply_sregs before
// KVM_SET_SREGS; the in-memory GDT/IDT (and page tables) are written by boot_tables.h.
enum class EntryMode : uint8_t {
    Pvh,     // entry = PVH entry point (XEN_ELFNOTE_PHYS32_ENTRY), boot_info = hvm_start_info
    Linux64, // entry = 64-bit entry (load address + 0x200 for a bzImage), boot_info = boot_params
};
struct VcpuBootState {
    EntryMode mode { EntryMode::Linux64 };
    kvm_regs regs {};
    kvm_fpu fpu {};
    void apply_sregs(kvm_sregs&) const;
};
[[nodiscard]] VcpuBootState vcpu_boot_state(EntryMode, GuestPhysAddr entry, GuestPhysAddr boot_info);

// x87 control word 0x37f (all exceptions masked, 64-bit precision) and MXCSR 0x1f80: the
// FNINIT / power-on values (Intel SDM vol. 1, 8.1.5 and 10.2.3).
[[nodiscard]] kvm_fpu boot_fpu();

// In-kernel LAPIC (KVM_GET_LAPIC/KVM_SET_LAPIC): LVT LINT0 (0x350) delivery mode ExtINT and
// LVT LINT1 (0x360) NMI, the virtual-wire set-up firmware leaves and the MP table announces.
void set_lint0_extint_lint1_nmi(kvm_lapic_state&);

// Offsets and delivery modes, for tests and callers reading the state back.
inline constexpr size_t APIC_LVT_LINT0 = 0x350;
inline constexpr size_t APIC_LVT_LINT1 = 0x360;
inline constexpr uint32_t APIC_DELIVERY_MODE_MASK = 0x700;
inline constexpr uint32_t APIC_DELIVERY_MODE_NMI = 0x4 << 8;
inline constexpr uint32_t APIC_DELIVERY_MODE_EXTINT = 0x7 << 8;
[[nodiscard]] uint32_t lapic_register(kvm_lapic_state const&, size_t offset);

} // namespace monarch::vmm::arch

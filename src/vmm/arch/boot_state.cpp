// SPDX-License-Identifier: Apache-2.0
// Register and segment state for PVH and 64-bit Linux entry. Segment registers are derived
// from the same descriptors boot_tables.cpp writes into the GDT, so the hidden parts KVM
// loads and what the guest would reload agree.
#include "vmm/arch/boot_state.h"

#include "vmm/arch/boot_tables.h"
#include "vmm/memory/layout.h"

#include <cstring>

namespace monarch::vmm::arch {

namespace {

void set_segments(kvm_sregs& sregs, std::array<uint64_t, BOOT_GDT_ENTRIES> const& gdt)
{
    sregs.cs = segment_from_descriptor(gdt[1], BOOT_CODE_SELECTOR);
    auto data = segment_from_descriptor(gdt[2], BOOT_DATA_SELECTOR);
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = segment_from_descriptor(gdt[3], BOOT_TSS_SELECTOR);
    sregs.gdt.base = layout::BOOT_GDT_START;
    sregs.gdt.limit = BOOT_GDT_LIMIT;
    sregs.idt.base = layout::BOOT_IDT_START;
    sregs.idt.limit = BOOT_IDT_LIMIT;
}

void set_lapic_register(kvm_lapic_state& state, size_t offset, uint32_t value)
{
    std::memcpy(state.regs + offset, &value, sizeof value);
}

} // namespace

kvm_regs pvh_boot_regs(GuestPhysAddr entry, GuestPhysAddr start_info)
{
    kvm_regs regs {};
    regs.rip = entry.raw();
    regs.rbx = start_info.raw();
    regs.rflags = RFLAGS_RESERVED_1;
    return regs;
}

void pvh_boot_sregs(kvm_sregs& sregs)
{
    set_segments(sregs, pvh_gdt());
    // Whole values, not OR-ed bits: KVM's reset CR0 has CD and NW set (caches off), and a vCPU
    // reused after a reboot still holds the previous kernel's state.
    sregs.cr0 = CR0_PE | CR0_ET;
    sregs.cr3 = 0;
    sregs.cr4 = 0;
    sregs.efer = 0;
}

kvm_regs linux64_boot_regs(GuestPhysAddr entry, GuestPhysAddr zero_page)
{
    kvm_regs regs {};
    regs.rip = entry.raw();
    regs.rsi = zero_page.raw();
    regs.rsp = layout::BOOT_STACK_POINTER;
    regs.rbp = layout::BOOT_STACK_POINTER;
    regs.rflags = RFLAGS_RESERVED_1;
    return regs;
}

void linux64_boot_sregs(kvm_sregs& sregs)
{
    set_segments(sregs, linux64_gdt());
    sregs.cr3 = layout::PML4_START;
    sregs.cr4 = CR4_PAE;
    sregs.cr0 = CR0_PE | CR0_ET | CR0_PG;
    sregs.efer = EFER_LME | EFER_LMA;
}

kvm_fpu boot_fpu()
{
    kvm_fpu fpu {};
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    return fpu;
}

VcpuBootState vcpu_boot_state(EntryMode mode, GuestPhysAddr entry, GuestPhysAddr boot_info)
{
    return VcpuBootState {
        .mode = mode,
        .regs = mode == EntryMode::Pvh ? pvh_boot_regs(entry, boot_info) : linux64_boot_regs(entry, boot_info),
        .fpu = boot_fpu(),
    };
}

void VcpuBootState::apply_sregs(kvm_sregs& sregs) const
{
    if (mode == EntryMode::Pvh)
        pvh_boot_sregs(sregs);
    else
        linux64_boot_sregs(sregs);
}

uint32_t lapic_register(kvm_lapic_state const& state, size_t offset)
{
    uint32_t value = 0;
    std::memcpy(&value, state.regs + offset, sizeof value);
    return value;
}

void set_lint0_extint_lint1_nmi(kvm_lapic_state& state)
{
    uint32_t lint0 = lapic_register(state, APIC_LVT_LINT0);
    set_lapic_register(state, APIC_LVT_LINT0, (lint0 & ~APIC_DELIVERY_MODE_MASK) | APIC_DELIVERY_MODE_EXTINT);
    uint32_t lint1 = lapic_register(state, APIC_LVT_LINT1);
    set_lapic_register(state, APIC_LVT_LINT1, (lint1 & ~APIC_DELIVERY_MODE_MASK) | APIC_DELIVERY_MODE_NMI);
}

} // namespace monarch::vmm::arch

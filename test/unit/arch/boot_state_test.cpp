// SPDX-License-Identifier: Apache-2.0
// Entry state for PVH and 64-bit Linux, checked against the architectural requirements
// (Intel SDM vol. 3A 9.8.5 "Initializing IA-32e mode", 3.4.5 descriptors, 4.5 paging), the
// boot GDT decoded from guest memory, and the identity map walked as the MMU would.
#include "support/vec_guest_memory.h"
#include "vmm/arch/boot_state.h"
#include "vmm/arch/boot_tables.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <optional>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::arch;

namespace {

struct Descriptor {
    uint32_t base;
    uint32_t limit_bytes;
    uint32_t type;
    bool s, present, l, db, g;
    uint32_t dpl;
};

// Independent decoder of an 8-byte segment descriptor (SDM vol. 3A, figure 3-8).
Descriptor decode(uint64_t raw)
{
    uint32_t low = static_cast<uint32_t>(raw);
    uint32_t high = static_cast<uint32_t>(raw >> 32);
    Descriptor d {};
    d.base = (low >> 16) | ((high & 0xff) << 16) | (high & 0xff000000);
    uint32_t limit = (low & 0xffff) | (high & 0xf0000);
    d.type = (high >> 8) & 0xf;
    d.s = (high >> 12) & 1;
    d.dpl = (high >> 13) & 3;
    d.present = (high >> 15) & 1;
    d.l = (high >> 21) & 1;
    d.db = (high >> 22) & 1;
    d.g = (high >> 23) & 1;
    d.limit_bytes = d.g ? limit * 4096 + 4095 : limit;
    return d;
}

void require_matches(kvm_segment const& segment, Descriptor const& d)
{
    REQUIRE(segment.base == d.base);
    REQUIRE(segment.limit == d.limit_bytes);
    REQUIRE(segment.type == d.type);
    REQUIRE(segment.s == d.s);
    REQUIRE(segment.present == d.present);
    REQUIRE(segment.l == d.l);
    REQUIRE(segment.db == d.db);
    REQUIRE(segment.g == d.g);
    REQUIRE(segment.dpl == d.dpl);
}

// 4-level walk from CR3 (PS=1 in a PDE maps 2 MiB). nullopt when not present.
std::optional<uint64_t> translate(GuestMemory& memory, uint64_t cr3, uint64_t address)
{
    constexpr uint64_t PRESENT = 1, WRITABLE = 2, LARGE = 0x80, FRAME = 0x000ffffffffff000;
    uint64_t table = cr3 & FRAME;
    for (int level = 3; level >= 1; --level) {
        uint64_t index = (address >> (12 + 9 * level)) & 0x1ff;
        auto entry = memory.read_obj<uint64_t>(GuestPhysAddr { table + index * 8 });
        REQUIRE(entry);
        if (!(*entry & PRESENT))
            return std::nullopt;
        REQUIRE(*entry & WRITABLE);
        if (level == 1) {
            REQUIRE(*entry & LARGE);
            return (*entry & 0x000fffffffe00000) | (address & 0x1fffff);
        }
        REQUIRE_FALSE(*entry & LARGE);
        table = *entry & FRAME;
    }
    return std::nullopt;
}

std::array<uint64_t, 4> read_gdt(GuestMemory& memory, kvm_sregs const& sregs)
{
    REQUIRE(sregs.gdt.limit == 31);
    auto gdt = memory.read_obj<std::array<uint64_t, 4>>(GuestPhysAddr { sregs.gdt.base });
    REQUIRE(gdt);
    return *gdt;
}

} // namespace

TEST_CASE("64-bit Linux entry: registers", "[unit][arch]")
{
    auto regs = linux64_boot_regs(GuestPhysAddr { 0x1000200 }, GuestPhysAddr { layout::ZERO_PAGE_START });
    REQUIRE(regs.rip == 0x1000200);
    REQUIRE(regs.rsi == layout::ZERO_PAGE_START);
    REQUIRE(regs.rsp == layout::BOOT_STACK_POINTER);
    REQUIRE(regs.rflags == 2);
    REQUIRE(regs.rax == 0);
}

TEST_CASE("64-bit Linux entry: long mode, flat segments from the boot GDT, identity map", "[unit][arch]")
{
    test::VecGuestMemory memory(16 * layout::MiB);
    REQUIRE(write_linux64_gdt_and_page_tables(memory));
    kvm_sregs sregs {};
    sregs.cr0 = 0x60000010; // reset value: CD, NW, ET
    linux64_boot_sregs(sregs);

    REQUIRE((sregs.cr0 & 1) == 1);               // PE
    REQUIRE((sregs.cr0 & (1u << 31)) != 0);      // PG
    REQUIRE((sregs.cr0 & (3u << 29)) == 0);      // CD and NW from the reset value cleared
    REQUIRE((sregs.cr4 & (1u << 5)) != 0);       // PAE, required for IA-32e paging
    REQUIRE((sregs.efer & (1u << 8)) != 0);      // LME
    REQUIRE((sregs.efer & (1u << 10)) != 0);     // LMA
    REQUIRE(sregs.cr3 == layout::PML4_START);
    REQUIRE(sregs.idt.base == layout::BOOT_IDT_START);
    REQUIRE(memory.read_obj<uint64_t>(GuestPhysAddr { layout::BOOT_IDT_START }).value() == 0);

    auto gdt = read_gdt(memory, sregs);
    REQUIRE(gdt[0] == 0);
    auto code = decode(gdt[sregs.cs.selector >> 3]);
    REQUIRE(code.l);                              // 64-bit code segment
    REQUIRE_FALSE(code.db);                       // L=1 requires D=0
    REQUIRE((code.type & 0x8) != 0);              // executable
    REQUIRE(code.present);
    REQUIRE(code.s);
    require_matches(sregs.cs, code);
    for (auto const* segment : { &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss }) {
        auto data = decode(gdt[segment->selector >> 3]);
        REQUIRE(data.type == 0x3);
        REQUIRE(data.base == 0);
        REQUIRE(data.limit_bytes == 0xffffffff);
        require_matches(*segment, data);
    }
    auto tss = decode(gdt[sregs.tr.selector >> 3]);
    REQUIRE(tss.type == 0xb); // busy TSS, as VM entry requires of TR
    REQUIRE_FALSE(tss.s);
    require_matches(sregs.tr, tss);

    for (uint64_t address : { 0ull, 0x1000ull, 0x1234567ull, 0x40000000ull, 0xbfffffffull, 0xf9999999ull, 0xfee00000ull, 0xffffffffull })
        REQUIRE(translate(memory, sregs.cr3, address) == address);
    REQUIRE_FALSE(translate(memory, sregs.cr3, 0x100000000ull));
}

TEST_CASE("page tables need their low memory to be RAM", "[unit][arch]")
{
    test::VecGuestMemory memory({ { GuestPhysAddr { 0 }, 0x9000 } });
    REQUIRE(write_linux64_gdt_and_page_tables(memory).error().code == Errc::OutOfRange);
}

TEST_CASE("PVH entry: 32-bit protected mode, paging off", "[unit][arch]")
{
    auto regs = pvh_boot_regs(GuestPhysAddr { 0x1000000 }, GuestPhysAddr { layout::PVH_START_INFO_START });
    REQUIRE(regs.rip == 0x1000000);
    REQUIRE(regs.rbx == layout::PVH_START_INFO_START);
    REQUIRE(regs.rflags == 2);

    test::VecGuestMemory memory(1 * layout::MiB);
    REQUIRE(write_pvh_gdt(memory));
    kvm_sregs sregs {};
    sregs.cr0 = 0x60000010;
    sregs.efer = 0x500; // left over from a previous boot: must be cleared
    sregs.cr4 = 0x20;
    pvh_boot_sregs(sregs);
    REQUIRE((sregs.cr0 & 1) == 1);
    REQUIRE((sregs.cr0 & (1u << 31)) == 0);
    REQUIRE((sregs.cr0 & (3u << 29)) == 0);
    REQUIRE(sregs.cr4 == 0);
    REQUIRE(sregs.efer == 0);

    auto gdt = read_gdt(memory, sregs);
    auto code = decode(gdt[sregs.cs.selector >> 3]);
    REQUIRE(sregs.cs.selector == 0x8);
    REQUIRE(code.type == 0xb);
    REQUIRE(code.db);           // 32-bit default operand size
    REQUIRE_FALSE(code.l);
    REQUIRE(code.limit_bytes == 0xffffffff);
    require_matches(sregs.cs, code);
    for (auto const* segment : { &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss }) {
        REQUIRE(segment->selector == 0x10);
        REQUIRE(segment->type == 0x3);
        require_matches(*segment, decode(gdt[2]));
    }
    REQUIRE(sregs.tr.type == 0xb);
    REQUIRE(sregs.tr.present);
    require_matches(sregs.tr, decode(gdt[3]));
}

TEST_CASE("boot FPU state and LAPIC LINT pins", "[unit][arch]")
{
    auto fpu = boot_fpu();
    REQUIRE(fpu.fcw == 0x37f);
    REQUIRE(fpu.mxcsr == 0x1f80);

    kvm_lapic_state lapic {};
    // Masked, fixed delivery, vector 0x20: reset leaves the mask bit, which must survive.
    uint32_t masked = 0x10020;
    std::memcpy(lapic.regs + 0x350, &masked, 4);
    std::memcpy(lapic.regs + 0x360, &masked, 4);
    set_lint0_extint_lint1_nmi(lapic);
    uint32_t lint0, lint1;
    std::memcpy(&lint0, lapic.regs + 0x350, 4);
    std::memcpy(&lint1, lapic.regs + 0x360, 4);
    REQUIRE(((lint0 >> 8) & 7) == 7); // ExtINT
    REQUIRE(((lint1 >> 8) & 7) == 4); // NMI
    REQUIRE((lint0 & ~0x700u) == masked);
    REQUIRE((lint1 & ~0x700u) == masked);
}

TEST_CASE("VcpuBootState bundles the state of either entry mode", "[unit][arch]")
{
    auto pvh = vcpu_boot_state(EntryMode::Pvh, GuestPhysAddr { 0x1000000 }, GuestPhysAddr { layout::PVH_START_INFO_START });
    REQUIRE(pvh.regs.rbx == layout::PVH_START_INFO_START);
    REQUIRE(pvh.regs.rsi == 0);
    REQUIRE(pvh.fpu.fcw == 0x37f);
    kvm_sregs sregs {};
    pvh.apply_sregs(sregs);
    REQUIRE(sregs.efer == 0);
    REQUIRE(sregs.cs.db == 1);

    auto linux64 = vcpu_boot_state(EntryMode::Linux64, GuestPhysAddr { 0x1000200 }, GuestPhysAddr { layout::ZERO_PAGE_START });
    REQUIRE(linux64.regs.rsi == layout::ZERO_PAGE_START);
    REQUIRE(linux64.regs.rbx == 0);
    sregs = {};
    linux64.apply_sregs(sregs);
    REQUIRE(sregs.cs.l == 1);
    REQUIRE(sregs.cr3 == layout::PML4_START);
}

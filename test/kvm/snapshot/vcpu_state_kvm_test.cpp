// SPDX-License-Identifier: Apache-2.0
// vCPU and VM-wide state through KVM: capture fresh vCPUs and chips, change them, encode,
// decode, apply to another VM, capture again: the same state. Needs /dev/kvm.
#include "support/skip.h"
#include "vmm/kvm/kvm.h"
#include "vmm/snapshot/msr_list.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <fmt/format.h>
#include <string>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;

namespace {

struct TestVm {
    kvm::VmFd vm;
    kvm::VcpuFd vcpu;
};

TestVm make_vm(kvm::Kvm const& kvm)
{
    auto vm = kvm.create_vm();
    REQUIRE(vm.has_value());
    REQUIRE(vm->create_irqchip().has_value()); // an in-kernel LAPIC, PIC and IOAPIC
    REQUIRE(vm->create_pit2().has_value());
    auto vcpu = vm->create_vcpu(VcpuId { 0 });
    REQUIRE(vcpu.has_value());
    auto cpuid = kvm.supported_cpuid();
    REQUIRE(cpuid.has_value());
    REQUIRE(vcpu->set_cpuid(*cpuid).has_value()); // MSRs and XSAVE features follow CPUID
    return TestVm { std::move(*vm), std::move(*vcpu) };
}

size_t xsave_size(kvm::VmFd const& vm)
{
    if (vm.check_extension(KVM_CAP_XSAVE) <= 0)
        return 0;
    return std::max<size_t>(static_cast<size_t>(std::max(vm.check_extension(KVM_CAP_XSAVE2), 0)), sizeof(kvm_xsave));
}

void set_msr(VcpuState& state, uint32_t index, uint64_t value)
{
    for (auto& entry : state.msrs)
        if (entry.index == index)
            entry.data = value;
}

// Counters that run between apply and the second capture: the TSC, and Hyper-V's vCPU
// runtime and reference time counters (read-only, derived from the host's clocks). Everything
// else must be equal.
VcpuState without_running_counters(VcpuState state)
{
    std::erase_if(state.msrs, [](kvm_msr_entry const& e) { return e.index == 0x10 || e.index == 0x40000010 || e.index == 0x40000020; });
    return state;
}

template<typename T>
bool same_bytes(T const& a, T const& b)
{
    return std::memcmp(&a, &b, sizeof(T)) == 0;
}

// The parts of two states that differ, by name (MSRs by index), so that a failure says where.
std::string differences(VcpuState const& a, VcpuState const& b)
{
    std::string out;
    auto note = [&out](bool same, std::string const& what) {
        if (!same)
            out += what + " ";
    };
    note(same_bytes(a.regs, b.regs), "regs");
    note(same_bytes(a.sregs, b.sregs), "sregs");
    if (a.xsave != b.xsave) {
        out += "xsave";
        for (size_t i = 0; i < std::min(a.xsave.size(), b.xsave.size()); ++i)
            if (a.xsave[i] != b.xsave[i])
                out += fmt::format(" @{}:{:#x}/{:#x}", i, static_cast<unsigned>(a.xsave[i]), static_cast<unsigned>(b.xsave[i]));
        out += " ";
    }
    note(!a.xsave.empty() || same_bytes(a.fpu, b.fpu), "fpu");
    note(a.xcrs.has_value() == b.xcrs.has_value() && (!a.xcrs || same_bytes(*a.xcrs, *b.xcrs)), "xcrs");
    note(same_bytes(a.lapic, b.lapic), "lapic");
    note(same_bytes(a.events, b.events), "events");
    note(same_bytes(a.debugregs, b.debugregs), "debugregs");
    note(a.mp_state.mp_state == b.mp_state.mp_state, "mp_state");
    note(a.msrs.size() == b.msrs.size(), "msr-count");
    for (size_t i = 0; i < std::min(a.msrs.size(), b.msrs.size()); ++i) {
        if (a.msrs[i].index != b.msrs[i].index || a.msrs[i].data != b.msrs[i].data)
            out += fmt::format("msr {:#x}={:#x}/{:#x}={:#x} ", a.msrs[i].index, a.msrs[i].data, b.msrs[i].index, b.msrs[i].data);
    }
    return out;
}

} // namespace

TEST_CASE("vCPU state captured from KVM survives encode, decode and apply", "[kvm][snapshot]")
{
    monarch::test::require_kvm();
    auto kvm = kvm::Kvm::open();
    REQUIRE(kvm.has_value());
    auto first = make_vm(*kvm);
    auto second = make_vm(*kvm);
    auto const list = kvm->msr_index_list();
    REQUIRE(list.has_value());
    auto const msrs = msrs_to_save(*list);
    VcpuCapture const what { xsave_size(first.vm), first.vm.check_extension(KVM_CAP_XCRS) > 0, msrs };

    auto state = capture_vcpu(first.vcpu, what);
    REQUIRE(state.has_value());
    CHECK(state->msrs.size() > 8); // SYSENTER, STAR/LSTAR/CSTAR/SFMASK, KERNEL_GS_BASE, TSC, PAT...
    state->regs.rip = 0x123456;
    state->regs.rax = 0xfeedface;
    state->regs.rflags = 0x2;
    state->sregs.cr2 = 0x7000;
    set_msr(*state, 0xc0000082, 0xffffffff81000000); // LSTAR
    set_msr(*state, 0xc0000102, 0xffff888000001000); // KERNEL_GS_BASE
    state->debugregs.db[1] = 0x401000;
    if (!state->xsave.empty()) {
        state->xsave[25] = std::byte { 0x9f }; // MXCSR (legacy area bytes 24-27): 0x1f80 | FZ
        // XSTATE_BV (header bytes 512-519) bit 1: the SSE state is in use. Without it KVM (like
        // XRSTOR) takes SSE state and MXCSR from their initial values, not from the buffer.
        state->xsave[512] |= std::byte { 0x02 };
    }
    else
        state->fpu.mxcsr = 0x9f80;
    auto decoded = decode_vcpu(encode_vcpu(*state));
    REQUIRE(decoded.has_value());
    REQUIRE(apply_vcpu(second.vcpu, *decoded, xsave_size(second.vm)).has_value());
    auto again = capture_vcpu(second.vcpu, what);
    REQUIRE(again.has_value());
    CHECK(again->regs.rip == 0x123456);
    CHECK(again->regs.rax == 0xfeedface);
    CHECK(again->sregs.cr2 == 0x7000);
    CHECK(again->debugregs.db[1] == 0x401000);
    INFO("differences: " << differences(without_running_counters(*again), without_running_counters(*state)));
    CHECK(same_vcpu_state(without_running_counters(*again), without_running_counters(*state)));
}

TEST_CASE("irqchip, PIT and clock captured from KVM apply to another VM", "[kvm][snapshot]")
{
    monarch::test::require_kvm();
    auto kvm = kvm::Kvm::open();
    REQUIRE(kvm.has_value());
    auto first = make_vm(*kvm);
    auto second = make_vm(*kvm);

    auto chip = capture_irqchip(first.vm);
    REQUIRE(chip.has_value());
    chip->pic_master.imr = 0xfa;
    chip->pic_slave.irq_base = 0x70;
    chip->ioapic.redirtbl[4].bits = 0x10000 | 0x24; // masked, vector 0x24
    auto pit = first.vm.get_pit2();
    REQUIRE(pit.has_value());
    pit->channels[0].count = 1193;
    pit->channels[0].mode = 2;
    auto clock = first.vm.get_clock();
    REQUIRE(clock.has_value());
    clock->clock += 3'600'000'000'000ull; // an hour later than this VM's

    auto chip_back = decode_irqchip(encode_irqchip(*chip));
    auto pit_back = decode_pit(encode_pit(*pit));
    auto clock_back = decode_clock(encode_clock(*clock));
    REQUIRE(chip_back.has_value());
    REQUIRE(pit_back.has_value());
    REQUIRE(clock_back.has_value());
    REQUIRE(apply_irqchip(second.vm, *chip_back).has_value());
    REQUIRE(second.vm.set_pit2(*pit_back).has_value());
    REQUIRE(apply_clock(second.vm, *clock_back).has_value());

    auto chip_again = capture_irqchip(second.vm);
    auto pit_again = second.vm.get_pit2();
    auto clock_again = second.vm.get_clock();
    REQUIRE(chip_again.has_value());
    REQUIRE(pit_again.has_value());
    REQUIRE(clock_again.has_value());
    CHECK(same_irqchip(*chip_again, *chip));
    CHECK(same_pit(*pit_again, *pit));
    // kvmclock goes on from the applied value (not from the host's realtime).
    CHECK(clock_again->clock >= clock->clock);
    CHECK(clock_again->clock < clock->clock + 10'000'000'000ull);
}

// SPDX-License-Identifier: Apache-2.0
// vCPU state through KVM: capture a fresh vCPU, change it, encode, decode, apply to a second
// vCPU, capture again: the same state. Needs /dev/kvm.
#include "support/skip.h"
#include "vmm/kvm/kvm.h"
#include "vmm/snapshot/vcpu_state.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;

TEST_CASE("vCPU state captured from KVM survives encode, decode and apply", "[kvm][snapshot]")
{
    monarch::test::require_kvm();
    auto kvm = kvm::Kvm::open();
    REQUIRE(kvm.has_value());
    auto vm = kvm->create_vm();
    REQUIRE(vm.has_value());
    REQUIRE(vm->create_irqchip().has_value()); // an in-kernel LAPIC for KVM_GET_LAPIC
    auto first = vm->create_vcpu(VcpuId { 0 });
    auto second = vm->create_vcpu(VcpuId { 1 });
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());

    auto state = capture_vcpu(*first);
    REQUIRE(state.has_value());
    state->regs.rip = 0x123456;
    state->regs.rax = 0xfeedface;
    state->regs.rflags = 0x2;
    state->sregs.cr2 = 0x7000;
    state->fpu.mxcsr = 0x1f80;
    auto decoded = decode_vcpu(encode_vcpu(*state));
    REQUIRE(decoded.has_value());
    REQUIRE(apply_vcpu(*second, *decoded).has_value());
    auto again = capture_vcpu(*second);
    REQUIRE(again.has_value());
    CHECK(again->regs.rip == 0x123456);
    CHECK(again->regs.rax == 0xfeedface);
    CHECK(again->sregs.cr2 == 0x7000);
    CHECK(again->fpu.mxcsr == 0x1f80);
}

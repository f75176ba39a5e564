// SPDX-License-Identifier: Apache-2.0
// The KVM_SET_GUEST_DEBUG encoding (SDM vol. 3, 18.2.4; api.rst 4.59) and KVM_EXIT_DEBUG
// decoding, on values written out by hand from the manuals.
#include "vmm/introspect/guest_debug.h"
#include "vmm/kvm/vcpu_exit.h"

#include <catch2/catch.hpp>
#include "vmm/kvm/kvm_uapi.h"
#include <vector>

using namespace monarch;
using namespace monarch::vmm;

TEST_CASE("DR7: one global enable bit per execution breakpoint, GE and bit 10, R/W and LEN zero", "[unit][introspect]")
{
    CHECK(introspect::dr7_for_execution_breakpoints(0).value() == 0);
    CHECK(introspect::dr7_for_execution_breakpoints(1).value() == 0x602);  // G0 | GE | bit 10
    CHECK(introspect::dr7_for_execution_breakpoints(2).value() == 0x60a);  // G0 | G1
    CHECK(introspect::dr7_for_execution_breakpoints(4).value() == 0x6aa);  // G0..G3
    auto const five = introspect::dr7_for_execution_breakpoints(5);
    REQUIRE_FALSE(five);
    CHECK(five.error().code == Errc::OutOfRange);
    // No local enables (bits 0, 2, 4, 6) and no R/W or LEN bits (16-31) for execution.
    for (size_t count = 0; count <= 4; ++count)
        CHECK((introspect::dr7_for_execution_breakpoints(count).value() & 0xffff0055) == 0);
}

TEST_CASE("guest debug: addresses in DR0-3, the control flags, and all-zero to switch it off", "[unit][introspect]")
{
    std::vector<uint64_t> const points { 0xffffffff81000000, 0xffffffff81234560 };
    auto const debug = introspect::make_guest_debug(points, false, false).value();
    CHECK(debug.control == (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP));
    CHECK(debug.arch.debugreg[0] == points[0]);
    CHECK(debug.arch.debugreg[1] == points[1]);
    CHECK(debug.arch.debugreg[2] == 0);
    CHECK(debug.arch.debugreg[7] == 0x60a);

    auto const step = introspect::make_guest_debug(points, true, true).value();
    CHECK((step.control & KVM_GUESTDBG_SINGLESTEP) != 0);
    CHECK((step.control & 0x00100000) != 0); // KVM_GUESTDBG_BLOCKIRQ
    auto const plain_step = introspect::make_guest_debug({}, true, false).value();
    CHECK(plain_step.control == (KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP));

    auto const off = introspect::make_guest_debug({}, false, true).value();
    CHECK(off.control == 0);
    CHECK(off.arch.debugreg[7] == 0);
    std::vector<uint64_t> const five(5, 0x1000);
    CHECK_FALSE(introspect::make_guest_debug(five, false, false));
}

TEST_CASE("KVM_EXIT_DEBUG decodes exception, pc, dr6 and dr7", "[unit][introspect]")
{
    std::vector<uint64_t> storage(8192 / 8, 0);
    // SAFETY: storage is 8 KiB of 8-byte-aligned zeroes, larger than struct kvm_run.
    auto& run = *reinterpret_cast<kvm_run*>(storage.data());
    run.exit_reason = KVM_EXIT_DEBUG;
    run.debug.arch.exception = 1;
    run.debug.arch.pc = 0xffffffff81abcdef;
    run.debug.arch.dr6 = 0xffff0ff1; // B0
    run.debug.arch.dr7 = 0x602;
    auto const exit = kvm::decode_exit(run, 8192);
    auto const* debug = std::get_if<kvm::exit::Debug>(&exit);
    REQUIRE(debug);
    CHECK(debug->exception == 1);
    CHECK(debug->pc == 0xffffffff81abcdef);
    CHECK(debug->dr6 == 0xffff0ff1);
    CHECK(debug->dr7 == 0x602);
}

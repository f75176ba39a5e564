// SPDX-License-Identifier: Apache-2.0
// VmmGuestAccess's checks that need no vCPU: guest memory bounds, vCPU numbers, the four debug
// registers, and timeouts, over a VcpuRunner with no vCPUs (its threads need /dev/kvm; the
// kvm_introspect_vmm test covers them).
#include "support/vec_guest_memory.h"
#include "vmm/introspect/vmm_guest_access.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace std::chrono_literals;

namespace {

struct NoVcpus {
    test::VecGuestMemory memory { 0x10000 };
    Bus pio;
    Bus mmio;
    machine::ExitLatch exit = machine::ExitLatch::create().value();
    machine::VcpuRunner runner { {}, pio, mmio, memory, exit };
};

} // namespace

TEST_CASE("VmmGuestAccess: physical memory inside RAM only", "[unit][introspect]")
{
    NoVcpus vm;
    introspect::VmmGuestAccess access { vm.memory, vm.runner };
    std::array<std::byte, 8> const pattern { std::byte { 1 }, std::byte { 2 }, std::byte { 3 }, std::byte { 4 } };
    REQUIRE(access.write_physical(GuestPhysAddr { 0xfff8 }, pattern).has_value());
    std::array<std::byte, 8> back {};
    REQUIRE(access.read_physical(GuestPhysAddr { 0xfff8 }, back).has_value());
    CHECK(back == pattern);
    auto const across = access.read_physical(GuestPhysAddr { 0xfffc }, back);
    REQUIRE_FALSE(across);
    CHECK(across.error().code == Errc::OutOfRange);
    CHECK_FALSE(access.write_physical(GuestPhysAddr { 0x10000 }, pattern));
    CHECK_FALSE(access.read_physical(GuestPhysAddr { ~uint64_t { 0 } - 2 }, back));
}

TEST_CASE("VmmGuestAccess: vCPU numbers, four breakpoints, no stop without a breakpoint, timeouts", "[unit][introspect]")
{
    NoVcpus vm;
    introspect::VmmGuestAccess access { vm.memory, vm.runner, 50ms };
    CHECK(access.vcpu_count() == 0);
    CHECK_FALSE(access.paused());
    REQUIRE(access.pause().has_value());
    CHECK(access.paused());
    auto const regs = access.read_registers(VcpuId { 0 });
    REQUIRE_FALSE(regs);
    CHECK(regs.error().code == Errc::OutOfRange);
    CHECK(access.run_until_breakpoint(10ms).error().code == Errc::InvalidArgument);
    for (uint64_t slot = 0; slot < 4; ++slot)
        REQUIRE(access.set_breakpoint(GuestVirtAddr { 0xffffffff81000000 + slot * 16 }).has_value());
    REQUIRE(access.set_breakpoint(GuestVirtAddr { 0xffffffff81000000 }).has_value()); // already set
    auto const fifth = access.set_breakpoint(GuestVirtAddr { 0xffffffff81000100 });
    REQUIRE_FALSE(fifth);
    CHECK(fifth.error().code == Errc::Busy);
    // Nothing runs, so nothing stops: a timeout, and the VM is paused again afterwards.
    auto const waited = access.run_until_breakpoint(20ms);
    REQUIRE_FALSE(waited);
    CHECK(waited.error().code == Errc::Timeout);
    CHECK(access.paused());
    CHECK(access.run_vcpu_until_breakpoint(VcpuId { 3 }, 10ms).error().code == Errc::OutOfRange);
    REQUIRE(access.clear_breakpoint(GuestVirtAddr { 0xffffffff81000000 }).has_value());
    REQUIRE(access.set_breakpoint(GuestVirtAddr { 0xffffffff81000100 }).has_value());
    REQUIRE(access.resume().has_value());
    CHECK_FALSE(access.paused());
}

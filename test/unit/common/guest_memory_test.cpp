// SPDX-License-Identifier: Apache-2.0
#include "support/vec_guest_memory.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

using namespace monarch;
using vmm::layout::GiB;
using vmm::layout::MiB;

TEST_CASE("guest memory refuses accesses outside RAM", "[unit][memory]")
{
    test::VecGuestMemory memory({ { GuestPhysAddr { 0 }, 1 * MiB }, { GuestPhysAddr { 4 * GiB }, 1 * MiB } });
    REQUIRE(memory.total_size() == 2 * MiB);

    REQUIRE(memory.write_obj<uint32_t>(GuestPhysAddr { 0x1000 }, 0xdeadbeef));
    REQUIRE(memory.read_obj<uint32_t>(GuestPhysAddr { 0x1000 }).value() == 0xdeadbeef);

    SECTION("an access that runs past the end of a range")
    {
        auto result = memory.read_obj<uint64_t>(GuestPhysAddr { 1 * MiB - 4 });
        REQUIRE_FALSE(result);
        REQUIRE(result.error().code == Errc::OutOfRange);
    }
    SECTION("an address in the hole")
    {
        REQUIRE_FALSE(memory.read_obj<uint8_t>(GuestPhysAddr { 3 * GiB }));
    }
    SECTION("a length that would overflow")
    {
        REQUIRE_FALSE(memory.span(GuestPhysAddr { 0x10 }, ~0ull));
    }
    SECTION("the range above 4 GiB is reachable")
    {
        REQUIRE(memory.write_obj<uint8_t>(GuestPhysAddr { 4 * GiB + 5 }, 7));
        REQUIRE(memory.read_obj<uint8_t>(GuestPhysAddr { 4 * GiB + 5 }).value() == 7);
    }
}

// SPDX-License-Identifier: Apache-2.0
// build_e820 for a guest below the MMIO hole and one that continues above 4 GiB. Expected maps
// are written out from layout.h's address map, not taken from the code under test.
#include "support/vec_guest_memory.h"
#include "vmm/boot/e820.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using boot::E820Entry;
using layout::GiB;
using layout::MiB;

namespace {

// Only the RAM ranges: build_e820 reads nothing else, and a 6 GiB VecGuestMemory would allocate it.
class RangesOnly final : public GuestMemory {
public:
    explicit RangesOnly(std::vector<GuestRamRange> ranges) : m_ranges(std::move(ranges)) {}
    std::span<GuestRamRange const> ranges() const override { return m_ranges; }
    Result<std::span<std::byte>> span(GuestPhysAddr, uint64_t) override
    {
        return fail(Errc::OutOfRange, "RangesOnly has no storage");
    }

private:
    std::vector<GuestRamRange> m_ranges;
};

} // namespace

TEST_CASE("e820: a small guest", "[unit][boot]")
{
    test::VecGuestMemory memory(256 * MiB);
    std::vector<E820Entry> expected {
        { 0, 0x9fc00, 1 },
        { 0x9fc00, 0x400, 2 },     // EBDA
        { 0xe0000, 0x20000, 2 },   // BIOS area, ACPI tables
        { 0x100000, 255 * MiB, 1 },
    };
    CHECK(boot::build_e820(memory) == expected);
}

TEST_CASE("e820: a guest larger than the MMIO hole has RAM above 4 GiB", "[unit][boot]")
{
    // What the VMM gives a 5 GiB guest: 3 GiB below the hole, the rest from 4 GiB.
    RangesOnly memory({ { GuestPhysAddr { 0 }, 3 * GiB }, { GuestPhysAddr { 4 * GiB }, 2 * GiB } });
    std::vector<E820Entry> expected {
        { 0, 0x9fc00, 1 },
        { 0x9fc00, 0x400, 2 },
        { 0xe0000, 0x20000, 2 },
        { 1 * MiB, 3 * GiB - 1 * MiB, 1 },
        { 4 * GiB, 2 * GiB, 1 },
    };
    CHECK(boot::build_e820(memory) == expected);
}

TEST_CASE("e820: adjacent RAM ranges are reported as one entry", "[unit][boot]")
{
    test::VecGuestMemory memory({ { GuestPhysAddr { 0 }, 64 * MiB }, { GuestPhysAddr { 64 * MiB }, 64 * MiB } });
    auto map = boot::build_e820(memory);
    REQUIRE(map.size() == 4);
    CHECK(map.back() == E820Entry { 1 * MiB, 127 * MiB, 1 });
}

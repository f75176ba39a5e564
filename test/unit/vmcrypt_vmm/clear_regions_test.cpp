// SPDX-License-Identifier: Apache-2.0
// The clear-region registry against what the firmware-table writer and the kernel loader
// actually put in guest RAM.
#include "built_guest.h"

#include "vmm/memory/layout.h"

#include <algorithm>
#include <numeric>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::vmcrypt;
using namespace monarch::vmm::vmcrypt::test;

namespace {

std::vector<ClearRegion> named(ClearRegions const& regions, std::string_view name)
{
    std::vector<ClearRegion> out;
    for (auto const& region : regions.list())
        if (region.name == name)
            out.push_back(region);
    return out;
}

} // namespace

TEST_CASE("clear regions list the firmware windows, kernel, initrd and command line with their sizes", "[unit][vmcrypt]")
{
    auto guest = build_guest();
    ClearRegions regions(guest.supplied);

    // The firmware windows are the two the layout reserves (firmware_tables.h).
    auto firmware = named(regions, "firmware tables");
    REQUIRE(firmware.size() == 2);
    CHECK(firmware[0].base.raw() == layout::EBDA_START);
    CHECK(firmware[0].size == layout::LOW_RAM_END - layout::EBDA_START);
    CHECK(firmware[1].base.raw() == layout::ACPI_TABLES_START);
    CHECK(firmware[1].size == layout::ACPI_TABLES_END - layout::ACPI_TABLES_START);

    // The initrd: exactly the supplied bytes, and they are where the registry says.
    auto initrd = named(regions, "initrd");
    REQUIRE(initrd.size() == 1);
    CHECK(initrd[0].size == guest.initrd.size());
    Bytes in_guest(guest.initrd.size());
    REQUIRE(guest.memory->read(initrd[0].base, in_guest).has_value());
    CHECK(in_guest == guest.initrd);

    // The command line with its NUL.
    auto cmdline = named(regions, "cmdline");
    REQUIRE(cmdline.size() == 1);
    CHECK(cmdline[0].size == CMDLINE.size() + 1);
    std::string text(CMDLINE.size(), '\0');
    REQUIRE(guest.memory->read(cmdline[0].base, std::as_writable_bytes(std::span { text })).has_value());
    CHECK(text == CMDLINE);

    // The kernel's segments: at least one, each inside RAM, in total no smaller than the
    // file's loadable part can be (nonzero) and no larger than guest RAM.
    auto kernel = named(regions, "kernel");
    REQUIRE(!kernel.empty());
    uint64_t kernel_total = 0;
    for (auto const& region : kernel) {
        CHECK(guest.memory->span(region.base, region.size).has_value());
        kernel_total += region.size;
    }
    CHECK(kernel_total > 0);
    CHECK(kernel_total < GUEST_MEMORY);

    // Sorted, and the total is the sum of what was given.
    CHECK(std::ranges::is_sorted(regions.list(), {}, [](ClearRegion const& r) { return r.base; }));
    uint64_t given = 0;
    for (auto const& region : guest.supplied)
        given += region.size;
    CHECK(regions.total_size() == given);
}

TEST_CASE("a page is clear only when it lies wholly inside one region", "[unit][vmcrypt]")
{
    std::vector<boot::LoadedRegion> loaded {
        { GuestPhysAddr { 0x10000 }, 0x2000, "kernel" },
        { GuestPhysAddr { 0x20800 }, 0x1000, "cmdline" },  // straddles two pages
        { GuestPhysAddr { 0x30000 }, 0, "initrd" },        // empty: dropped
    };
    ClearRegions regions(loaded);
    CHECK(regions.list().size() == 2);
    CHECK(regions.page_is_clear(GuestPhysAddr { 0x10000 }));
    CHECK(regions.page_is_clear(GuestPhysAddr { 0x11000 }));
    CHECK_FALSE(regions.page_is_clear(GuestPhysAddr { 0x12000 }));
    CHECK_FALSE(regions.page_is_clear(GuestPhysAddr { 0x20000 }));
    CHECK_FALSE(regions.page_is_clear(GuestPhysAddr { 0x21000 }));
    CHECK_FALSE(regions.page_is_clear(GuestPhysAddr { 0x30000 }));
    CHECK_FALSE(regions.page_is_clear(GuestPhysAddr { UINT64_MAX & ~0xfffull }));
}

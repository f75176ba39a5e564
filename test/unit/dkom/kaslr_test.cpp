// SPDX-License-Identifier: Apache-2.0
// KASLR discovery over a synthetic kernel mapping at a known slide.
#include "dkom/paging/kaslr.h"
#include "fake_physical_memory.h"

#include <catch2/catch.hpp>
#include <string_view>

using namespace monarch;
using namespace monarch::dkom;

namespace {
constexpr uint64_t banner_link = 0xffff'ffff'8220'0100; // link-time address of the anchor
constexpr std::string_view banner = "Linux version 6.1.0-test";
}

TEST_CASE("the slide is found where the anchor bytes are", "[unit][dkom][kaslr]")
{
    test::FakePhysicalMemory memory { 16 << 20 };
    uint64_t const root = memory.new_table();
    uint64_t const slide = 0x1a0'0000 * 2; // 52 MiB, 2 MiB aligned
    // A decoy with the wrong bytes at a smaller slide, mapped but not matching.
    memory.map(root, 4, (banner_link + 0x20'0000) & ~0x1f'ffffULL, 0x60'0000, 0x20'0000);
    memory.put_bytes(0x60'0000 + (banner_link & 0x1f'ffff), "Linux version 5.10");
    memory.map(root, 4, (banner_link + slide) & ~0x1f'ffffULL, 0x80'0000, 0x20'0000);
    memory.put_bytes(0x80'0000 + (banner_link & 0x1f'ffff), banner);
    PageWalker walker { memory };
    auto const found = find_kernel_slide(walker, AddressSpace::from_cr3(root, PagingLevels::Four), banner_link,
        std::as_bytes(std::span(banner)));
    REQUIRE(found);
    CHECK(found->virtual_slide == static_cast<int64_t>(slide));
    CHECK(found->anchor_gpa.raw() == 0x80'0000 + (banner_link & 0x1f'ffff));
}

TEST_CASE("no matching candidate is a clear not-found error", "[unit][dkom][kaslr]")
{
    test::FakePhysicalMemory memory { 16 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, banner_link & ~0x1f'ffffULL, 0x60'0000, 0x20'0000);
    memory.put_bytes(0x60'0000 + (banner_link & 0x1f'ffff), "Linux version 5.10");
    PageWalker walker { memory };
    auto const found = find_kernel_slide(walker, AddressSpace::from_cr3(root, PagingLevels::Four), banner_link,
        std::as_bytes(std::span(banner)));
    REQUIRE_FALSE(found);
    CHECK(found.error().code == Errc::NotFound);
}

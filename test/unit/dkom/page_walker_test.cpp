// SPDX-License-Identifier: Apache-2.0
// Page walks over synthetic page tables: page sizes, depths, absent entries, bounds.
#include "dkom/paging/page_walker.h"
#include "fake_physical_memory.h"

#include <catch2/catch.hpp>
#include <string>

using namespace monarch;
using namespace monarch::dkom;

namespace {
constexpr uint64_t kernel_va = 0xffff'ffff'8100'0000;
}

TEST_CASE("4-level walk maps 4 KiB pages and reports the offset", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, kernel_va, 0x40'0000, 0x1000);
    PageWalker walker { memory };
    auto const hit = walker.translate(AddressSpace::from_cr3(root | 0x5 /* PCID bits */, PagingLevels::Four), GuestVirtAddr { kernel_va + 0x123 });
    REQUIRE(hit);
    CHECK(hit->gpa.raw() == 0x40'0123);
    CHECK(hit->page_size == 0x1000);
    CHECK(hit->writable);
}

TEST_CASE("2 MiB and 1 GiB pages end the walk early", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, 0x4000'0000, 0x20'0000, 0x20'0000);
    memory.map(root, 4, 0x80'0000'0000, 0x4000'0000, 0x4000'0000); // 1 GiB page at GPA 1 GiB
    PageWalker walker { memory };
    auto const space = AddressSpace::from_cr3(root, PagingLevels::Four);
    auto const two = walker.translate(space, GuestVirtAddr { 0x4000'0000 + 0x1'2345 });
    REQUIRE(two);
    CHECK(two->gpa.raw() == 0x20'0000 + 0x1'2345);
    CHECK(two->page_size == 0x20'0000);
    auto const one = walker.translate(space, GuestVirtAddr { 0x80'0000'0000 + 0x123'4567 });
    REQUIRE(one);
    CHECK(one->gpa.raw() == 0x4000'0000 + 0x123'4567);
    CHECK(one->page_size == 0x4000'0000);
}

TEST_CASE("5-level walk uses bits 56:48", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    uint64_t const va = 0xff11'0000'0000'0000; // canonical only with LA57
    memory.map(root, 5, va, 0x30'0000, 0x1000);
    PageWalker walker { memory };
    auto const hit = walker.translate(AddressSpace::from_cr3(root, PagingLevels::Five), GuestVirtAddr { va + 8 });
    REQUIRE(hit);
    CHECK(hit->gpa.raw() == 0x30'0008);
    auto const four = walker.translate(AddressSpace::from_cr3(root, PagingLevels::Four), GuestVirtAddr { va });
    REQUIRE_FALSE(four);
    CHECK(four.error().code == Errc::InvalidArgument);
}

TEST_CASE("absent entries are reported as not present", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, kernel_va, 0x40'0000, 0x1000);
    PageWalker walker { memory };
    auto const space = AddressSpace::from_cr3(root, PagingLevels::Four);
    auto const miss = walker.translate(space, GuestVirtAddr { kernel_va + 0x1000 });
    REQUIRE_FALSE(miss);
    CHECK(miss.error().code == Errc::NotFound);
    CHECK(std::string(miss.error().context) == "page not present");
}

TEST_CASE("a page table outside guest RAM is out of range", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.put64(root, 0x7fff'0000'0000 | 0x3); // PML4 entry pointing far outside RAM
    PageWalker walker { memory };
    auto const miss = walker.translate(AddressSpace::from_cr3(root, PagingLevels::Four), GuestVirtAddr { 0x1000 });
    REQUIRE_FALSE(miss);
    CHECK(miss.error().code == Errc::OutOfRange);
}

TEST_CASE("read_virtual crosses pages that are not physically contiguous", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, kernel_va, 0x50'0000, 0x1000);
    memory.map(root, 4, kernel_va + 0x1000, 0x30'0000, 0x1000);
    memory.put_bytes(0x50'0ffc, "abcd");
    memory.put_bytes(0x30'0000, "efgh");
    PageWalker walker { memory };
    std::string text(8, '\0');
    auto const read = walker.read_virtual(AddressSpace::from_cr3(root, PagingLevels::Four), GuestVirtAddr { kernel_va + 0xffc },
        std::as_writable_bytes(std::span(text)));
    REQUIRE(read);
    CHECK(text == "abcdefgh");
}

TEST_CASE("write_virtual writes nothing when part of the range is absent", "[unit][dkom][paging]")
{
    test::FakePhysicalMemory memory { 8 << 20 };
    uint64_t const root = memory.new_table();
    memory.map(root, 4, kernel_va, 0x50'0000, 0x1000);
    memory.put_bytes(0x50'0ffc, "abcd");
    PageWalker walker { memory };
    std::string const data = "XXXXXXXX";
    auto const space = AddressSpace::from_cr3(root, PagingLevels::Four);
    auto const wrote = walker.write_virtual(space, GuestVirtAddr { kernel_va + 0xffc }, std::as_bytes(std::span(data)));
    REQUIRE_FALSE(wrote);
    auto const still = walker.read_virtual_obj<uint32_t>(space, GuestVirtAddr { kernel_va + 0xffc });
    REQUIRE(still);
    CHECK(*still == 0x64636261); // "abcd"
}

// SPDX-License-Identifier: Apache-2.0
// DirtyBitmap: marking byte and page ranges, merging KVM-shaped logs, runs, clearing; and
// GuestMemoryMmap marking every page a span touched.
#include "vmm/memory/dirty_bitmap.h"
#include "vmm/memory/guest_memory_mmap.h"

#include <array>
#include <catch2/catch.hpp>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;

TEST_CASE("dirty bitmap marks the pages a byte range touches")
{
    DirtyBitmap bitmap(200);
    CHECK(bitmap.count() == 0);
    bitmap.mark_bytes(4095, 2); // the last byte of page 0 and the first of page 1
    CHECK(bitmap.test(0));
    CHECK(bitmap.test(1));
    CHECK_FALSE(bitmap.test(2));
    bitmap.mark_bytes(10 * 4096, 4096); // exactly page 10
    CHECK(bitmap.test(10));
    CHECK_FALSE(bitmap.test(9));
    CHECK_FALSE(bitmap.test(11));
    bitmap.mark_bytes(0, 0);
    bitmap.mark_bytes(199 * 4096 + 100, 1 << 20); // clipped at the end
    CHECK(bitmap.test(199));
    CHECK(bitmap.count() == 4);
}

TEST_CASE("dirty bitmap marks page ranges across word boundaries")
{
    DirtyBitmap bitmap(300);
    bitmap.mark_pages(60, 140); // 60..199: spans words 0..3
    CHECK(bitmap.count() == 140);
    CHECK_FALSE(bitmap.test(59));
    CHECK(bitmap.test(60));
    CHECK(bitmap.test(199));
    CHECK_FALSE(bitmap.test(200));
    bitmap.mark_pages(290, 1000); // clipped
    CHECK(bitmap.count() == 150);
    auto runs = bitmap.runs();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].first == 60);
    CHECK(runs[0].count == 140);
    CHECK(runs[1].first == 290);
    CHECK(runs[1].count == 10);
    bitmap.clear();
    CHECK(bitmap.count() == 0);
    CHECK(bitmap.runs().empty());
}

TEST_CASE("dirty bitmap merges a KVM dirty log word by word")
{
    DirtyBitmap bitmap(130); // 3 words, 2 bits used in the last
    bitmap.mark_pages(5, 1);
    std::vector<uint64_t> log { 0b1001, uint64_t { 1 } << 63, 0b10 };
    REQUIRE(bitmap.merge_words(log).has_value());
    CHECK(bitmap.test(0));
    CHECK(bitmap.test(3));
    CHECK(bitmap.test(5));
    CHECK(bitmap.test(127));
    CHECK(bitmap.test(129));
    CHECK_FALSE(bitmap.test(128));
    CHECK(bitmap.count() == 5);

    std::vector<uint64_t> short_log { 1, 2 };
    auto wrong_size = bitmap.merge_words(short_log);
    REQUIRE_FALSE(wrong_size.has_value());
    CHECK(wrong_size.error().code == Errc::InvalidArgument);
    std::vector<uint64_t> past_end { 0, 0, 0b100 }; // page 130 does not exist
    REQUIRE_FALSE(bitmap.merge_words(past_end).has_value());
}

TEST_CASE("guest memory marks every page a span touched, per RAM range")
{
    auto memory = GuestMemoryMmap::create(uint64_t { 16 } << 20, 0);
    REQUIRE(memory.has_value());
    auto dirty = memory->dirty();
    REQUIRE(dirty.size() == 1);
    CHECK(dirty[0].pages() == (uint64_t { 16 } << 20) / 4096);
    CHECK(dirty[0].count() == 0);
    std::array<std::byte, 8> bytes {};
    REQUIRE(memory->write(GuestPhysAddr { 0x3ffc }, bytes).has_value()); // pages 3 and 4
    REQUIRE(memory->fill(GuestPhysAddr { 0x10000 }, 4096, std::byte { 1 }).has_value());
    auto runs = dirty[0].runs();
    REQUIRE(runs.size() == 2);
    CHECK(runs[0].first == 3);
    CHECK(runs[0].count == 2);
    CHECK(runs[1].first == 0x10);
    CHECK(runs[1].count == 1);

    // Reads through the untracked view mark nothing; take_runs() empties the bitmap.
    auto taken = dirty[0].take_runs();
    CHECK(taken.size() == 2);
    CHECK(dirty[0].count() == 0);
    UntrackedGuestMemory untracked(*memory);
    REQUIRE(untracked.read(GuestPhysAddr { 0x20000 }, bytes).has_value());
    CHECK(dirty[0].count() == 0);
    REQUIRE(memory->read(GuestPhysAddr { 0x20000 }, bytes).has_value());
    CHECK(dirty[0].count() == 1);
}

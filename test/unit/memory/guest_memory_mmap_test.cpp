// SPDX-License-Identifier: Apache-2.0
// GuestMemoryMmap: the split around the MMIO hole, bounds checks, the memfd behind it, and the
// size policy (zero, too small, unaligned, more than the host).
#include "vmm/memory/guest_memory_mmap.h"
#include "vmm/memory/layout.h"
#include "vmm/memory/memory_size.h"

#include <catch2/catch.hpp>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;
using layout::GiB;
using layout::MiB;

namespace {
// A host total large enough not to interfere (the size checks have their own tests).
constexpr uint64_t BIG_HOST = 1024 * GiB;
}

TEST_CASE("64 MiB of guest memory is one range at 0", "[unit][memory]")
{
    auto memory = GuestMemoryMmap::create(64 * MiB, BIG_HOST);
    REQUIRE(memory);
    auto ranges = memory->ranges();
    REQUIRE(ranges.size() == 1);
    CHECK(ranges[0].base.raw() == 0);
    CHECK(ranges[0].size == 64 * MiB);
    CHECK(memory->total_size() == 64 * MiB);
    REQUIRE(memory->regions().size() == 1);
    CHECK(memory->regions()[0].memfd_offset == 0);
}

TEST_CASE("4.5 GiB of guest memory splits around the MMIO hole", "[unit][memory]")
{
    uint64_t size = 4 * GiB + 512 * MiB;
    auto memory = GuestMemoryMmap::create(size, BIG_HOST);
    REQUIRE(memory);
    auto ranges = memory->ranges();
    REQUIRE(ranges.size() == 2);
    CHECK(ranges[0].base.raw() == 0);
    CHECK(ranges[0].size == layout::MMIO_HOLE_START);
    CHECK(ranges[1].base.raw() == layout::RAM_ABOVE_4G_START);
    CHECK(ranges[1].size == size - layout::MMIO_HOLE_START);
    CHECK(memory->total_size() == size);
    auto regions = memory->regions();
    REQUIRE(regions.size() == 2);
    CHECK(regions[1].memfd_offset == layout::MMIO_HOLE_START);
    CHECK(regions[1].host == regions[0].host + layout::MMIO_HOLE_START);

    // The hole itself is not RAM; both sides of it are, up to their ends.
    CHECK_FALSE(memory->span(GuestPhysAddr { layout::MMIO_HOLE_START }, 1));
    CHECK_FALSE(memory->span(GuestPhysAddr { layout::MMIO_HOLE_START - 4 }, 8));
    CHECK(memory->span(GuestPhysAddr { layout::MMIO_HOLE_START - 8 }, 8));
    CHECK(memory->span(GuestPhysAddr { layout::RAM_ABOVE_4G_START + ranges[1].size - 8 }, 8));
    CHECK_FALSE(memory->span(GuestPhysAddr { layout::RAM_ABOVE_4G_START + ranges[1].size - 4 }, 8));
}

TEST_CASE("exactly the low part below the hole is one range", "[unit][memory]")
{
    auto split = GuestMemoryMmap::split_around_hole(layout::MMIO_HOLE_START);
    REQUIRE(split.count == 1);
    CHECK(split.ranges[0].size == layout::MMIO_HOLE_START);
    auto above = GuestMemoryMmap::split_around_hole(layout::MMIO_HOLE_START + 4096);
    REQUIRE(above.count == 2);
    CHECK(above.ranges[1].base.raw() == layout::RAM_ABOVE_4G_START);
    CHECK(above.ranges[1].size == 4096);
}

TEST_CASE("guest memory writes land in the memfd", "[unit][memory]")
{
    auto memory = GuestMemoryMmap::create(16 * MiB, BIG_HOST);
    REQUIRE(memory);
    uint32_t value = 0xfeedc0de;
    REQUIRE(memory->write_obj(GuestPhysAddr { 0x1000 }, value));
    uint32_t from_fd = 0;
    REQUIRE(::pread(memory->memfd(), &from_fd, sizeof from_fd, 0x1000) == sizeof from_fd);
    CHECK(from_fd == value);
    struct stat st {};
    REQUIRE(::fstat(memory->memfd(), &st) == 0);
    CHECK(static_cast<uint64_t>(st.st_size) == 16 * MiB);
}

TEST_CASE("accesses outside guest RAM are refused", "[unit][memory]")
{
    auto memory = GuestMemoryMmap::create(16 * MiB, BIG_HOST);
    REQUIRE(memory);
    auto past = memory->span(GuestPhysAddr { 16 * MiB }, 1);
    REQUIRE_FALSE(past);
    CHECK(past.error().code == Errc::OutOfRange);
    CHECK_FALSE(memory->span(GuestPhysAddr { 16 * MiB - 2 }, 4));
    CHECK_FALSE(memory->span(GuestPhysAddr { ~uint64_t { 0 } }, 2));
    CHECK(memory->span(GuestPhysAddr { 16 * MiB - 4 }, 4));
}

TEST_CASE("guest memory sizes that are zero, tiny or unaligned are invalid", "[unit][memory]")
{
    for (uint64_t size : { uint64_t { 0 }, uint64_t { 4096 }, GUEST_MEMORY_MIN - 4096, 64 * MiB + 512 }) {
        INFO("size " << size);
        auto memory = GuestMemoryMmap::create(size, BIG_HOST);
        REQUIRE_FALSE(memory);
        CHECK(memory.error().code == Errc::InvalidArgument);
    }
    CHECK(check_guest_memory_size(GUEST_MEMORY_MIN, BIG_HOST));
}

TEST_CASE("guest memory larger than the host is refused", "[unit][memory]")
{
    auto memory = GuestMemoryMmap::create(8 * GiB, 4 * GiB);
    REQUIRE_FALSE(memory);
    CHECK(memory.error().code == Errc::OutOfRange);
    CHECK(check_guest_memory_size(4 * GiB, 4 * GiB));
    CHECK(check_guest_memory_size(8 * GiB, 0)); // host size unknown: not compared
}

TEST_CASE("the host's MemTotal is read from /proc/meminfo", "[unit][memory]")
{
    auto total = host_memory_total();
    REQUIRE(total);
    // Cross-check with sysconf, which reads the same kernel counter (totalram_pages).
    uint64_t pages = static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES));
    uint64_t page_size = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    CHECK(*total == pages * page_size);
}

// SPDX-License-Identifier: Apache-2.0
// Virtqueue indirect descriptor tables (virtio 1.2 section 2.7.5.3): valid tables, and tables
// the device must refuse.

#include "vmm/virtio/ring_layout.h"
#include "vmm/virtio/virtqueue.h"

#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm::virtio;
using test::VirtqueueDriver;

namespace {

constexpr uint64_t RAM = 1 << 20;

Result<std::optional<DescriptorChain>> pop_with(test::VecGuestMemory& memory, VirtqueueDriver& driver, bool indirect = true)
{
    auto queue = Virtqueue::create(memory, driver.config(false, indirect));
    REQUIRE(queue.has_value());
    return queue->pop();
}

void require_corrupt(Result<std::optional<DescriptorChain>> const& result)
{
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Errc::Corrupt);
}

} // namespace

TEST_CASE("virtqueue follows an indirect table", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto header = driver.alloc(16);
    auto data = driver.alloc(512);
    auto status = driver.alloc(1);
    uint16_t head = driver.add_indirect_chain({ VirtqueueDriver::readable(header, 16), VirtqueueDriver::writable(data, 512),
        VirtqueueDriver::writable(status, 1) });
    auto chain = pop_with(memory, driver);
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    auto const& c = **chain;
    CHECK(c.head == head);
    REQUIRE(c.readable.size() == 1);
    REQUIRE(c.writable.size() == 2);
    CHECK(c.readable[0].address == header);
    CHECK(c.writable[0].address == data);
    CHECK(c.writable[1].address == status);
}

TEST_CASE("virtqueue accepts direct descriptors followed by one indirect table", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto header = driver.alloc(16);
    auto data = driver.alloc(64);
    auto table = driver.alloc(16);
    driver.write_descriptor_at(table, 0, { data.raw(), 64, ring::DESC_F_WRITE, 0 });
    driver.write_descriptor(0, { header.raw(), 16, ring::DESC_F_NEXT, 1 });
    // Section 2.7.5.3.2: the device ignores WRITE on the descriptor that points at a table.
    driver.write_descriptor(1, { table.raw(), 16, ring::DESC_F_INDIRECT | ring::DESC_F_WRITE, 0 });
    driver.make_available(0);
    auto chain = pop_with(memory, driver);
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    CHECK((*chain)->readable_length() == 16);
    CHECK((*chain)->writable_length() == 64);
}

TEST_CASE("virtqueue accepts an indirect table longer than the queue", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 2 };
    auto data = driver.alloc(64);
    driver.add_indirect_chain({ VirtqueueDriver::readable(data, 8), VirtqueueDriver::readable(data, 8), VirtqueueDriver::readable(data, 8),
        VirtqueueDriver::writable(data, 8), VirtqueueDriver::writable(data, 8) });
    auto chain = pop_with(memory, driver);
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    CHECK((*chain)->readable.size() == 3);
    CHECK((*chain)->writable.size() == 2);
}

TEST_CASE("virtqueue refuses malformed indirect tables", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto data = driver.alloc(64);
    auto table = driver.alloc(16 * 4);
    driver.write_descriptor_at(table, 0, { data.raw(), 8, ring::DESC_F_NEXT, 1 });
    driver.write_descriptor_at(table, 1, { data.raw(), 8, 0, 0 });
    ring::Descriptor top { table.raw(), 32, ring::DESC_F_INDIRECT, 0 };
    bool negotiated = true;

    SECTION("not negotiated") { negotiated = false; }
    SECTION("an indirect table inside an indirect table")
    {
        auto inner = driver.alloc(16);
        driver.write_descriptor_at(inner, 0, { data.raw(), 8, 0, 0 });
        driver.write_descriptor_at(table, 1, { inner.raw(), 16, ring::DESC_F_INDIRECT, 0 });
    }
    SECTION("INDIRECT together with NEXT") { top.flags |= ring::DESC_F_NEXT; top.next = 1; }
    SECTION("length not a multiple of 16") { top.length = 24; }
    SECTION("zero length") { top.length = 0; }
    SECTION("table outside guest RAM") { top.address = RAM - 16; }
    SECTION("table too large")
    {
        auto big = driver.alloc(16ULL * (Virtqueue::MAX_INDIRECT_DESCRIPTORS + 1));
        top = { big.raw(), 16 * (Virtqueue::MAX_INDIRECT_DESCRIPTORS + 1), ring::DESC_F_INDIRECT, 0 };
    }
    SECTION("a loop inside the table") { driver.write_descriptor_at(table, 1, { data.raw(), 8, ring::DESC_F_NEXT, 0 }); }
    SECTION("next past the end of the table") { driver.write_descriptor_at(table, 1, { data.raw(), 8, ring::DESC_F_NEXT, 2 }); }
    SECTION("a buffer outside RAM inside the table") { driver.write_descriptor_at(table, 1, { RAM, 8, 0, 0 }); }
    SECTION("readable after writable inside the table")
    {
        driver.write_descriptor_at(table, 0, { data.raw(), 8, ring::DESC_F_NEXT | ring::DESC_F_WRITE, 1 });
    }
    driver.write_descriptor(0, top);
    driver.make_available(0);
    require_corrupt(pop_with(memory, driver, negotiated));
}

TEST_CASE("virtqueue refuses a writable direct descriptor before a table with readables", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto data = driver.alloc(64);
    auto table = driver.alloc(16);
    driver.write_descriptor_at(table, 0, { data.raw(), 8, 0, 0 });
    driver.write_descriptor(0, { data.raw(), 8, ring::DESC_F_NEXT | ring::DESC_F_WRITE, 1 });
    driver.write_descriptor(1, { table.raw(), 16, ring::DESC_F_INDIRECT, 0 });
    driver.make_available(0);
    require_corrupt(pop_with(memory, driver));
}

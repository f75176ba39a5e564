// SPDX-License-Identifier: Apache-2.0
// Virtqueue against crafted rings: valid chains, and every kind of malformed chain the device
// must refuse (virtio 1.2 section 2.7.5).

#include "vmm/virtio/ring_layout.h"
#include "vmm/virtio/virtqueue.h"

#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"

#include <catch2/catch.hpp>

#include <string>

using namespace monarch;
using namespace monarch::vmm::virtio;
using test::VirtqueueDriver;

namespace {

constexpr uint64_t RAM = 1 << 20;

std::vector<std::byte> bytes_of(std::string const& text)
{
    std::vector<std::byte> out;
    for (char c : text)
        out.push_back(static_cast<std::byte>(c));
    return out;
}

Virtqueue make_queue(test::VecGuestMemory& memory, VirtqueueDriver& driver, bool event_idx = false, bool indirect = false)
{
    auto queue = Virtqueue::create(memory, driver.config(event_idx, indirect));
    REQUIRE(queue.has_value());
    return std::move(*queue);
}

// Pops once and expects a Corrupt error, and that the queue then stays broken.
void require_corrupt(Virtqueue& queue)
{
    auto result = queue.pop();
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == Errc::Corrupt);
    CHECK(queue.broken());
    auto again = queue.pop();
    REQUIRE_FALSE(again.has_value());
    CHECK(again.error().code == Errc::Corrupt);
}

} // namespace

TEST_CASE("virtqueue pops a readable+writable chain and returns it used", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto request = bytes_of("hello, device");
    auto in = driver.put_bytes(request);
    auto out = driver.alloc(64);
    uint16_t head = driver.add_chain({ VirtqueueDriver::readable(in, static_cast<uint32_t>(request.size())),
        VirtqueueDriver::writable(out, 32), VirtqueueDriver::writable(GuestPhysAddr { out.raw() + 32 }, 32) });
    auto queue = make_queue(memory, driver);

    auto chain = queue.pop();
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    auto const& c = **chain;
    CHECK(c.head == head);
    REQUIRE(c.readable.size() == 1);
    REQUIRE(c.writable.size() == 2);
    CHECK(c.readable[0].address == in);
    CHECK(c.readable_length() == request.size());
    CHECK(c.writable_length() == 64);

    std::vector<std::byte> got(request.size());
    REQUIRE(read_from_chain(memory, c.readable, 0, got) == request.size());
    CHECK(got == request);

    // A write straddling the two writable buffers lands contiguously in guest memory.
    auto reply = bytes_of("0123456789");
    REQUIRE(write_to_chain(memory, c.writable, 28, reply) == reply.size());
    REQUIRE(queue.push_used(c.head, 38).has_value());

    auto used = driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == head);
    CHECK(used->length == 38);
    CHECK(driver.read_bytes(GuestPhysAddr { out.raw() + 28 }, reply.size()) == reply);
    CHECK_FALSE(driver.next_used().has_value());

    auto empty = queue.pop();
    REQUIRE(empty.has_value());
    CHECK_FALSE(empty->has_value());
}

TEST_CASE("virtqueue chain copies stop at the end of the buffers", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    std::vector<GuestBuffer> buffers { { GuestPhysAddr { 0x8000 }, 4 }, { GuestPhysAddr { 0x9000 }, 4 } };
    std::vector<std::byte> out(16);
    CHECK(read_from_chain(memory, buffers, 2, out) == 6);
    CHECK(read_from_chain(memory, buffers, 8, out) == 0);
    CHECK(write_to_chain(memory, buffers, 100, out) == 0);
}

TEST_CASE("virtqueue create refuses bad sizes and ring addresses", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto config = driver.config();
    CHECK(Virtqueue::create(memory, config).has_value());

    for (uint16_t size : { 0, 3, 12 }) {
        auto bad = config;
        bad.size = size;
        CHECK(Virtqueue::create(memory, bad).error().code == Errc::InvalidArgument);
    }
    auto misaligned = config;
    misaligned.descriptor_table = GuestPhysAddr { config.descriptor_table.raw() + 8 };
    CHECK_FALSE(Virtqueue::create(memory, misaligned).has_value());
    misaligned = config;
    misaligned.available_ring = GuestPhysAddr { config.available_ring.raw() + 1 };
    CHECK_FALSE(Virtqueue::create(memory, misaligned).has_value());
    misaligned = config;
    misaligned.used_ring = GuestPhysAddr { config.used_ring.raw() + 2 };
    CHECK_FALSE(Virtqueue::create(memory, misaligned).has_value());

    auto outside = config;
    outside.used_ring = GuestPhysAddr { RAM - 8 }; // 4-aligned, but 6 + 8 * 8 bytes do not fit
    CHECK_FALSE(Virtqueue::create(memory, outside).has_value());
    outside = config;
    outside.descriptor_table = GuestPhysAddr { 0xffff'ffff'ffff'fff0 };
    CHECK_FALSE(Virtqueue::create(memory, outside).has_value());
}

TEST_CASE("virtqueue refuses a descriptor loop", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto buffer = driver.alloc(16);
    SECTION("two descriptors pointing at each other")
    {
        driver.write_descriptor(0, { buffer.raw(), 16, ring::DESC_F_NEXT, 1 });
        driver.write_descriptor(1, { buffer.raw(), 16, ring::DESC_F_NEXT, 0 });
    }
    SECTION("a descriptor pointing at itself")
    {
        driver.write_descriptor(0, { buffer.raw(), 16, ring::DESC_F_NEXT, 0 });
    }
    driver.make_available(0);
    auto queue = make_queue(memory, driver);
    require_corrupt(queue);
}

TEST_CASE("virtqueue refuses descriptor indices past the queue size", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto buffer = driver.alloc(16);
    SECTION("head") { driver.make_available(4); }
    SECTION("next")
    {
        driver.write_descriptor(0, { buffer.raw(), 16, ring::DESC_F_NEXT, 7 });
        driver.make_available(0);
    }
    auto queue = make_queue(memory, driver);
    require_corrupt(queue);
}

TEST_CASE("virtqueue refuses buffers outside guest RAM", "[unit][virtio]")
{
    test::VecGuestMemory memory { { { GuestPhysAddr { 0 }, RAM }, { GuestPhysAddr { 0x100000000 }, RAM } } };
    VirtqueueDriver driver { memory, 4 };
    ring::Descriptor descriptor {};
    SECTION("address beyond RAM") { descriptor = { 0x200000, 16, 0, 0 }; }
    SECTION("buffer crossing the end of RAM") { descriptor = { RAM - 8, 16, 0, 0 }; }
    SECTION("buffer crossing from one RAM range into the hole") { descriptor = { 0x100000000 + RAM - 4, 8, ring::DESC_F_WRITE, 0 }; }
    SECTION("address + length wraps around 2^64") { descriptor = { 0xffff'ffff'ffff'fff0, 0x20, 0, 0 }; }
    driver.write_descriptor(0, descriptor);
    driver.make_available(0);
    auto queue = make_queue(memory, driver);
    require_corrupt(queue);
}

TEST_CASE("virtqueue accepts a buffer in the second RAM range", "[unit][virtio]")
{
    test::VecGuestMemory memory { { { GuestPhysAddr { 0 }, RAM }, { GuestPhysAddr { 0x100000000 }, RAM } } };
    VirtqueueDriver driver { memory, 4 };
    driver.add_chain({ VirtqueueDriver::writable(GuestPhysAddr { 0x100000000 + RAM - 8 }, 8) });
    auto queue = make_queue(memory, driver);
    auto chain = queue.pop();
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    CHECK((*chain)->writable_length() == 8);
}

TEST_CASE("virtqueue skips zero-length buffers", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto buffer = driver.alloc(8);
    // The zero-length descriptor's address is not RAM: it is never dereferenced, so not checked.
    driver.add_chain({ VirtqueueDriver::readable(buffer, 8), VirtqueueDriver::readable(GuestPhysAddr { 0xdead'0000'0000 }, 0),
        VirtqueueDriver::writable(buffer, 0) });
    auto queue = make_queue(memory, driver);
    auto chain = queue.pop();
    REQUIRE(chain.has_value());
    REQUIRE(chain->has_value());
    CHECK((*chain)->readable.size() == 1);
    CHECK((*chain)->writable.empty());
}

TEST_CASE("virtqueue refuses a readable descriptor after a writable one", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto buffer = driver.alloc(16);
    SECTION("both non-empty") { driver.add_chain({ VirtqueueDriver::writable(buffer, 8), VirtqueueDriver::readable(buffer, 8) }); }
    SECTION("a zero-length writable still fixes the order") { driver.add_chain({ VirtqueueDriver::writable(buffer, 0), VirtqueueDriver::readable(buffer, 8) }); }
    auto queue = make_queue(memory, driver);
    require_corrupt(queue);
}

TEST_CASE("virtqueue refuses an available index running ahead of the ring", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto buffer = driver.alloc(16);
    for (int i = 0; i < 4; ++i)
        driver.add_chain({ VirtqueueDriver::readable(buffer, 16) });
    auto queue = make_queue(memory, driver);
    SECTION("exactly size entries are fine")
    {
        for (int i = 0; i < 4; ++i) {
            auto chain = queue.pop();
            REQUIRE(chain.has_value());
            CHECK(chain->has_value());
        }
        CHECK(queue.pop().has_value());
    }
    SECTION("size + 1 entries is a jump")
    {
        driver.set_avail_idx(5);
        require_corrupt(queue);
    }
    SECTION("a decrement looks like a jump of 65535")
    {
        auto chain = queue.pop();
        REQUIRE(chain.has_value());
        driver.set_avail_idx(0);
        require_corrupt(queue);
    }
}

TEST_CASE("virtqueue refuses a chain longer than 2^32 bytes", "[unit][virtio]")
{
    test::VecGuestMemory memory { 4 << 20 };
    uint16_t const size = 8192;
    VirtqueueDriver driver { memory, size };
    auto buffer = driver.alloc(1 << 20);
    // 4097 descriptors of 1 MiB each (the same memory: overlap is legal): 2^32 + 1 MiB.
    for (uint16_t i = 0; i < 4097; ++i)
        driver.write_descriptor(i, { buffer.raw(), 1 << 20, static_cast<uint16_t>(i < 4096 ? ring::DESC_F_NEXT : 0), static_cast<uint16_t>(i + 1) });
    driver.make_available(0);
    auto queue = make_queue(memory, driver);
    require_corrupt(queue);
}

TEST_CASE("virtqueue push_used refuses a head that is not a descriptor", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 4 };
    auto queue = make_queue(memory, driver);
    CHECK(queue.push_used(4, 0).error().code == Errc::InvalidArgument);
    CHECK(queue.push_used(3, 0).has_value());
    CHECK(driver.used_idx() == 1);
}

TEST_CASE("virtqueue available and used indices wrap at 65536", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 2 };
    auto buffer = driver.alloc(4);
    auto queue = make_queue(memory, driver);
    for (uint32_t i = 0; i < 65536 + 3; ++i) {
        uint16_t head = driver.add_chain({ VirtqueueDriver::writable(buffer, 4) });
        auto chain = queue.pop();
        REQUIRE(chain.has_value());
        REQUIRE(chain->has_value());
        REQUIRE((*chain)->head == head);
        REQUIRE(queue.push_used(head, 4).has_value());
        auto used = driver.next_used();
        REQUIRE(used.has_value());
        REQUIRE(used->id == head);
    }
    CHECK(driver.used_idx() == 3);
    CHECK(queue.next_available() == 3);
}

TEST_CASE("a disabled virtqueue has nothing and accepts nothing", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    auto queue = Virtqueue::disabled(memory);
    CHECK_FALSE(queue.enabled());
    auto chain = queue.pop();
    REQUIRE(chain.has_value());
    CHECK_FALSE(chain->has_value());
    CHECK(queue.push_used(0, 0).error().code == Errc::InvalidArgument);
    CHECK_FALSE(queue.needs_notification());
}

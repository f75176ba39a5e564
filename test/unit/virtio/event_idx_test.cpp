// SPDX-License-Identifier: Apache-2.0
// Notification suppression (virtio 1.2 sections 2.7.7 and 2.7.10): VRING_AVAIL_F_NO_INTERRUPT,
// and with VIRTIO_F_EVENT_IDX the used_event / avail_event indices, across the 16-bit wrap.

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

Virtqueue make_queue(test::VecGuestMemory& memory, VirtqueueDriver& driver, bool event_idx)
{
    auto queue = Virtqueue::create(memory, driver.config(event_idx, false));
    REQUIRE(queue.has_value());
    return std::move(*queue);
}

void push(Virtqueue& queue, uint32_t count = 1)
{
    for (uint32_t i = 0; i < count; ++i)
        REQUIRE(queue.push_used(0, 0).has_value());
}

} // namespace

TEST_CASE("vring_need_event arithmetic", "[unit][virtio]")
{
    // The driver asked to be told once the entry at used_event is written.
    CHECK(ring::need_event(0, 1, 0));        // entry 0 written: idx 0 -> 1
    CHECK_FALSE(ring::need_event(5, 5, 0));  // entries 0..4 written: not yet
    CHECK(ring::need_event(5, 6, 0));        // entry 5 written in a batch
    CHECK(ring::need_event(5, 9, 3));
    CHECK_FALSE(ring::need_event(5, 9, 6));  // event already passed before this batch
    CHECK_FALSE(ring::need_event(0, 7, 7));  // nothing new
    // Wrap-around at 65535.
    CHECK(ring::need_event(65535, 0, 65535));
    CHECK(ring::need_event(65534, 2, 65530));
    CHECK_FALSE(ring::need_event(3, 2, 65530));
    CHECK(ring::need_event(0, 1, 65535));
}

TEST_CASE("virtqueue without EVENT_IDX follows VRING_AVAIL_F_NO_INTERRUPT", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto queue = make_queue(memory, driver, false);
    push(queue);
    CHECK(queue.needs_notification());
    driver.set_avail_flags(ring::AVAIL_F_NO_INTERRUPT);
    push(queue);
    CHECK_FALSE(queue.needs_notification());
    driver.set_avail_flags(0);
    push(queue);
    CHECK(queue.needs_notification());
}

TEST_CASE("virtqueue with EVENT_IDX notifies when used_event is passed", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto queue = make_queue(memory, driver, true);
    // The flag is ignored with EVENT_IDX (section 2.7.10).
    driver.set_avail_flags(ring::AVAIL_F_NO_INTERRUPT);
    driver.set_used_event(0);
    push(queue);
    CHECK(queue.needs_notification()); // entry 0 was used_event
    push(queue);
    CHECK_FALSE(queue.needs_notification()); // entry 1: used_event 0 already passed
    driver.set_used_event(4);
    push(queue, 2); // entries 2, 3
    CHECK_FALSE(queue.needs_notification());
    push(queue, 2); // entries 4, 5
    CHECK(queue.needs_notification());
    CHECK_FALSE(queue.needs_notification()); // nothing new since
}

TEST_CASE("virtqueue with EVENT_IDX notifies across the used index wrap", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto queue = make_queue(memory, driver, true);
    driver.set_used_event(0);
    push(queue, 65534);
    CHECK(queue.next_used() == 65534);
    (void)queue.needs_notification();
    driver.set_used_event(65535);
    push(queue); // entry 65534
    CHECK_FALSE(queue.needs_notification());
    push(queue); // entry 65535: used idx wraps to 0
    CHECK(driver.used_idx() == 0);
    CHECK(queue.needs_notification());
    driver.set_used_event(1);
    push(queue); // entry 0 (of the next lap)
    CHECK_FALSE(queue.needs_notification());
    push(queue); // entry 1
    CHECK(queue.needs_notification());
}

TEST_CASE("virtqueue with EVENT_IDX publishes avail_event", "[unit][virtio]")
{
    test::VecGuestMemory memory { RAM };
    VirtqueueDriver driver { memory, 8 };
    auto buffer = driver.alloc(8);
    auto queue = make_queue(memory, driver, true);
    auto empty = queue.pop();
    REQUIRE(empty.has_value());
    CHECK_FALSE(empty->has_value());
    CHECK(driver.avail_event() == 0); // notify me when entry 0 is made available

    driver.add_chain({ VirtqueueDriver::readable(buffer, 8) });
    driver.add_chain({ VirtqueueDriver::readable(buffer, 8) });
    REQUIRE(queue.pop().has_value());
    CHECK(driver.avail_event() == 1);
    REQUIRE(queue.pop().has_value());
    CHECK(driver.avail_event() == 2);
    // Without EVENT_IDX the field is not the device's to write.
    test::VecGuestMemory plain_memory { RAM };
    VirtqueueDriver plain { plain_memory, 8 };
    auto plain_queue = make_queue(plain_memory, plain, false);
    plain.add_chain({ VirtqueueDriver::readable(plain.alloc(8), 8) });
    REQUIRE(plain_queue.pop().has_value());
    CHECK(plain.avail_event() == 0);
    CHECK(plain.used_flags() == 0);
}

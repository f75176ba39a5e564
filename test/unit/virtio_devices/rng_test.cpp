// SPDX-License-Identifier: Apache-2.0
// virtio-rng: writable buffers come back filled (and only they), several chains at once,
// the cap per request, the interrupt, and a corrupt ring making the device need a reset.
#include "device_harness.h"
#include "vmm/virtio/rng/virtio_rng.h"

#include <algorithm>
#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm;
using namespace monarch::vmm::virtio;

namespace {

// 256 random bytes are all zero with probability 2^-2048.
bool all_zero(std::vector<std::byte> const& bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte { 0 }; });
}

} // namespace

TEST_CASE("virtio-rng fills every writable buffer and reports the length", "[unit][virtio-rng]")
{
    boost::asio::io_context io;
    auto device = VirtioRng::create(io, machine::RngConfig {});
    REQUIRE(device);
    DeviceHarness harness { 1 };
    harness.activate(**device, (*device)->device_features());
    auto& driver = harness.drivers.front();

    auto first = driver.alloc(256);
    auto second_a = driver.alloc(100);
    auto second_b = driver.alloc(156);
    auto untouched = driver.alloc(64);
    auto head1 = driver.add_chain({ VirtqueueDriver::writable(first, 256) });
    auto head2 = driver.add_chain({ VirtqueueDriver::writable(second_a, 100), VirtqueueDriver::writable(second_b, 156) });
    (*device)->queue_notify(0);

    auto used1 = driver.next_used();
    auto used2 = driver.next_used();
    REQUIRE(used1);
    REQUIRE(used2);
    CHECK(used1->id == head1);
    CHECK(used1->length == 256);
    CHECK(used2->id == head2);
    CHECK(used2->length == 256);
    CHECK_FALSE(driver.next_used());
    auto bytes1 = driver.read_bytes(first, 256);
    CHECK_FALSE(all_zero(bytes1));
    auto bytes2 = driver.read_bytes(second_a, 100);
    auto bytes2b = driver.read_bytes(second_b, 156);
    bytes2.insert(bytes2.end(), bytes2b.begin(), bytes2b.end());
    CHECK_FALSE(all_zero(bytes2));
    CHECK(bytes1 != bytes2);
    CHECK(all_zero(driver.read_bytes(untouched, 64)));
    CHECK(harness.interrupt.queue_signals == std::vector<uint16_t> { 0 });
    CHECK((*device)->counters().bytes == 512);
}

TEST_CASE("virtio-rng caps one request and ignores readable buffers", "[unit][virtio-rng]")
{
    boost::asio::io_context io;
    VirtioRng device { io };
    DeviceHarness harness { 1 };
    harness.activate(device, device.device_features());
    auto& driver = harness.drivers.front();
    uint32_t const big = VirtioRng::MAX_BYTES_PER_REQUEST + 4096;
    auto readable = driver.put_bytes(std::vector<std::byte>(32, std::byte { 0x5a }));
    auto buffer = driver.alloc(big);
    driver.add_chain({ VirtqueueDriver::readable(readable, 32), VirtqueueDriver::writable(buffer, big) });
    device.queue_notify(0);
    auto used = driver.next_used();
    REQUIRE(used);
    CHECK(used->length == VirtioRng::MAX_BYTES_PER_REQUEST);
    CHECK(all_zero(driver.read_bytes(GuestPhysAddr { buffer.raw() + VirtioRng::MAX_BYTES_PER_REQUEST }, 4096)));
    CHECK(driver.read_bytes(readable, 32) == std::vector<std::byte>(32, std::byte { 0x5a }));
}

TEST_CASE("virtio-rng: a corrupt chain makes the device need a reset, and bad sources are refused", "[unit][virtio-rng]")
{
    boost::asio::io_context io;
    VirtioRng device { io };
    DeviceHarness harness { 1 };
    harness.activate(device, device.device_features());
    auto& driver = harness.drivers.front();
    // A descriptor pointing far outside guest RAM.
    driver.write_descriptor(0, { 0xfff00000000ULL, 64, vmm::virtio::ring::DESC_F_WRITE, 0 });
    driver.make_available(0);
    device.queue_notify(0);
    CHECK(device.needs_reset());
    CHECK_FALSE(driver.next_used());
    device.reset();
    CHECK_FALSE(device.needs_reset());

    machine::RngConfig hwrng;
    hwrng.source = "/dev/hwrng";
    auto refused = VirtioRng::create(io, hwrng);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == Errc::InvalidArgument);
}

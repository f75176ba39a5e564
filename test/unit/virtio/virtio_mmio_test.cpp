// SPDX-License-Identifier: Apache-2.0
// virtio-mmio v2 register protocol (virtio 1.2 section 4.2.3) driven as a guest driver would,
// against a FakeDevice and a VirtqueueDriver in VecGuestMemory.

#include "vmm/virtio/transport/virtio_mmio.h"

#include "fake_device.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace monarch;
using namespace monarch::vmm::virtio;
using test::FakeDevice;
using test::VirtqueueDriver;

namespace {

struct Bench {
    test::VecGuestMemory memory { 1 << 20 };
    FakeDevice device;
    test::FakeIrq irq;
    boost::asio::io_context loop;
    VirtioMmio mmio { device, memory, loop, irq };

    uint32_t read32(uint64_t offset)
    {
        std::array<std::byte, 4> data {};
        mmio.read(offset, data);
        uint32_t value = 0;
        std::memcpy(&value, data.data(), 4);
        return value;
    }
    void write32(uint64_t offset, uint32_t value)
    {
        std::array<std::byte, 4> data {};
        std::memcpy(data.data(), &value, 4);
        mmio.write(offset, data);
    }
    void write64(uint64_t low_offset, uint64_t value)
    {
        write32(low_offset, static_cast<uint32_t>(value));
        write32(low_offset + 4, static_cast<uint32_t>(value >> 32));
    }
    uint64_t device_features()
    {
        write32(mmio_reg::DEVICE_FEATURES_SEL, 0);
        uint64_t low = read32(mmio_reg::DEVICE_FEATURES);
        write32(mmio_reg::DEVICE_FEATURES_SEL, 1);
        return low | (uint64_t { read32(mmio_reg::DEVICE_FEATURES) } << 32);
    }
    void set_driver_features(uint64_t features)
    {
        write32(mmio_reg::DRIVER_FEATURES_SEL, 0);
        write32(mmio_reg::DRIVER_FEATURES, static_cast<uint32_t>(features));
        write32(mmio_reg::DRIVER_FEATURES_SEL, 1);
        write32(mmio_reg::DRIVER_FEATURES, static_cast<uint32_t>(features >> 32));
    }
    void add_status(uint8_t bits) { write32(mmio_reg::STATUS, read32(mmio_reg::STATUS) | bits); }
    // Section 3.1.1 steps 1-6; returns whether FEATURES_OK stuck.
    bool negotiate(uint64_t features)
    {
        write32(mmio_reg::STATUS, 0);
        add_status(status::ACKNOWLEDGE);
        add_status(status::DRIVER);
        set_driver_features(features);
        add_status(status::FEATURES_OK);
        return (read32(mmio_reg::STATUS) & status::FEATURES_OK) != 0;
    }
    void setup_queue(uint16_t index, VirtqueueDriver const& driver)
    {
        write32(mmio_reg::QUEUE_SEL, index);
        write32(mmio_reg::QUEUE_NUM, driver.size());
        write64(mmio_reg::QUEUE_DESC_LOW, driver.descriptor_table().raw());
        write64(mmio_reg::QUEUE_DRIVER_LOW, driver.available_ring().raw());
        write64(mmio_reg::QUEUE_DEVICE_LOW, driver.used_ring().raw());
        write32(mmio_reg::QUEUE_READY, 1);
    }
};

uint64_t const FEATURES = F_VERSION_1 | F_EVENT_IDX | 1;

} // namespace

TEST_CASE("virtio-mmio identifies itself", "[unit][virtio]")
{
    Bench bench;
    CHECK(bench.read32(mmio_reg::MAGIC_VALUE) == 0x74726976);
    CHECK(bench.read32(mmio_reg::VERSION) == 2);
    CHECK(bench.read32(mmio_reg::DEVICE_ID) == 2);
    CHECK(bench.device_features() == bench.device.features);
    bench.write32(mmio_reg::DEVICE_FEATURES_SEL, 2);
    CHECK(bench.read32(mmio_reg::DEVICE_FEATURES) == 0);
    bench.write32(mmio_reg::QUEUE_SEL, 1);
    CHECK(bench.read32(mmio_reg::QUEUE_NUM_MAX) == 8);
    bench.write32(mmio_reg::QUEUE_SEL, 2);
    CHECK(bench.read32(mmio_reg::QUEUE_NUM_MAX) == 0);
    // Registers are 32-bit only: a 2-byte read of MagicValue reads nothing.
    std::array<std::byte, 2> narrow { std::byte { 0xaa }, std::byte { 0xaa } };
    bench.mmio.read(mmio_reg::MAGIC_VALUE, narrow);
    CHECK(narrow[0] == std::byte { 0 });
}

TEST_CASE("virtio-mmio full driver initialization, a request and its interrupt", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    CHECK(bench.read32(mmio_reg::QUEUE_READY) == 1);
    bench.add_status(status::DRIVER_OK);
    CHECK(bench.device.activations == 0); // posted, not run on the vCPU thread
    test::run_loop(bench.loop);
    REQUIRE(bench.device.activations == 1);
    CHECK(bench.device.acked_features == FEATURES);
    CHECK(bench.device.activated_queue_count == 2);
    CHECK(bench.device.queues()[0].enabled());
    CHECK_FALSE(bench.device.queues()[1].enabled()); // the driver did not set it up
    CHECK(bench.device.queues()[0].config().event_idx);

    auto reply = driver.alloc(64);
    uint16_t head = driver.add_chain({ VirtqueueDriver::writable(reply, 64) });
    bench.write32(mmio_reg::QUEUE_NOTIFY, 0);
    CHECK(bench.device.notifications.empty());
    test::run_loop(bench.loop);
    REQUIRE(bench.device.notifications == std::vector<uint16_t> { 0 });
    auto used = driver.next_used();
    REQUIRE(used.has_value());
    CHECK(used->id == head);
    CHECK(used->length == 64);
    CHECK(bench.read32(mmio_reg::INTERRUPT_STATUS) == mmio_reg::INT_VRING);
    CHECK(bench.irq.level);
    bench.write32(mmio_reg::INTERRUPT_ACK, mmio_reg::INT_VRING);
    CHECK(bench.read32(mmio_reg::INTERRUPT_STATUS) == 0);
    CHECK_FALSE(bench.irq.level);

    // Every device call ran on the thread that ran the loop (here the test's own thread).
    for (auto id : bench.device.call_threads)
        CHECK(id == std::this_thread::get_id());
}

TEST_CASE("virtio-mmio feature negotiation failures leave FEATURES_OK clear", "[unit][virtio]")
{
    Bench bench;
    SECTION("a feature the device did not offer") { CHECK_FALSE(bench.negotiate(FEATURES | (1ULL << 40))); }
    SECTION("no VERSION_1") { CHECK_FALSE(bench.negotiate(F_EVENT_IDX)); }
    CHECK(bench.mmio.counters().bad_feature_negotiations == 1);
    // DRIVER_OK without FEATURES_OK: the device does not start and asks for a reset.
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    CHECK(bench.device.activations == 0);
    CHECK((bench.read32(mmio_reg::STATUS) & status::DEVICE_NEEDS_RESET) != 0);
}

TEST_CASE("virtio-mmio refuses features written after FEATURES_OK", "[unit][virtio]")
{
    Bench bench;
    REQUIRE(bench.negotiate(FEATURES));
    bench.write32(mmio_reg::DRIVER_FEATURES_SEL, 0);
    bench.write32(mmio_reg::DRIVER_FEATURES, 0xffff'ffff);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    CHECK(bench.device.acked_features == FEATURES);
}

TEST_CASE("virtio-mmio refuses bad queue sizes", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    uint32_t size = 0;
    SECTION("larger than QueueNumMax") { size = 32; }
    SECTION("not a power of two") { size = 12; }
    SECTION("zero") { size = 0; }
    SECTION("past 16 bits") { size = 0x10010; }
    bench.write32(mmio_reg::QUEUE_SEL, 0);
    bench.write32(mmio_reg::QUEUE_NUM, size);
    bench.write64(mmio_reg::QUEUE_DESC_LOW, driver.descriptor_table().raw());
    bench.write64(mmio_reg::QUEUE_DRIVER_LOW, driver.available_ring().raw());
    bench.write64(mmio_reg::QUEUE_DEVICE_LOW, driver.used_ring().raw());
    bench.write32(mmio_reg::QUEUE_READY, 1);
    CHECK(bench.read32(mmio_reg::QUEUE_READY) == 0);
    CHECK((bench.read32(mmio_reg::STATUS) & status::DEVICE_NEEDS_RESET) != 0);
}

TEST_CASE("virtio-mmio refuses rings outside guest RAM at DRIVER_OK", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.write32(mmio_reg::QUEUE_SEL, 1);
    bench.write32(mmio_reg::QUEUE_NUM, 8);
    bench.write64(mmio_reg::QUEUE_DESC_LOW, 0x1'0000'0000);
    bench.write32(mmio_reg::QUEUE_READY, 1);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    CHECK(bench.device.activations == 0);
    CHECK((bench.read32(mmio_reg::STATUS) & status::DEVICE_NEEDS_RESET) != 0);
    CHECK((bench.read32(mmio_reg::INTERRUPT_STATUS) & mmio_reg::INT_CONFIG) != 0);
}

TEST_CASE("virtio-mmio queue registers are frozen once the queue is ready", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.write64(mmio_reg::QUEUE_DESC_LOW, 0x1'0000'0000);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    REQUIRE(bench.device.activations == 1);
    CHECK(bench.device.queues()[0].config().descriptor_table == driver.descriptor_table());
    // Linux's vm_del_vq: QueueReady = 0 reads back 0.
    bench.write32(mmio_reg::QUEUE_READY, 0);
    CHECK(bench.read32(mmio_reg::QUEUE_READY) == 0);
}

TEST_CASE("virtio-mmio reset mid-flight stops the device and allows a new start", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    REQUIRE(bench.device.active());

    driver.add_chain({ VirtqueueDriver::writable(driver.alloc(8), 8) });
    bench.write32(mmio_reg::QUEUE_NOTIFY, 0); // posted, then the reset: they run in that order
    bench.write32(mmio_reg::STATUS, 0);
    CHECK(bench.read32(mmio_reg::STATUS) == 0);
    bench.write32(mmio_reg::QUEUE_SEL, 0);
    CHECK(bench.read32(mmio_reg::QUEUE_READY) == 0);
    test::run_loop(bench.loop);
    CHECK(bench.device.notifications.size() == 1);
    CHECK(bench.device.resets == 1);
    CHECK_FALSE(bench.device.active());

    // Kicks after the reset reach nobody.
    bench.write32(mmio_reg::QUEUE_NOTIFY, 0);
    test::run_loop(bench.loop);
    CHECK(bench.device.notifications.size() == 1);

    VirtqueueDriver again { bench.memory, 8, GuestPhysAddr { 0x40000 } };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, again);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    CHECK(bench.device.activations == 2);
    CHECK(bench.device.queues()[0].config().size == 8);
}

TEST_CASE("virtio-mmio reports DEVICE_NEEDS_RESET with a configuration interrupt", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    SECTION("the device broke on a malformed chain")
    {
        bench.add_status(status::DRIVER_OK);
        test::run_loop(bench.loop);
        driver.make_available(99); // head past the queue size
        bench.write32(mmio_reg::QUEUE_NOTIFY, 0);
        test::run_loop(bench.loop);
        // Once broken, further kicks are not passed on.
        bench.write32(mmio_reg::QUEUE_NOTIFY, 0);
        test::run_loop(bench.loop);
        CHECK(bench.device.notifications.size() == 1);
    }
    SECTION("the device broke during asynchronous work and signalled")
    {
        bench.add_status(status::DRIVER_OK);
        test::run_loop(bench.loop);
        bench.device.fail_asynchronously(0);
    }
    SECTION("the device broke silently; the next kick reports it and is not passed on")
    {
        bench.add_status(status::DRIVER_OK);
        test::run_loop(bench.loop);
        bench.device.broken = true;
        bench.write32(mmio_reg::QUEUE_NOTIFY, 0);
        test::run_loop(bench.loop);
        CHECK(bench.device.notifications.empty());
    }
    SECTION("the back end did not start")
    {
        bench.device.fail_activate = true;
        bench.add_status(status::DRIVER_OK);
        test::run_loop(bench.loop);
    }
    CHECK((bench.read32(mmio_reg::STATUS) & status::DEVICE_NEEDS_RESET) != 0);
    CHECK((bench.read32(mmio_reg::INTERRUPT_STATUS) & mmio_reg::INT_CONFIG) != 0);
    CHECK(bench.irq.level);
    CHECK(bench.mmio.counters().needs_reset_reports == 1);
    bench.write32(mmio_reg::STATUS, 0);
    CHECK(bench.read32(mmio_reg::STATUS) == 0);
    CHECK_FALSE(bench.irq.level);
}

TEST_CASE("virtio-mmio device configuration and its generation", "[unit][virtio]")
{
    Bench bench;
    bench.device.config = { std::byte { 1 }, std::byte { 2 }, std::byte { 3 }, std::byte { 4 } };
    VirtioMmio mmio { bench.device, bench.memory, bench.loop, bench.irq };
    std::array<std::byte, 2> half {};
    mmio.read(mmio_reg::CONFIG + 2, half);
    CHECK(half[0] == std::byte { 3 });
    CHECK(half[1] == std::byte { 4 });
    std::array<std::byte, 4> beyond { std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff }, std::byte { 0xff } };
    mmio.read(mmio_reg::CONFIG + 0x200, beyond);
    CHECK(beyond[0] == std::byte { 0 });

    std::array<std::byte, 1> value { std::byte { 9 } };
    mmio.write(mmio_reg::CONFIG + 5, value);
    CHECK(bench.device.config_writes.empty());
    mmio.read(mmio_reg::CONFIG + 5, half);
    CHECK(half[0] == std::byte { 9 }); // visible at once
    test::run_loop(bench.loop);
    REQUIRE(bench.device.config_writes.size() == 1);
    CHECK(bench.device.config_writes[0].first == 5);

    // The vCPU side reads the cache: a device change is seen only once the loop refreshes it.
    bench.device.config[0] = std::byte { 0x42 };
    mmio.read(mmio_reg::CONFIG, half);
    CHECK(half[0] == std::byte { 1 });
}

TEST_CASE("virtio-mmio signals a device configuration change", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    uint32_t const before = bench.read32(mmio_reg::CONFIG_GENERATION);
    bench.device.change_config(1, std::byte { 0x77 });
    CHECK(bench.read32(mmio_reg::CONFIG_GENERATION) != before);
    CHECK((bench.read32(mmio_reg::CONFIG) >> 8 & 0xff) == 0x77);
    CHECK(bench.read32(mmio_reg::INTERRUPT_STATUS) == mmio_reg::INT_CONFIG);
    CHECK(bench.irq.level);
}

TEST_CASE("virtio-mmio notify addresses match QueueNotify", "[unit][virtio]")
{
    Bench bench;
    auto addresses = bench.mmio.notify_addresses();
    REQUIRE(addresses.size() == 2);
    CHECK(addresses[1].queue_index == 1);
    CHECK(addresses[1].offset == mmio_reg::QUEUE_NOTIFY);
    CHECK(addresses[1].length == 4);
    CHECK(addresses[1].datamatch == 1);
}

TEST_CASE("virtio-mmio stop_device resets an active device once", "[unit][virtio]")
{
    Bench bench;
    VirtqueueDriver driver { bench.memory, 16 };
    bench.mmio.stop_device();
    CHECK(bench.device.resets == 0); // never activated
    REQUIRE(bench.negotiate(FEATURES));
    bench.setup_queue(0, driver);
    bench.add_status(status::DRIVER_OK);
    test::run_loop(bench.loop);
    bench.mmio.stop_device();
    CHECK(bench.device.resets == 1);
    CHECK_FALSE(bench.device.active());
    bench.mmio.stop_device();
    CHECK(bench.device.resets == 1);
}

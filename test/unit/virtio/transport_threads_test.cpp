// SPDX-License-Identifier: Apache-2.0
// A transport with its device on a real event-loop thread while the test thread plays the
// vCPU: register writes and kicks race with the device's queue processing and interrupts.

#include "vmm/virtio/transport/virtio_mmio.h"

#include "fake_device.h"
#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <cstring>
#include <future>
#include <thread>

using namespace monarch;
using namespace monarch::vmm::virtio;
using test::VirtqueueDriver;

namespace {

void write32(VirtioMmio& mmio, uint64_t offset, uint32_t value)
{
    std::array<std::byte, 4> data {};
    std::memcpy(data.data(), &value, 4);
    mmio.write(offset, data);
}

uint32_t read32(VirtioMmio& mmio, uint64_t offset)
{
    std::array<std::byte, 4> data {};
    mmio.read(offset, data);
    uint32_t value = 0;
    std::memcpy(&value, data.data(), 4);
    return value;
}

// Waits until everything posted to `loop` so far has run.
void drain(boost::asio::io_context& loop)
{
    std::promise<void> done;
    boost::asio::post(loop, [&] { done.set_value(); });
    done.get_future().wait();
}

} // namespace

TEST_CASE("virtio-mmio with the device on its own loop thread", "[unit][virtio]")
{
    test::VecGuestMemory memory { 1 << 20 };
    test::FakeDevice device;
    device.features = F_VERSION_1; // no EVENT_IDX: an interrupt for every batch
    test::FakeIrq irq;
    boost::asio::io_context loop;
    auto guard = boost::asio::make_work_guard(loop);
    std::thread loop_thread { [&] { loop.run(); } };

    {
        VirtioMmio mmio { device, memory, loop, irq };
        VirtqueueDriver driver { memory, 16 };
        write32(mmio, mmio_reg::STATUS, status::ACKNOWLEDGE | status::DRIVER);
        write32(mmio, mmio_reg::DRIVER_FEATURES_SEL, 1);
        write32(mmio, mmio_reg::DRIVER_FEATURES, 1); // VERSION_1
        write32(mmio, mmio_reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK);
        write32(mmio, mmio_reg::QUEUE_SEL, 0);
        write32(mmio, mmio_reg::QUEUE_NUM, 16);
        write32(mmio, mmio_reg::QUEUE_DESC_LOW, static_cast<uint32_t>(driver.descriptor_table().raw()));
        write32(mmio, mmio_reg::QUEUE_DRIVER_LOW, static_cast<uint32_t>(driver.available_ring().raw()));
        write32(mmio, mmio_reg::QUEUE_DEVICE_LOW, static_cast<uint32_t>(driver.used_ring().raw()));
        write32(mmio, mmio_reg::QUEUE_READY, 1);
        write32(mmio, mmio_reg::STATUS, status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK);

        auto buffer = driver.alloc(16);
        uint32_t completed = 0;
        uint32_t const rounds = 2000;
        for (uint32_t sent = 0; sent < rounds;) {
            // Keep up to 8 requests in flight; reap what the device finished meanwhile.
            while (sent < rounds && sent - completed < 8) {
                driver.add_chain({ VirtqueueDriver::writable(buffer, 16) });
                write32(mmio, mmio_reg::QUEUE_NOTIFY, 0);
                ++sent;
            }
            uint32_t const status_bits = read32(mmio, mmio_reg::INTERRUPT_STATUS);
            write32(mmio, mmio_reg::INTERRUPT_ACK, status_bits);
            while (auto used = driver.next_used())
                ++completed;
            std::this_thread::yield();
        }
        drain(loop);
        while (driver.next_used())
            ++completed;
        CHECK(completed == rounds);
        CHECK((read32(mmio, mmio_reg::STATUS) & status::DEVICE_NEEDS_RESET) == 0);
        write32(mmio, mmio_reg::STATUS, 0);
        drain(loop); // nothing of this transport may run after it is gone
    }
    auto const loop_id = loop_thread.get_id();
    guard.reset();
    loop_thread.join();
    CHECK(device.resets == 1);
    for (auto id : device.call_threads)
        CHECK(id == loop_id);
}

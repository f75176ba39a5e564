// SPDX-License-Identifier: Apache-2.0
// DeviceHarness: guest RAM, one VirtqueueDriver per queue and a recording interrupt, enough
// to activate a virtio device model and play the driver's part in unit tests.
#pragma once

#include "support/vec_guest_memory.h"
#include "support/virtio_test_driver.h"
#include "vmm/virtio/virtio_device.h"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace monarch::test {

class RecordingInterrupt final : public vmm::virtio::VirtioInterrupt {
public:
    void signal_queue(uint16_t queue_index) override { queue_signals.push_back(queue_index); }
    void signal_config() override { ++config_signals; }
    std::vector<uint16_t> queue_signals;
    int config_signals { 0 };
};

class DeviceHarness {
public:
    static constexpr uint64_t MEMORY_BYTES = 16ULL << 20;
    static constexpr uint64_t QUEUE_SPACING = 4ULL << 20; // each queue's rings and buffers

    explicit DeviceHarness(size_t queue_count, uint16_t queue_size = 64)
    {
        REQUIRE(queue_count * QUEUE_SPACING <= MEMORY_BYTES);
        for (size_t i = 0; i < queue_count; ++i)
            drivers.emplace_back(memory, queue_size, GuestPhysAddr { 0x1000 + i * QUEUE_SPACING });
    }

    // Builds the queues from the drivers' layout and activates the device with `features`.
    void activate(vmm::virtio::VirtioDevice& device, uint64_t features)
    {
        queues.clear();
        bool const event_idx = (features & vmm::virtio::F_EVENT_IDX) != 0;
        bool const indirect = (features & vmm::virtio::F_INDIRECT_DESC) != 0;
        for (auto& driver : drivers) {
            auto queue = vmm::virtio::Virtqueue::create(memory, driver.config(event_idx, indirect));
            REQUIRE(queue);
            queues.push_back(std::move(*queue));
        }
        auto activated = device.activate({ features, memory, queues, interrupt });
        REQUIRE(activated);
    }

    std::vector<std::byte> read(GuestPhysAddr address, uint64_t length) { return drivers.front().read_bytes(address, length); }

    VecGuestMemory memory { MEMORY_BYTES };
    std::deque<VirtqueueDriver> drivers; // deque: drivers stay where they are
    std::vector<vmm::virtio::Virtqueue> queues;
    RecordingInterrupt interrupt;
};

// Runs the event loop until `done()` or the deadline (then fails the test).
inline void run_until(boost::asio::io_context& io, std::function<bool()> const& done,
    std::chrono::milliseconds deadline = std::chrono::milliseconds(5000))
{
    auto const end = std::chrono::steady_clock::now() + deadline;
    while (!done()) {
        if (std::chrono::steady_clock::now() > end)
            FAIL("event loop: condition not reached in time");
        io.restart();
        io.run_for(std::chrono::milliseconds(20));
    }
}

inline std::vector<std::byte> bytes_of(std::string_view text)
{
    auto view = std::as_bytes(std::span { text.data(), text.size() });
    return { view.begin(), view.end() };
}

} // namespace monarch::test

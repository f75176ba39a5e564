// SPDX-License-Identifier: Apache-2.0
// InputFeeder with a real Uart8250 as the sink: nothing is lost while the guest reads slowly,
// and stop() ends a feed the guest never drains.
#include "vmm/chardev/input_feeder.h"

#include "vmm/devices/uart_8250.h"

#include <catch2/catch.hpp>
#include <array>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

using namespace monarch::vmm;
using namespace std::chrono_literals;

namespace {

class NullIrq final : public IrqLine {
public:
    void set_level(bool) override {}
};

uint8_t guest_read(Uart8250& uart, uint64_t offset)
{
    std::array<std::byte, 1> data {};
    uart.read(offset, data);
    return std::to_integer<uint8_t>(data[0]);
}

void guest_write(Uart8250& uart, uint64_t offset, uint8_t value)
{
    std::array<std::byte, 1> data { std::byte { value } };
    uart.write(offset, data);
}

} // namespace

TEST_CASE("input feeder delivers everything to a UART the guest drains slowly", "[unit][chardev]")
{
    NullIrq irq;
    Uart8250 uart { irq, {} };
    guest_write(uart, uart_reg::FCR, uart_bits::FCR_ENABLE);
    auto feeder = std::make_shared<InputFeeder>([&](std::span<std::byte const> bytes) { return uart.enqueue_rx(bytes); });
    uart.set_rx_room_callback([feeder] { feeder->notify_room(); });

    std::vector<std::byte> input;
    for (int i = 0; i < 200; ++i)
        input.push_back(std::byte(i));
    std::thread host([&] { feeder->feed(input); });

    std::vector<uint8_t> received;
    auto const deadline = std::chrono::steady_clock::now() + 10s;
    while (received.size() < input.size() && std::chrono::steady_clock::now() < deadline) {
        if (guest_read(uart, uart_reg::LSR) & uart_bits::LSR_DR)
            received.push_back(guest_read(uart, uart_reg::RBR));
        else
            std::this_thread::sleep_for(100us);
    }
    host.join();
    REQUIRE(received.size() == input.size());
    for (size_t i = 0; i < received.size(); ++i)
        REQUIRE(received[i] == static_cast<uint8_t>(i));
}

TEST_CASE("input feeder stop() ends a feed nobody drains", "[unit][chardev]")
{
    NullIrq irq;
    Uart8250 uart { irq, {} };
    auto feeder = std::make_shared<InputFeeder>([&](std::span<std::byte const> bytes) { return uart.enqueue_rx(bytes); });
    std::array<std::byte, 64> input {};
    std::thread host([&] { feeder->feed(input); }); // the 1-byte 16450 buffer fills at once
    std::this_thread::sleep_for(100ms);
    auto const start = std::chrono::steady_clock::now();
    feeder->stop();
    host.join();
    CHECK(std::chrono::steady_clock::now() - start < 1s);
    feeder->feed(input); // after stop: returns at once
}

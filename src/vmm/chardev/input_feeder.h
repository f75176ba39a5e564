// SPDX-License-Identifier: Apache-2.0
// InputFeeder: back-pressure between a CharBackend's input thread and a sink that takes only
// what fits (a UART's RX FIFO). feed() blocks the input thread, not a vCPU, until the guest
// has drained enough, so typed or piped input is never dropped.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <span>

namespace monarch::vmm {

// Wiring, for a Uart8250 `uart` and a CharBackend `backend`:
//   auto feeder = std::make_shared<InputFeeder>([&](auto bytes) { return uart.enqueue_rx(bytes); });
//   uart.set_rx_room_callback([feeder] { feeder->notify_room(); });
//   backend->start_input([feeder](auto bytes) { feeder->feed(bytes); });
//   ... at shutdown: feeder->stop(); backend->stop();
class InputFeeder {
public:
    // sink returns how many of the bytes it took.
    explicit InputFeeder(std::function<size_t(std::span<std::byte const>)> sink);

    // Hands all of bytes to the sink, waiting for notify_room() between partial takes; returns
    // early (dropping the rest) once stop() was called. For the input thread only.
    void feed(std::span<std::byte const> bytes);
    // The sink has room again (called from a vCPU thread; does not block on the feeder).
    void notify_room();
    // Wakes and ends any feed(); later feeds drop their bytes. Idempotent.
    void stop();

private:
    // Retry interval should a room notification ever be missed (a sink without one, say).
    static constexpr auto RETRY_INTERVAL = std::chrono::milliseconds(50);

    std::function<size_t(std::span<std::byte const>)> m_sink;
    std::mutex m_mutex; // the two flags
    std::condition_variable m_changed;
    bool m_room { false };
    bool m_stopped { false };
};

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// SerialConsole: the adapter between a CharBackend (host fds, its own input thread) and the
// Uart8250 model (STYLE.md section 6). Output goes straight to the back end; input waits for
// room in the UART's RX FIFO (back-pressure instead of dropping keystrokes), and gives up when
// the back end stops.
#pragma once

#include "vmm/chardev/char_backend.h"
#include "vmm/devices/uart_8250.h"

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

namespace monarch::vmm::machine {

class SerialConsole {
public:
    SerialConsole(std::shared_ptr<Uart8250> uart, CharBackend& backend) : m_uart(std::move(uart)), m_backend(backend)
    {
        m_uart->set_rx_room_callback([this] {
            std::lock_guard lock { m_mutex };
            m_changed.notify_all();
        });
    }

    // Starts the back end's input thread feeding the UART.
    [[nodiscard]] Result<void> start()
    {
        return m_backend.start_input([this](std::span<std::byte const> bytes) { feed(bytes); });
    }

private:
    void feed(std::span<std::byte const> bytes)
    {
        while (!bytes.empty() && !m_backend.stopping()) {
            bytes = bytes.subspan(m_uart->enqueue_rx(bytes));
            if (bytes.empty())
                break;
            // The guest drains the FIFO on its vCPU thread and the room callback wakes us; the
            // timeout covers a guest that masked the UART and never reads (we re-check stop).
            std::unique_lock lock { m_mutex };
            m_changed.wait_for(lock, std::chrono::milliseconds(50), [&] { return m_uart->rx_has_room() || m_backend.stopping(); });
        }
    }

    std::shared_ptr<Uart8250> m_uart;
    CharBackend& m_backend;
    std::mutex m_mutex;
    std::condition_variable m_changed;
};

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// InputFeeder: a flag and a condition variable; the sink is called without the lock held.
#include "vmm/chardev/input_feeder.h"

#include <algorithm>
#include <utility>

namespace monarch::vmm {

InputFeeder::InputFeeder(std::function<size_t(std::span<std::byte const>)> sink)
    : m_sink(std::move(sink))
{
}

void InputFeeder::feed(std::span<std::byte const> bytes)
{
    while (!bytes.empty()) {
        {
            std::lock_guard lock { m_mutex };
            if (m_stopped)
                return;
            // Cleared before offering: a notification from here on is about room made after
            // this attempt, so it is not lost.
            m_room = false;
        }
        size_t const taken = m_sink(bytes);
        bytes = bytes.subspan(std::min(taken, bytes.size()));
        if (bytes.empty())
            return;
        std::unique_lock lock { m_mutex };
        m_changed.wait_for(lock, RETRY_INTERVAL, [this] { return m_room || m_stopped; });
    }
}

void InputFeeder::notify_room()
{
    {
        std::lock_guard lock { m_mutex };
        m_room = true;
    }
    m_changed.notify_all();
}

void InputFeeder::stop()
{
    {
        std::lock_guard lock { m_mutex };
        m_stopped = true;
    }
    m_changed.notify_all();
}

} // namespace monarch::vmm

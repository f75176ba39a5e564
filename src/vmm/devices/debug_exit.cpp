// SPDX-License-Identifier: Apache-2.0
// DebugExit: the test-exit port. Stateless apart from counters.
#include "vmm/devices/debug_exit.h"

#include <algorithm>
#include <utility>

namespace monarch::vmm {

DebugExit::DebugExit(std::function<void(uint8_t)> on_exit)
    : m_on_exit(std::move(on_exit))
{
}

void DebugExit::read(uint64_t, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
}

void DebugExit::write(uint64_t, std::span<std::byte const> data)
{
    if (data.empty())
        return;
    if (data.size() != 1)
        m_wide_accesses.fetch_add(1, std::memory_order_relaxed);
    m_exits.fetch_add(1, std::memory_order_relaxed);
    if (m_on_exit)
        m_on_exit(std::to_integer<uint8_t>(data[0]));
}

DebugExitCounters DebugExit::counters() const
{
    return DebugExitCounters { m_exits.load(std::memory_order_relaxed), m_wide_accesses.load(std::memory_order_relaxed) };
}

} // namespace monarch::vmm

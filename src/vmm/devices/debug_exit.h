// SPDX-License-Identifier: Apache-2.0
// DebugExit: a write of value v to layout::PORT_DEBUG_EXIT asks the VMM to stop and exit with v
// (unlike QEMU's isa-debug-exit, which exits with (v << 1) | 1). Reads return 0.
#pragma once

#include "vmm/devices/bus_device.h"

#include <atomic>
#include <cstdint>
#include <functional>

namespace monarch::vmm {

struct DebugExitCounters {
    uint64_t exits { 0 };         // writes seen
    uint64_t wide_accesses { 0 }; // accesses wider than 1 byte: the low byte is the value
};

class DebugExit final : public BusDevice {
public:
    // on_exit runs on the writing vCPU thread; it must only request the stop, not join vCPUs.
    explicit DebugExit(std::function<void(uint8_t)> on_exit);

    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

    [[nodiscard]] DebugExitCounters counters() const;

private:
    std::function<void(uint8_t)> m_on_exit; // immutable after construction: no lock needed
    std::atomic<uint64_t> m_exits { 0 };
    std::atomic<uint64_t> m_wide_accesses { 0 };
};

} // namespace monarch::vmm

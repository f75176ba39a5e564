// SPDX-License-Identifier: Apache-2.0
// Helpers for device-model tests: a recording IrqLine and byte-wide port accessors.
#pragma once

#include "vmm/devices/bus_device.h"
#include "vmm/devices/irq_line.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace monarch::vmm::test {

class FakeIrq final : public IrqLine {
public:
    void set_level(bool asserted) override
    {
        level = asserted;
        history.push_back(asserted);
    }
    bool level { false };
    std::vector<bool> history; // every set_level call, in order
};

inline uint8_t read8(BusDevice& device, uint64_t offset)
{
    std::array<std::byte, 1> data { std::byte { 0xaa } };
    device.read(offset, data);
    return std::to_integer<uint8_t>(data[0]);
}

inline void write8(BusDevice& device, uint64_t offset, uint8_t value)
{
    std::array<std::byte, 1> data { std::byte { value } };
    device.write(offset, data);
}

inline uint16_t read16(BusDevice& device, uint64_t offset)
{
    std::array<std::byte, 2> data {};
    device.read(offset, data);
    return static_cast<uint16_t>(std::to_integer<uint16_t>(data[0]) | (std::to_integer<uint16_t>(data[1]) << 8));
}

inline void write16(BusDevice& device, uint64_t offset, uint16_t value)
{
    std::array<std::byte, 2> data { std::byte(value & 0xff), std::byte(value >> 8) };
    device.write(offset, data);
}

} // namespace monarch::vmm::test

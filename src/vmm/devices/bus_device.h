// SPDX-License-Identifier: Apache-2.0
// BusDevice: what a port-I/O or MMIO bus dispatches to. Offsets are relative to the base
// address the device was registered at; data.size() is the access width (1, 2, 4 or 8).
// Called on vCPU threads: a device locks its own state and never blocks on host I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace monarch::vmm {

class BusDevice {
public:
    virtual ~BusDevice() = default;
    virtual void read(uint64_t offset, std::span<std::byte> data) = 0;
    virtual void write(uint64_t offset, std::span<std::byte const> data) = 0;
};

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// PortView: a BusDevice that forwards to a pair of member functions of a shared device, for
// devices that answer at several non-adjacent bases (i8042 data/command, ACPI PM1a event/control):
// every base gets its own view, since a BusDevice only sees the offset from its own base.
#pragma once

#include "vmm/devices/bus_device.h"

#include <memory>
#include <utility>

namespace monarch::vmm {

template<typename Device>
class PortView final : public BusDevice {
public:
    using ReadFunction = void (Device::*)(uint64_t, std::span<std::byte>);
    using WriteFunction = void (Device::*)(uint64_t, std::span<std::byte const>);

    PortView(std::shared_ptr<Device> device, ReadFunction read, WriteFunction write)
        : m_device(std::move(device))
        , m_read(read)
        , m_write(write)
    {
    }

    void read(uint64_t offset, std::span<std::byte> data) override { ((*m_device).*m_read)(offset, data); }
    void write(uint64_t offset, std::span<std::byte const> data) override { ((*m_device).*m_write)(offset, data); }

private:
    std::shared_ptr<Device> m_device; // keeps the device alive as long as the bus holds the view
    ReadFunction m_read;
    WriteFunction m_write;
};

} // namespace monarch::vmm

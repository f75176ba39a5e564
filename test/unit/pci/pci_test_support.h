// SPDX-License-Identifier: Apache-2.0
// Helpers for PCI tests: typed config-space accessors on anything with config_read/config_write
// (PciConfigSpace, PciDevice) or read/write (BusDevice), and an MsiRouter that records calls.
#pragma once

#include "vmm/devices/pci/msi.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace monarch::vmm::test {

template<typename T, typename Space>
T config_read(Space& space, uint16_t offset)
{
    std::array<std::byte, sizeof(T)> data {};
    std::memset(data.data(), 0xa5, data.size()); // the model must overwrite every byte
    space.config_read(offset, data);
    T value;
    std::memcpy(&value, data.data(), sizeof(T));
    return value;
}

template<typename T, typename Space>
void config_write(Space& space, uint16_t offset, T value)
{
    std::array<std::byte, sizeof(T)> data {};
    std::memcpy(data.data(), &value, sizeof(T));
    space.config_write(offset, data);
}

template<typename T, typename Device>
T bus_read(Device& device, uint64_t offset)
{
    std::array<std::byte, sizeof(T)> data {};
    std::memset(data.data(), 0xa5, data.size());
    device.read(offset, data);
    T value;
    std::memcpy(&value, data.data(), sizeof(T));
    return value;
}

template<typename T, typename Device>
void bus_write(Device& device, uint64_t offset, T value)
{
    std::array<std::byte, sizeof(T)> data {};
    std::memcpy(data.data(), &value, sizeof(T));
    device.write(offset, data);
}

class RecordingRouter final : public pci::MsiRouter {
public:
    struct Update {
        uint16_t vector;
        pci::MsiMessage message;
        bool masked;
    };
    void update(uint16_t vector, pci::MsiMessage const& message, bool masked) override { updates.push_back({ vector, message, masked }); }
    void trigger(uint16_t vector) override { triggers.push_back(vector); }
    std::vector<Update> updates;
    std::vector<uint16_t> triggers;
};

} // namespace monarch::vmm::test

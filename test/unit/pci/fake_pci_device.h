// SPDX-License-Identifier: Apache-2.0
// FakePciDevice: a PciDevice over PciConfigSpace with the BARs a test asks for; records BAR
// accesses and bar_assigned() calls.
#pragma once

#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_device.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

namespace monarch::vmm::test {

class FakePciDevice final : public pci::PciDevice {
public:
    explicit FakePciDevice(std::vector<pci::BarRequest> const& bars, uint16_t device_id = 0x1234)
        : config(pci::PciIds { 0x1af4, device_id, 0, 0xff, 0, 0, 0x1af4, 1 }, pci::InterruptPin::IntA)
    {
        for (auto const& bar : bars)
            config.add_bar(bar);
    }
    [[nodiscard]] std::string_view name() const override { return "fake"; }
    void config_read(uint16_t offset, std::span<std::byte> data) override { config.config_read(offset, data); }
    void config_write(uint16_t offset, std::span<std::byte const> data) override { config.config_write(offset, data); }
    [[nodiscard]] std::vector<pci::BarRequest> bar_requests() const override { return config.bar_requests(); }
    void bar_assigned(uint8_t index, uint64_t address) override
    {
        assigned.push_back({ index, address });
        config.set_bar_address(index, address);
    }
    void bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data) override
    {
        accesses.push_back({ 'r', index, offset, data.size() });
        std::fill(data.begin(), data.end(), std::byte(0x40 + index));
    }
    void bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data) override
    {
        accesses.push_back({ 'w', index, offset, data.size() });
    }

    struct Access {
        char kind;
        uint8_t bar;
        uint64_t offset;
        size_t size;
        friend bool operator==(Access const&, Access const&) = default;
    };
    struct Assignment {
        uint8_t bar;
        uint64_t address;
        friend bool operator==(Assignment const&, Assignment const&) = default;
    };
    pci::PciConfigSpace config;
    std::vector<Access> accesses;
    std::vector<Assignment> assigned;
};

} // namespace monarch::vmm::test

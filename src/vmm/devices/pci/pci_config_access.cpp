// SPDX-License-Identifier: Apache-2.0
// PciConfigIo and PciEcam: address decoding, then PciRoot::config_read/config_write.
#include "vmm/devices/pci/pci_config_access.h"

#include "vmm/devices/pci/pci_root.h"

#include <algorithm>
#include <cstring>

namespace monarch::vmm::pci {
namespace {

constexpr uint64_t CONFIG_DATA_OFFSET = 4;

struct Target {
    uint8_t bus;
    uint8_t device;
    uint8_t function;
    uint16_t offset;
};

Target decode_config_address(uint32_t address, uint64_t lane)
{
    return Target {
        static_cast<uint8_t>(address >> 16),
        static_cast<uint8_t>((address >> 11) & 0x1f),
        static_cast<uint8_t>((address >> 8) & 0x7),
        static_cast<uint16_t>((address & 0xfc) + lane),
    };
}

Target decode_ecam(uint64_t offset)
{
    return Target {
        static_cast<uint8_t>(offset >> 20),
        static_cast<uint8_t>((offset >> 15) & 0x1f),
        static_cast<uint8_t>((offset >> 12) & 0x7),
        static_cast<uint16_t>(offset & 0xfff),
    };
}

bool ecam_access_ok(uint64_t offset, size_t size)
{
    if (size == 8)
        return offset % 8 == 0;
    return (size == 1 || size == 2 || size == 4) && (offset % 4) + size <= 4;
}

} // namespace

void PciConfigIo::read(uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0xff });
    if (offset < CONFIG_DATA_OFFSET) {
        if (offset == 0 && data.size() == 4) {
            uint32_t const value = m_address.load(std::memory_order_relaxed);
            std::memcpy(data.data(), &value, 4);
        }
        return;
    }
    uint32_t const address = m_address.load(std::memory_order_relaxed);
    if (!(address & ENABLE))
        return;
    auto const target = decode_config_address(address, offset - CONFIG_DATA_OFFSET);
    m_root.config_read(target.bus, target.device, target.function, target.offset, data);
}

void PciConfigIo::write(uint64_t offset, std::span<std::byte const> data)
{
    if (offset < CONFIG_DATA_OFFSET) {
        if (offset == 0 && data.size() == 4) {
            uint32_t value;
            std::memcpy(&value, data.data(), 4);
            m_address.store(value & ADDRESS_MASK, std::memory_order_relaxed);
        }
        return;
    }
    uint32_t const address = m_address.load(std::memory_order_relaxed);
    if (!(address & ENABLE))
        return;
    auto const target = decode_config_address(address, offset - CONFIG_DATA_OFFSET);
    m_root.config_write(target.bus, target.device, target.function, target.offset, data);
}

void PciEcam::read(uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0xff });
    if (!ecam_access_ok(offset, data.size()))
        return;
    for (size_t done = 0; done < data.size(); done += 4) {
        auto const target = decode_ecam(offset + done);
        auto part = data.subspan(done, std::min<size_t>(4, data.size()));
        m_root.config_read(target.bus, target.device, target.function, target.offset, part);
    }
}

void PciEcam::write(uint64_t offset, std::span<std::byte const> data)
{
    if (!ecam_access_ok(offset, data.size()))
        return;
    for (size_t done = 0; done < data.size(); done += 4) {
        auto const target = decode_ecam(offset + done);
        auto part = data.subspan(done, std::min<size_t>(4, data.size()));
        m_root.config_write(target.bus, target.device, target.function, target.offset, part);
    }
}

} // namespace monarch::vmm::pci

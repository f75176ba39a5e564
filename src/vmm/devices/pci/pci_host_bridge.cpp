// SPDX-License-Identifier: Apache-2.0
// PciHostBridge: a header-only function, no BARs, no interrupt.
#include "vmm/devices/pci/pci_host_bridge.h"

#include <algorithm>

namespace monarch::vmm::pci {

PciHostBridge::PciHostBridge()
    : m_config(PciIds { HOST_BRIDGE_VENDOR, HOST_BRIDGE_DEVICE, 0, 0x06, 0x00, 0x00, 0x1af4, 0x1100 }) // QEMU's default subsystem IDs
{
}

void PciHostBridge::config_read(uint16_t offset, std::span<std::byte> data)
{
    std::lock_guard lock { m_mutex };
    m_config.config_read(offset, data);
}

void PciHostBridge::config_write(uint16_t offset, std::span<std::byte const> data)
{
    std::lock_guard lock { m_mutex };
    m_config.config_write(offset, data);
}

void PciHostBridge::bar_read(uint8_t, uint64_t, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
}

} // namespace monarch::vmm::pci

// SPDX-License-Identifier: Apache-2.0
// PciHostBridge: device 0 on the root bus, the host bridge function itself (class 06/00/00).
// Red Hat's 1b36:0008 ("QEMU PCIe host bridge", the ID of QEMU's generic host bridge gpex):
// an ID from the range Red Hat reserves for virtual hardware, so no guest driver or quirk
// expects chipset registers (an Intel host-bridge ID attracts EDAC and AGP probes).
#pragma once

#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_device.h"

#include <mutex>

namespace monarch::vmm::pci {

inline constexpr uint16_t HOST_BRIDGE_VENDOR = 0x1b36;
inline constexpr uint16_t HOST_BRIDGE_DEVICE = 0x0008;

class PciHostBridge final : public PciDevice {
public:
    PciHostBridge();

    [[nodiscard]] std::string_view name() const override { return "pci-host-bridge"; }
    void config_read(uint16_t offset, std::span<std::byte> data) override;
    void config_write(uint16_t offset, std::span<std::byte const> data) override;
    [[nodiscard]] std::vector<BarRequest> bar_requests() const override { return {}; }
    void bar_assigned(uint8_t, uint64_t) override {}
    void bar_read(uint8_t, uint64_t, std::span<std::byte> data) override;
    void bar_write(uint8_t, uint64_t, std::span<std::byte const>) override {}

private:
    std::mutex m_mutex;
    PciConfigSpace m_config;
};

} // namespace monarch::vmm::pci

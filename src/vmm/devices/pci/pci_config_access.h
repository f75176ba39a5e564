// SPDX-License-Identifier: Apache-2.0
// The two ways the guest reaches configuration space, as BusDevices forwarding to a PciRoot:
// PciConfigIo, configuration mechanism #1 at ports 0xCF8-0xCFF (PCI Local Bus 3.0,
// 3.2.2.3.2), and PciEcam, the PCIe enhanced configuration access window (PCIe base spec 7.2.2).
#pragma once

#include "vmm/devices/bus_device.h"

#include <atomic>
#include <cstdint>
#include <span>

namespace monarch::vmm::pci {

class PciRoot;

// CONFIG_ADDRESS: bit 31 enable, 23:16 bus, 15:11 device, 10:8 function, 7:2 register.
// Only a dword access at 0xCF8 reaches CONFIG_ADDRESS; narrower accesses to 0xCF8-0xCFB are
// other chipset registers on real hardware (0xCF9 is Intel's reset control) and are ignored
// here (reads all-ones). CONFIG_DATA (0xCFC-0xCFF) accepts any width at any byte, which
// selects the byte lane (register + offset). Bits 30:24 (AMD's extended register number) are
// ignored: extended space is reached through ECAM.
class PciConfigIo final : public BusDevice {
public:
    explicit PciConfigIo(PciRoot& root) : m_root(root) {}
    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

    static constexpr uint32_t ENABLE = 1u << 31;
    static constexpr uint32_t ADDRESS_MASK = ENABLE | 0x00fffffc;

private:
    PciRoot& m_root;
    std::atomic<uint32_t> m_address { 0 }; // shared by all vCPUs, as on a real chipset
};

// Offset within the window: bus << 20 | device << 15 | function << 12 | register.
// 1-, 2- and 4-byte accesses inside a dword, and aligned 8-byte accesses (split into two
// dwords); anything else reads all-ones and is ignored.
class PciEcam final : public BusDevice {
public:
    explicit PciEcam(PciRoot& root) : m_root(root) {}
    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

private:
    PciRoot& m_root;
};

} // namespace monarch::vmm::pci

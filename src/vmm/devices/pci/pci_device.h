// SPDX-License-Identifier: Apache-2.0
// PciDevice: one function on the root bus as the PCI host bridge sees it: a configuration space
// (reached through ports 0xCF8/0xCFC or ECAM) and the BARs the device implements. The host
// bridge allocates BAR addresses in the MMIO hole at attach time, dispatches BAR accesses, and
// follows the guest when it reprograms a BAR (PCI Local Bus 3.0 section 6.2.5).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::pci {

enum class BarKind : uint8_t { Memory32, Memory64, Io };

struct BarRequest {
    uint8_t index { 0 };          // 0..5 (a 64-bit BAR takes index and index + 1)
    uint64_t size { 0 };          // a power of two, at least 4 KiB for memory BARs we create
    BarKind kind { BarKind::Memory32 };
    bool prefetchable { false };
};

class PciDevice {
public:
    virtual ~PciDevice() = default;

    [[nodiscard]] virtual std::string_view name() const = 0;

    // Configuration space, 4 KiB (256 bytes conventional + extended). `offset` is the byte
    // offset, data.size() is 1, 2 or 4 and the access never crosses a dword boundary (the host
    // bridge splits or refuses others). Reads of unimplemented registers return zero.
    virtual void config_read(uint16_t offset, std::span<std::byte> data) = 0;
    virtual void config_write(uint16_t offset, std::span<std::byte const> data) = 0;

    // The BARs this device implements, fixed for its lifetime.
    [[nodiscard]] virtual std::vector<BarRequest> bar_requests() const = 0;
    // The host bridge placed (or the guest moved) BAR `index` at `address`. The device records
    // it so that its configuration space reads back the address; for memory BARs address 0
    // means "not mapped".
    virtual void bar_assigned(uint8_t index, uint64_t address) = 0;

    // Accesses inside BAR `index`; `offset` is relative to the BAR's start. Called on vCPU
    // threads: the device locks its own state and never blocks on host I/O.
    virtual void bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data) = 0;
    virtual void bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data) = 0;
};

} // namespace monarch::vmm::pci

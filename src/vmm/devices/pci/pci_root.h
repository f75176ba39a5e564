// SPDX-License-Identifier: Apache-2.0
// PciRoot: PCI segment 0, root bus 0. Device 0 is the host bridge, devices sit at slots 1..31
// (function 0). It serves configuration accesses by bus/device/function (from ports
// 0xCF8/0xCFC and ECAM, see pci_config_access.h), allocates BARs in the windows of
// pci_windows.h, maps them on the MMIO / port buses, and follows the guest when it moves a BAR
// or switches decoding off (PCI Local Bus 3.0, 6.2.2 and 6.2.5).
#pragma once

#include "common/result.h"
#include "vmm/devices/bus.h"
#include "vmm/devices/pci/pci_device.h"
#include "vmm/devices/pci/pci_windows.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm::pci {

struct PciAttachment {
    uint8_t slot { 0 };
    uint32_t intx_gsi { 0 }; // the GSI of the device's INTA (intx_gsi(slot, 0))
};

// One BAR as the root sees it, for the VMM and tests.
struct BarMapping {
    uint8_t slot { 0 };
    uint8_t bar { 0 };
    BarKind kind { BarKind::Memory32 };
    uint64_t address { 0 };  // what the BAR registers hold
    uint64_t size { 0 };
    bool mapped { false };   // registered on its bus at `address`
};

class PciRoot {
public:
    // Called when a BAR is mapped at an address (`mapped_at`) or unmapped (nullopt): the VMM
    // moves the BAR's ioeventfds with it. Runs on the vCPU thread that wrote the config
    // register, with the root's lock held: it must not call back into the PciRoot.
    using BarObserver = std::function<void(uint8_t slot, uint8_t bar, std::optional<uint64_t> mapped_at)>;

    // `mmio_bus` and `pio_bus` outlive the root (the machine owns all three).
    PciRoot(Bus& mmio_bus, Bus& pio_bus, PciWindows const& windows);

    // Registers ports 0xCF8-0xCFF on the port bus and the ECAM window at
    // layout::PCI_ECAM_START on the MMIO bus.
    [[nodiscard]] Result<void> register_config_access();

    // Puts `device` at `slot` (1..31) or, without one, the lowest free slot. Allocates each of
    // its BARs naturally aligned (I/O BARs in the I/O window; 32-bit BARs and 64-bit BARs under
    // 64 MiB in the 32-bit window, larger 64-bit BARs or those that no longer fit there in the
    // 64-bit window), enables I/O and memory decoding as firmware would, maps the BARs and
    // writes the INTx GSI into the interrupt line register.
    // InvalidArgument: null device or bad slot; Busy: slot taken; OutOfRange: no slot or no
    // window space left (nothing of the device stays attached).
    [[nodiscard]] Result<PciAttachment> attach(std::shared_ptr<PciDevice>, std::optional<uint8_t> slot = {});

    // Configuration access by address. Anything but bus 0, function 0 of a populated slot
    // reads all-ones and ignores writes; so does an access of a width other than 1, 2, 4 or
    // one crossing a dword.
    void config_read(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset, std::span<std::byte> data);
    void config_write(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset, std::span<std::byte const> data);

    void set_bar_observer(BarObserver);
    [[nodiscard]] std::vector<BarMapping> bar_mappings() const;
    [[nodiscard]] PciWindows const& windows() const { return m_windows; }
    // BAR placements the guest asked for that could not be mapped (outside the windows, or
    // overlapping another range): the BAR stays unmapped.
    [[nodiscard]] uint64_t rejected_placements() const;

private:
    struct BarState {
        BarRequest request;
        uint64_t address { 0 };
        std::optional<uint64_t> mapped_at;
    };
    struct Slot {
        std::shared_ptr<PciDevice> device;
        std::vector<BarState> bars;
    };
    [[nodiscard]] Result<uint8_t> choose_slot(std::optional<uint8_t> slot) const;
    [[nodiscard]] Result<void> allocate_bars(Slot&);
    [[nodiscard]] std::optional<uint64_t> allocate(BarRequest const&);
    void sync_slot_locked(uint8_t slot);
    void sync_bar_locked(uint8_t slot, BarState&, uint16_t command);
    void unmap_locked(uint8_t slot, BarState&);
    [[nodiscard]] bool inside_window(BarRequest const&, uint64_t address) const;
    [[nodiscard]] Bus& bus_for(BarKind kind) const { return kind == BarKind::Io ? m_pio_bus : m_mmio_bus; }

    Bus& m_mmio_bus;
    Bus& m_pio_bus;
    PciWindows m_windows;
    uint64_t m_next_mmio32;
    uint64_t m_next_mmio64;
    uint64_t m_next_io;
    mutable std::mutex m_mutex;
    std::array<Slot, SLOT_COUNT> m_slots;
    BarObserver m_observer;
    uint64_t m_rejected_placements { 0 };
};

} // namespace monarch::vmm::pci

// SPDX-License-Identifier: Apache-2.0
// IntxLines: the PCI INTx wires of the root bus. Up to 31 slots x 4 pins share the 8 GSIs of
// pci_windows.h (INTx is level-triggered and shareable, PCI Local Bus 3.0, 2.2.6), but the
// VMM's line to a GSI (KVM_IRQ_LINE: one user-space level per GSI) must see the OR of all of
// them, or one device lowering its pin would drop another's pending interrupt.
#pragma once

#include "vmm/devices/irq_line.h"
#include "vmm/devices/pci/pci_windows.h"

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>

namespace monarch::vmm::pci {

class IntxLines {
public:
    // `gsi_line(gsi)` is called once per INTx GSI (16..23) at construction; the lines it
    // returns outlive this object.
    explicit IntxLines(std::function<IrqLine&(uint32_t gsi)> const& gsi_line);

    // The line a device at `slot` (1..31) drives for pin `pin_index` (0..3 = INTA..INTD);
    // the reference stays valid for the object's lifetime. Out of range aborts (our bug).
    [[nodiscard]] IrqLine& line(uint8_t slot, uint8_t pin_index);

private:
    struct Gsi {
        std::mutex mutex;
        IrqLine* line { nullptr };
        unsigned asserted { 0 }; // sources now asserting
    };
    class Source final : public IrqLine {
    public:
        void set_level(bool asserted) override;
        Gsi* gsi { nullptr };
        bool level { false }; // under gsi->mutex
    };

    std::array<Gsi, INTX_GSI_COUNT> m_gsis;
    std::array<std::array<Source, 4>, SLOT_COUNT> m_sources;
};

} // namespace monarch::vmm::pci

// SPDX-License-Identifier: Apache-2.0
// IntxLines: wired-OR of the INTx sources that share a GSI.
#include "vmm/devices/pci/intx_lines.h"

#include "common/verify.h"

namespace monarch::vmm::pci {

IntxLines::IntxLines(std::function<IrqLine&(uint32_t gsi)> const& gsi_line)
{
    for (uint32_t index = 0; index < INTX_GSI_COUNT; ++index)
        m_gsis[index].line = &gsi_line(INTX_GSI_BASE + index);
    for (uint8_t slot = 0; slot < SLOT_COUNT; ++slot)
        for (uint8_t pin = 0; pin < 4; ++pin)
            m_sources[slot][pin].gsi = &m_gsis[intx_gsi(slot, pin) - INTX_GSI_BASE];
}

IrqLine& IntxLines::line(uint8_t slot, uint8_t pin_index)
{
    VERIFY(slot >= 1 && slot < SLOT_COUNT && pin_index < 4);
    return m_sources[slot][pin_index];
}

void IntxLines::Source::set_level(bool asserted)
{
    // The GSI's line is driven under its lock so that two sources changing at once cannot
    // reach KVM in the wrong order (a stale "low" after another source's "high").
    std::lock_guard lock { gsi->mutex };
    if (asserted == level)
        return;
    level = asserted;
    if (asserted && gsi->asserted++ == 0)
        gsi->line->set_level(true);
    else if (!asserted && --gsi->asserted == 0)
        gsi->line->set_level(false);
}

} // namespace monarch::vmm::pci

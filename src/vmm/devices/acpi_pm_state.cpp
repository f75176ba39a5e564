// SPDX-License-Identifier: Apache-2.0
// AcpiPm's state for snapshots: PM1_STS, PM1_EN and PM1_CNT, taken and put back under the lock.
#include "vmm/devices/acpi_pm.h"

namespace monarch::vmm {

using namespace acpi_pm_bits;

AcpiPmState AcpiPm::state() const
{
    std::lock_guard lock { m_mutex };
    return AcpiPmState { m_status, m_enable, m_control };
}

Result<void> AcpiPm::restore(AcpiPmState const& state)
{
    // Only bits the model can ever hold: SCI_EN reads 1 for good (the FADT has no SMI_CMD, so
    // the machine is always in ACPI mode), and SLP_EN is write-only (ACPI spec, PM1 Control).
    if ((state.status & ~PM1_STS_IMPLEMENTED) != 0 || (state.enable & ~PM1_EN_IMPLEMENTED) != 0
        || (state.control & ~PM1_CNT_STORED) != 0 || (state.control & PM1_CNT_SCI_EN) == 0)
        return fail(Errc::InvalidArgument, "acpi pm state: a register holds bits the device never sets");
    {
        std::lock_guard lock { m_mutex };
        m_status = state.status;
        m_enable = state.enable;
        m_control = state.control;
    }
    update_sci();
    return {};
}

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// AcpiPm: the ACPI PM1a fixed-hardware registers (ACPI spec, "PM1 Event Grouping" and "PM1
// Control Grouping"): the event block (PM1_STS, PM1_EN) and the control block (SCI_EN, SLP_TYP,
// SLP_EN). S5 via SLP_EN powers off; the power button sets PWRBTN_STS and raises the SCI.
#pragma once

#include "common/result.h"
#include "vmm/devices/bus_device.h"
#include "vmm/devices/irq_level.h"
#include "vmm/devices/irq_line.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

namespace monarch::vmm {

namespace acpi_pm_bits {
inline constexpr uint16_t PM1_TMR_STS = 1 << 0;
inline constexpr uint16_t PM1_PWRBTN_STS = 1 << 8; // write 1 to clear
inline constexpr uint16_t PM1_WAK_STS = 1 << 15;
inline constexpr uint16_t PM1_GBL_EN = 1 << 5;
inline constexpr uint16_t PM1_PWRBTN_EN = 1 << 8;
inline constexpr uint16_t PM1_RTC_EN = 1 << 10;
inline constexpr uint16_t PM1_CNT_SCI_EN = 1 << 0; // reads 1: the FADT has no SMI_CMD, so ACPI mode is fixed
inline constexpr uint16_t PM1_CNT_SLP_TYP_MASK = 7 << 10;
inline constexpr unsigned PM1_CNT_SLP_TYP_SHIFT = 10;
inline constexpr uint16_t PM1_CNT_SLP_EN = 1 << 13; // write-only
// What the model implements: the status bits it can ever set (the rest read 0 and ignore
// writes), the enable bits it keeps, and the control bits it stores.
inline constexpr uint16_t PM1_STS_IMPLEMENTED = PM1_PWRBTN_STS | PM1_WAK_STS;
// GBL_EN and RTC_EN are kept although their events never fire (no firmware takes the global
// lock; no RTC alarm wakes a sleeping guest): Linux enables both at boot and reports an ACPI
// error for each enable bit that does not read back.
inline constexpr uint16_t PM1_EN_IMPLEMENTED = PM1_GBL_EN | PM1_PWRBTN_EN | PM1_RTC_EN;
inline constexpr uint16_t PM1_CNT_STORED = PM1_CNT_SCI_EN | PM1_CNT_SLP_TYP_MASK;
} // namespace acpi_pm_bits

struct AcpiPmCounters {
    uint64_t power_offs { 0 };           // S5 requests
    uint64_t ignored_sleeps { 0 };       // SLP_EN with a sleep type other than S5 (no S1-S4 here)
    uint64_t power_button_presses { 0 };
    uint64_t bad_accesses { 0 };         // accesses reaching past the block: the excess is ignored
};

// The registers the guest can observe, for snapshots (vmm/snapshot encodes them).
struct AcpiPmState {
    uint16_t status { 0 };  // PM1_STS
    uint16_t enable { 0 };  // PM1_EN
    uint16_t control { 0 }; // PM1_CNT (SLP_EN is write-only and never stored)
    bool operator==(AcpiPmState const&) const = default;
};

class AcpiPm {
public:
    // power_off is called (without the lock, on the vCPU thread) when the guest enters S5.
    AcpiPm(IrqLine& sci, std::function<void()> power_off);

    // Views that keep the device alive: register event_port() at layout::PORT_ACPI_PM1A_EVT
    // (PORT_ACPI_PM1A_EVT_SIZE bytes) and control_port() at layout::PORT_ACPI_PM1A_CNT
    // (PORT_ACPI_PM1A_CNT_SIZE bytes). Any access width works, byte by byte.
    [[nodiscard]] static std::shared_ptr<BusDevice> event_port(std::shared_ptr<AcpiPm> pm);
    [[nodiscard]] static std::shared_ptr<BusDevice> control_port(std::shared_ptr<AcpiPm> pm);

    // The ACPI fixed power button: a graceful-shutdown request the guest's OSPM handles.
    void press_power_button();

    void read_event(uint64_t offset, std::span<std::byte> data);
    void write_event(uint64_t offset, std::span<std::byte const> data);
    void read_control(uint64_t offset, std::span<std::byte> data);
    void write_control(uint64_t offset, std::span<std::byte const> data);

    [[nodiscard]] AcpiPmCounters counters() const;

    // Snapshot and restore (acpi_pm_state.cpp). restore() checks every field first
    // (InvalidArgument, nothing changed) and then sets the SCI to match.
    [[nodiscard]] AcpiPmState state() const;
    [[nodiscard]] Result<void> restore(AcpiPmState const&);

private:
    void update_sci();

    IrqLevel m_sci;
    std::function<void()> m_power_off;
    mutable std::mutex m_mutex; // everything below
    uint16_t m_status { 0 };
    uint16_t m_enable { 0 };
    uint16_t m_control { acpi_pm_bits::PM1_CNT_SCI_EN };
    AcpiPmCounters m_counters;
};

} // namespace monarch::vmm

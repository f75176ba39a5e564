// SPDX-License-Identifier: Apache-2.0
// AcpiPm: PM1a status/enable (event block: PM1_STS at offset 0, PM1_EN at offset 2, each 16 bits)
// and PM1_CNT (control block). Accesses are handled byte by byte, so 8-, 16- and 32-bit
// accesses all behave as the ACPI register widths imply.
#include "vmm/devices/acpi_pm.h"

#include "vmm/devices/port_view.h"
#include "vmm/memory/layout.h"

#include <utility>

namespace monarch::vmm {

using namespace acpi_pm_bits;

namespace {
constexpr uint16_t CONTROL_WRITABLE = PM1_CNT_SLP_TYP_MASK;

uint8_t byte_of(uint16_t value, uint64_t index) { return static_cast<uint8_t>(value >> (8 * index)); }
uint16_t byte_mask(uint64_t index) { return static_cast<uint16_t>(0xff << (8 * index)); }
uint16_t placed(uint8_t value, uint64_t index) { return static_cast<uint16_t>(value << (8 * index)); }
} // namespace

AcpiPm::AcpiPm(IrqLine& sci, std::function<void()> power_off)
    : m_sci(sci)
    , m_power_off(std::move(power_off))
{
}

std::shared_ptr<BusDevice> AcpiPm::event_port(std::shared_ptr<AcpiPm> pm)
{
    return std::make_shared<PortView<AcpiPm>>(std::move(pm), &AcpiPm::read_event, &AcpiPm::write_event);
}

std::shared_ptr<BusDevice> AcpiPm::control_port(std::shared_ptr<AcpiPm> pm)
{
    return std::make_shared<PortView<AcpiPm>>(std::move(pm), &AcpiPm::read_control, &AcpiPm::write_control);
}

AcpiPmCounters AcpiPm::counters() const
{
    std::lock_guard lock { m_mutex };
    return m_counters;
}

void AcpiPm::update_sci()
{
    // The SCI is asserted while any enabled status bit is set (ACPI spec, "SCI interrupt").
    m_sci.update([this] {
        std::lock_guard lock { m_mutex };
        return (m_status & m_enable) != 0;
    });
}

void AcpiPm::press_power_button()
{
    {
        std::lock_guard lock { m_mutex };
        m_status |= PM1_PWRBTN_STS;
        ++m_counters.power_button_presses;
    }
    update_sci();
}

void AcpiPm::read_event(uint64_t offset, std::span<std::byte> data)
{
    std::lock_guard lock { m_mutex };
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t const at = offset + i;
        if (at < 2)
            data[i] = std::byte { byte_of(m_status, at) };
        else if (at < layout::PORT_ACPI_PM1A_EVT_SIZE)
            data[i] = std::byte { byte_of(m_enable, at - 2) };
        else
            data[i] = std::byte { 0xff };
    }
}

void AcpiPm::write_event(uint64_t offset, std::span<std::byte const> data)
{
    {
        std::lock_guard lock { m_mutex };
        for (size_t i = 0; i < data.size(); ++i) {
            uint64_t const at = offset + i;
            auto const value = std::to_integer<uint8_t>(data[i]);
            if (at < 2) {
                // PM1_STS bits are write-1-to-clear; writing 0 leaves them alone.
                m_status &= static_cast<uint16_t>(~(placed(value, at) & PM1_STS_IMPLEMENTED));
            } else if (at < layout::PORT_ACPI_PM1A_EVT_SIZE) {
                uint16_t const mask = byte_mask(at - 2);
                m_enable = static_cast<uint16_t>((m_enable & ~mask) | (placed(value, at - 2) & PM1_EN_IMPLEMENTED));
            } else {
                ++m_counters.bad_accesses;
            }
        }
    }
    update_sci();
}

void AcpiPm::read_control(uint64_t offset, std::span<std::byte> data)
{
    std::lock_guard lock { m_mutex };
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t const at = offset + i;
        data[i] = at < layout::PORT_ACPI_PM1A_CNT_SIZE ? std::byte { byte_of(m_control, at) } : std::byte { 0xff };
    }
}

void AcpiPm::write_control(uint64_t offset, std::span<std::byte const> data)
{
    bool power_off = false;
    {
        std::lock_guard lock { m_mutex };
        uint16_t written = 0;
        uint16_t value = 0;
        for (size_t i = 0; i < data.size(); ++i) {
            uint64_t const at = offset + i;
            if (at >= layout::PORT_ACPI_PM1A_CNT_SIZE) {
                ++m_counters.bad_accesses;
                continue;
            }
            written |= byte_mask(at);
            value |= placed(std::to_integer<uint8_t>(data[i]), at);
        }
        m_control = static_cast<uint16_t>((m_control & ~(written & CONTROL_WRITABLE)) | (value & written & CONTROL_WRITABLE));
        if (value & written & PM1_CNT_SLP_EN) {
            auto const type = (m_control & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT;
            power_off = type == layout::ACPI_SLP_TYP_S5;
            ++(power_off ? m_counters.power_offs : m_counters.ignored_sleeps);
        }
    }
    if (power_off && m_power_off)
        m_power_off();
}

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// AcpiPm: S5 power-off through PM1a_CNT, and the fixed power button through PM1a_STS/EN.
#include "vmm/devices/acpi_pm.h"

#include "device_test_support.h"
#include "vmm/devices/bus.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

using namespace monarch::vmm;
using namespace monarch::vmm::test;
using namespace monarch::vmm::acpi_pm_bits;

namespace {

struct Fixture {
    FakeIrq sci;
    int power_offs = 0;
    std::shared_ptr<AcpiPm> pm = std::make_shared<AcpiPm>(sci, [this] { ++power_offs; });
    Bus bus;
    Fixture()
    {
        REQUIRE(bus.insert(layout::PORT_ACPI_PM1A_EVT, layout::PORT_ACPI_PM1A_EVT_SIZE, AcpiPm::event_port(pm), "pm1a_evt"));
        REQUIRE(bus.insert(layout::PORT_ACPI_PM1A_CNT, layout::PORT_ACPI_PM1A_CNT_SIZE, AcpiPm::control_port(pm), "pm1a_cnt"));
    }
    uint16_t in16(uint16_t port)
    {
        std::array<std::byte, 2> data {};
        REQUIRE(bus.read(port, data));
        return static_cast<uint16_t>(std::to_integer<uint16_t>(data[0]) | (std::to_integer<uint16_t>(data[1]) << 8));
    }
    void out16(uint16_t port, uint16_t value)
    {
        std::array<std::byte, 2> data { std::byte(value & 0xff), std::byte(value >> 8) };
        REQUIRE(bus.write(port, data));
    }
    uint16_t status() { return in16(layout::PORT_ACPI_PM1A_EVT); }
    uint16_t enable() { return in16(layout::PORT_ACPI_PM1A_EVT + 2); }
};

uint16_t sleep_value(unsigned type) { return static_cast<uint16_t>((type << PM1_CNT_SLP_TYP_SHIFT) | PM1_CNT_SLP_EN); }

} // namespace

TEST_CASE("acpi pm S5 with SLP_EN powers off", "[unit][acpi_pm]")
{
    Fixture f;
    f.out16(layout::PORT_ACPI_PM1A_CNT, sleep_value(layout::ACPI_SLP_TYP_S5));
    CHECK(f.power_offs == 1);
    CHECK(f.pm->counters().power_offs == 1);
}

TEST_CASE("acpi pm ignores other sleep types and SLP_TYP without SLP_EN", "[unit][acpi_pm]")
{
    Fixture f;
    f.out16(layout::PORT_ACPI_PM1A_CNT, sleep_value(3)); // S3
    f.out16(layout::PORT_ACPI_PM1A_CNT, static_cast<uint16_t>(layout::ACPI_SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT));
    CHECK(f.power_offs == 0);
    CHECK(f.pm->counters().ignored_sleeps == 1);
    // SLP_EN reads as 0; SCI_EN reads as 1; SLP_TYP reads back.
    uint16_t const control = f.in16(layout::PORT_ACPI_PM1A_CNT);
    CHECK((control & PM1_CNT_SLP_EN) == 0);
    CHECK((control & PM1_CNT_SCI_EN) != 0);
    CHECK(((control & PM1_CNT_SLP_TYP_MASK) >> PM1_CNT_SLP_TYP_SHIFT) == layout::ACPI_SLP_TYP_S5);
}

TEST_CASE("acpi pm power button sets PWRBTN_STS and raises the SCI only when enabled", "[unit][acpi_pm]")
{
    Fixture f;
    f.pm->press_power_button();
    CHECK((f.status() & PM1_PWRBTN_STS) != 0);
    CHECK_FALSE(f.sci.level);
    f.out16(layout::PORT_ACPI_PM1A_EVT + 2, PM1_PWRBTN_EN);
    CHECK(f.enable() == PM1_PWRBTN_EN);
    CHECK(f.sci.level); // enabling with the status pending asserts it
    // Writing 0 leaves the status alone; writing 1 clears it and drops the SCI.
    f.out16(layout::PORT_ACPI_PM1A_EVT, 0);
    CHECK((f.status() & PM1_PWRBTN_STS) != 0);
    CHECK(f.sci.level);
    f.out16(layout::PORT_ACPI_PM1A_EVT, PM1_PWRBTN_STS);
    CHECK((f.status() & PM1_PWRBTN_STS) == 0);
    CHECK_FALSE(f.sci.level);
    // Pressed while enabled: the SCI rises at once.
    f.pm->press_power_button();
    CHECK(f.sci.level);
    // Disabling drops it while the status stays set.
    f.out16(layout::PORT_ACPI_PM1A_EVT + 2, 0);
    CHECK_FALSE(f.sci.level);
    CHECK((f.status() & PM1_PWRBTN_STS) != 0);
}

TEST_CASE("acpi pm event block takes a 32-bit access as status plus enable", "[unit][acpi_pm]")
{
    Fixture f;
    f.pm->press_power_button();
    std::array<std::byte, 4> both { std::byte { 0 }, std::byte { 0x01 }, std::byte { 0 }, std::byte { 0x01 } };
    REQUIRE(f.bus.write(layout::PORT_ACPI_PM1A_EVT, both)); // clear PWRBTN_STS, set PWRBTN_EN
    CHECK(f.status() == 0);
    CHECK(f.enable() == PM1_PWRBTN_EN);
    CHECK_FALSE(f.sci.level);
}

TEST_CASE("acpi pm keeps the global-lock and RTC enable bits Linux sets, and they raise no SCI", "[unit][acpi_pm]")
{
    Fixture f;
    f.out16(layout::PORT_ACPI_PM1A_EVT + 2, PM1_GBL_EN | PM1_RTC_EN | (1 << 0) | (1 << 9));
    CHECK(f.enable() == (PM1_GBL_EN | PM1_RTC_EN)); // the timer and sleep-button bits are not kept
    CHECK_FALSE(f.sci.level);
    CHECK(f.status() == 0);
}

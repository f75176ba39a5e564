// SPDX-License-Identifier: Apache-2.0
// CmosRtc: time registers in BCD and binary, 12/24-hour mode, setting the clock, registers
// A-D, and the memory-size bytes, with a fixed clock.
#include "vmm/devices/cmos_rtc.h"

#include "device_test_support.h"

#include <catch2/catch.hpp>

using namespace monarch::vmm;
using namespace monarch::vmm::test;
using namespace monarch::vmm::cmos_bits;
namespace reg = monarch::vmm::cmos_reg;

namespace {

constexpr uint64_t MiB = 1024 * 1024;
constexpr uint64_t GiB = 1024 * MiB;

// A fixed instant, given as a UTC calendar time.
CmosRtc::Clock fixed_clock(int year, int month, int day, int hour, int minute, int second, long nanoseconds = 0)
{
    tm time {};
    time.tm_year = year - 1900;
    time.tm_mon = month - 1;
    time.tm_mday = day;
    time.tm_hour = hour;
    time.tm_min = minute;
    time.tm_sec = second;
    time_t const seconds = ::timegm(&time);
    return [seconds, nanoseconds] { return timespec { seconds, nanoseconds }; };
}

uint8_t cmos_read(CmosRtc& rtc, uint8_t index)
{
    write8(rtc, 0, index);
    return read8(rtc, 1);
}

void cmos_write(CmosRtc& rtc, uint8_t index, uint8_t value)
{
    write8(rtc, 0, index);
    write8(rtc, 1, value);
}

} // namespace

TEST_CASE("rtc reads the host time in BCD by default, 24-hour", "[unit][rtc]")
{
    // Thursday 29 February 2024, 15:04:05 UTC.
    CmosRtc rtc { 256 * MiB, 0, fixed_clock(2024, 2, 29, 15, 4, 5) };
    CHECK(cmos_read(rtc, reg::SECONDS) == 0x05);
    CHECK(cmos_read(rtc, reg::MINUTES) == 0x04);
    CHECK(cmos_read(rtc, reg::HOURS) == 0x15);
    CHECK(cmos_read(rtc, reg::DAY_OF_WEEK) == 0x05); // Sunday = 1
    CHECK(cmos_read(rtc, reg::DAY_OF_MONTH) == 0x29);
    CHECK(cmos_read(rtc, reg::MONTH) == 0x02);
    CHECK(cmos_read(rtc, reg::YEAR) == 0x24);
    CHECK(cmos_read(rtc, reg::CENTURY) == 0x20);
}

TEST_CASE("rtc register B bit 2 selects binary", "[unit][rtc]")
{
    CmosRtc rtc { 256 * MiB, 0, fixed_clock(2024, 2, 29, 15, 4, 59) };
    cmos_write(rtc, reg::REG_B, REG_B_24H | REG_B_DM_BINARY);
    CHECK(cmos_read(rtc, reg::SECONDS) == 59);
    CHECK(cmos_read(rtc, reg::HOURS) == 15);
    CHECK(cmos_read(rtc, reg::DAY_OF_MONTH) == 29);
    CHECK(cmos_read(rtc, reg::YEAR) == 24);
    CHECK(cmos_read(rtc, reg::CENTURY) == 20);
}

TEST_CASE("rtc 12-hour mode sets bit 7 for PM and shows midnight as 12", "[unit][rtc]")
{
    CmosRtc afternoon { 256 * MiB, 0, fixed_clock(2024, 2, 29, 15, 4, 5) };
    cmos_write(afternoon, reg::REG_B, 0); // BCD, 12-hour
    CHECK(cmos_read(afternoon, reg::HOURS) == (HOUR_PM | 0x03));
    cmos_write(afternoon, reg::REG_B, REG_B_DM_BINARY);
    CHECK(cmos_read(afternoon, reg::HOURS) == (HOUR_PM | 3));

    CmosRtc midnight { 256 * MiB, 0, fixed_clock(2023, 12, 31, 0, 30, 0) };
    cmos_write(midnight, reg::REG_B, 0);
    CHECK(cmos_read(midnight, reg::HOURS) == 0x12);
    CmosRtc noon { 256 * MiB, 0, fixed_clock(2023, 12, 31, 12, 30, 0) };
    cmos_write(noon, reg::REG_B, 0);
    CHECK(cmos_read(noon, reg::HOURS) == (HOUR_PM | 0x12));
}

TEST_CASE("rtc keeps a time the guest sets under register B SET", "[unit][rtc]")
{
    CmosRtc rtc { 256 * MiB, 0, fixed_clock(2024, 2, 29, 15, 4, 5) };
    cmos_write(rtc, reg::REG_B, REG_B_SET | REG_B_24H);
    cmos_write(rtc, reg::YEAR, 0x25);
    cmos_write(rtc, reg::MONTH, 0x12);
    cmos_write(rtc, reg::DAY_OF_MONTH, 0x31); // valid only together with month 12
    cmos_write(rtc, reg::HOURS, 0x23);
    cmos_write(rtc, reg::REG_B, REG_B_24H);
    CHECK(cmos_read(rtc, reg::YEAR) == 0x25);
    CHECK(cmos_read(rtc, reg::MONTH) == 0x12);
    CHECK(cmos_read(rtc, reg::DAY_OF_MONTH) == 0x31);
    CHECK(cmos_read(rtc, reg::HOURS) == 0x23);
    CHECK(cmos_read(rtc, reg::MINUTES) == 0x04);
    CHECK(cmos_read(rtc, reg::DAY_OF_WEEK) == 0x04); // 31 December 2025 is a Wednesday

    cmos_write(rtc, reg::MINUTES, 0x1a); // not BCD
    cmos_write(rtc, reg::SECONDS, 0x60); // out of range
    CHECK(rtc.counters().bad_time_writes == 2);
    CHECK(cmos_read(rtc, reg::MINUTES) == 0x04);
}

TEST_CASE("rtc register A shows update-in-progress just before the second ticks", "[unit][rtc]")
{
    CmosRtc before_tick { 256 * MiB, 0, fixed_clock(2024, 1, 1, 0, 0, 0, 999'900'000) };
    CHECK((cmos_read(before_tick, reg::REG_A) & REG_A_UIP) != 0);
    CmosRtc mid_second { 256 * MiB, 0, fixed_clock(2024, 1, 1, 0, 0, 0, 500'000'000) };
    uint8_t const a = cmos_read(mid_second, reg::REG_A);
    CHECK((a & REG_A_UIP) == 0);
    CHECK(a == 0x26); // divider 010 (32.768 kHz), rate 0110 (1024 Hz)
    cmos_write(mid_second, reg::REG_A, 0xa6);  // UIP is read-only
    CHECK(cmos_read(mid_second, reg::REG_A) == 0x26);
}

TEST_CASE("rtc registers C and D", "[unit][rtc]")
{
    CmosRtc rtc { 256 * MiB, 0 }; // the host clock
    CHECK(cmos_read(rtc, reg::REG_D) == REG_D_VRT);
    cmos_write(rtc, reg::REG_D, 0);
    cmos_write(rtc, reg::REG_C, 0xff);
    CHECK(cmos_read(rtc, reg::REG_D) == REG_D_VRT);
    CHECK(cmos_read(rtc, reg::REG_C) == 0);
    CHECK(rtc.counters().read_only_writes == 2);
    // The NMI-mask bit of the index is ignored.
    write8(rtc, 0, 0x80 | reg::REG_D);
    CHECK(read8(rtc, 1) == REG_D_VRT);
    // The real clock's year is plausible (BCD, this century).
    CHECK(cmos_read(rtc, reg::CENTURY) == 0x20);
}

TEST_CASE("rtc memory-size registers follow the SeaBIOS/QEMU convention", "[unit][rtc]")
{
    // 3 GiB below 4 GiB: (3 GiB - 16 MiB) / 64 KiB = 48896 = 0xbf00; 4 GiB above: 65536 = 0x010000.
    CmosRtc rtc { 3 * GiB, 4 * GiB };
    CHECK(cmos_read(rtc, reg::MEM_ABOVE_16M_LOW) == 0x00);
    CHECK(cmos_read(rtc, reg::MEM_ABOVE_16M_HIGH) == 0xbf);
    CHECK(cmos_read(rtc, reg::MEM_ABOVE_4G_LOW) == 0x00);
    CHECK(cmos_read(rtc, reg::MEM_ABOVE_4G_MID) == 0x00);
    CHECK(cmos_read(rtc, reg::MEM_ABOVE_4G_HIGH) == 0x01);
    // Base memory 640 KiB = 0x0280; extended memory capped at 0xffff KiB.
    CHECK(cmos_read(rtc, reg::BASE_MEM_LOW) == 0x80);
    CHECK(cmos_read(rtc, reg::BASE_MEM_HIGH) == 0x02);
    CHECK(cmos_read(rtc, reg::EXT_MEM_LOW) == 0xff);
    CHECK(cmos_read(rtc, reg::EXT_MEM_HIGH) == 0xff);

    // 8 MiB: nothing above 16 MiB; 7 MiB = 7168 KiB = 0x1c00 of extended memory.
    CmosRtc small { 8 * MiB, 0 };
    CHECK(cmos_read(small, reg::MEM_ABOVE_16M_LOW) == 0);
    CHECK(cmos_read(small, reg::MEM_ABOVE_16M_HIGH) == 0);
    CHECK(cmos_read(small, reg::EXT_MEM_LOW) == 0x00);
    CHECK(cmos_read(small, reg::EXT_MEM_HIGH) == 0x1c);
    CHECK(cmos_read(small, reg::EXT_MEM2_HIGH) == 0x1c);
}

TEST_CASE("rtc other indices are plain CMOS RAM", "[unit][rtc]")
{
    CmosRtc rtc { 256 * MiB, 0 };
    cmos_write(rtc, 0x40, 0xa5);
    cmos_write(rtc, 0x7f, 0x5a);
    CHECK(cmos_read(rtc, 0x40) == 0xa5);
    CHECK(cmos_read(rtc, 0x7f) == 0x5a);
    cmos_write(rtc, reg::SECONDS_ALARM, 0x30);
    CHECK(cmos_read(rtc, reg::SECONDS_ALARM) == 0x30);
}

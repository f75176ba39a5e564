// SPDX-License-Identifier: Apache-2.0
// CmosRtc: the MC146818 real-time clock and CMOS RAM at layout::PORT_RTC (index at +0, data at +1;
// register it with length 2). Time comes from the host's CLOCK_REALTIME (UTC) plus an offset the
// guest may set; the memory-size bytes follow SeaBIOS/QEMU so firmware-style probes agree.
#pragma once

#include "common/result.h"
#include "vmm/devices/bus_device.h"

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <span>

namespace monarch::vmm {

// CMOS register indices (MC146818 datasheet; 0x32 and the memory bytes by PC/SeaBIOS convention).
namespace cmos_reg {
inline constexpr uint8_t SECONDS = 0x00;
inline constexpr uint8_t SECONDS_ALARM = 0x01;
inline constexpr uint8_t MINUTES = 0x02;
inline constexpr uint8_t MINUTES_ALARM = 0x03;
inline constexpr uint8_t HOURS = 0x04;
inline constexpr uint8_t HOURS_ALARM = 0x05;
inline constexpr uint8_t DAY_OF_WEEK = 0x06; // 1 = Sunday
inline constexpr uint8_t DAY_OF_MONTH = 0x07;
inline constexpr uint8_t MONTH = 0x08;
inline constexpr uint8_t YEAR = 0x09;        // 00-99
inline constexpr uint8_t REG_A = 0x0a;       // bit 7 UIP (read only), divider and rate select
inline constexpr uint8_t REG_B = 0x0b;       // SET, PIE, AIE, UIE, SQWE, DM (binary), 24/12, DSE
inline constexpr uint8_t REG_C = 0x0c;       // interrupt flags (read only, cleared by reading)
inline constexpr uint8_t REG_D = 0x0d;       // bit 7 VRT: valid RAM and time (read only)
inline constexpr uint8_t BASE_MEM_LOW = 0x15;  // KiB of base memory (640)
inline constexpr uint8_t BASE_MEM_HIGH = 0x16;
inline constexpr uint8_t EXT_MEM_LOW = 0x17;   // KiB above 1 MiB, at most 0xffff (also 0x30/0x31)
inline constexpr uint8_t EXT_MEM_HIGH = 0x18;
inline constexpr uint8_t EXT_MEM2_LOW = 0x30;
inline constexpr uint8_t EXT_MEM2_HIGH = 0x31;
inline constexpr uint8_t CENTURY = 0x32;
inline constexpr uint8_t MEM_ABOVE_16M_LOW = 0x34;  // 64 KiB units of RAM between 16 MiB and 4 GiB
inline constexpr uint8_t MEM_ABOVE_16M_HIGH = 0x35;
inline constexpr uint8_t MEM_ABOVE_4G_LOW = 0x5b;   // 64 KiB units of RAM above 4 GiB (3 bytes)
inline constexpr uint8_t MEM_ABOVE_4G_MID = 0x5c;
inline constexpr uint8_t MEM_ABOVE_4G_HIGH = 0x5d;
} // namespace cmos_reg

namespace cmos_bits {
inline constexpr uint8_t REG_A_UIP = 0x80;
inline constexpr uint8_t REG_B_SET = 0x80;
inline constexpr uint8_t REG_B_DM_BINARY = 0x04;
inline constexpr uint8_t REG_B_24H = 0x02;
inline constexpr uint8_t REG_D_VRT = 0x80;
inline constexpr uint8_t HOUR_PM = 0x80; // in 12-hour mode
} // namespace cmos_bits

struct CmosRtcCounters {
    uint64_t read_only_writes { 0 }; // writes to registers C and D, ignored
    uint64_t bad_time_writes { 0 };  // time/date values out of range or not BCD, ignored
    uint64_t wide_accesses { 0 };    // accesses wider than 1 byte: the low byte is used
};

// A calendar time as the model holds it (the fields of struct tm that gmtime fills and the
// registers show): second 0-59, minute 0-59, hour 0-23, day of month 1-31, month 0-11, year
// since 1900 (the century register sets 19-99, and the clock runs on from there), day of week
// 0-6 (0 = Sunday).
struct RtcTime {
    int32_t second { 0 };
    int32_t minute { 0 };
    int32_t hour { 0 };
    int32_t day_of_month { 1 };
    int32_t month { 0 };
    int32_t year { 70 };
    int32_t day_of_week { 4 };
    bool operator==(RtcTime const&) const = default;
};

// Everything of the RTC the guest can observe, for snapshots (vmm/snapshot encodes it). The
// time is the guest's offset from the host clock, so a restored RTC follows wall-clock time as
// a real one runs on its battery while the machine is off; `frozen` is the time being set while
// register B's SET bit is 1.
struct CmosRtcState {
    std::array<uint8_t, 128> ram {};
    uint8_t index { 0 };
    int64_t offset_seconds { 0 };
    std::optional<RtcTime> frozen;
    bool operator==(CmosRtcState const&) const = default;
};

class CmosRtc final : public BusDevice {
public:
    using Clock = std::function<timespec()>; // CLOCK_REALTIME by default; tests pass a fixed one

    // ram_below_4g / ram_above_4g: guest RAM in bytes below and above 4 GiB (see cmos_reg).
    CmosRtc(uint64_t ram_below_4g, uint64_t ram_above_4g);
    CmosRtc(uint64_t ram_below_4g, uint64_t ram_above_4g, Clock clock);

    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

    [[nodiscard]] CmosRtcCounters counters() const;

    // Snapshot and restore (cmos_rtc_state.cpp). restore() checks every field first
    // (InvalidArgument, nothing changed); counters are host-side and stay as they are.
    [[nodiscard]] CmosRtcState state() const;
    [[nodiscard]] Result<void> restore(CmosRtcState const&);

private:
    [[nodiscard]] uint8_t read_register(uint8_t index);
    void write_register(uint8_t index, uint8_t value);
    [[nodiscard]] tm guest_time(timespec now) const;
    [[nodiscard]] uint8_t encode(int value) const;
    [[nodiscard]] std::optional<int> decode(uint8_t value) const;
    [[nodiscard]] uint8_t read_time_register(uint8_t index, tm const& time) const;
    void write_time_register(uint8_t index, uint8_t value);
    void set_ram_sizes(uint64_t ram_below_4g, uint64_t ram_above_4g);

    Clock m_clock;
    mutable std::mutex m_mutex; // everything below
    std::array<uint8_t, 128> m_ram {}; // registers A-D live here too; time registers do not
    uint8_t m_index { 0 };
    int64_t m_offset_seconds { 0 }; // guest time minus host time
    std::optional<tm> m_frozen;     // the time being set while REG_B.SET is 1
    CmosRtcCounters m_counters;
};

} // namespace monarch::vmm

// SPDX-License-Identifier: Apache-2.0
// CmosRtc: MC146818 register semantics (datasheet: "Time, calendar and alarm data modes",
// registers A-D). The guest may set the clock; that is kept as an offset from the host clock.
#include "vmm/devices/cmos_rtc.h"

#include "vmm/memory/layout.h"

#include <algorithm>
#include <utility>

namespace monarch::vmm {

using namespace cmos_bits;

namespace {
constexpr uint8_t REG_A_DEFAULT = 0x26; // 32.768 kHz time base, 1024 Hz periodic rate
// The datasheet sets UIP 244 us before an update cycle starts; the update then runs about 2 ms.
// The model updates instantaneously on the second boundary, so UIP reads 1 in the last 244 us
// before it: a reader that waits for UIP to clear and then reads quickly sees one consistent time.
constexpr long UIP_WINDOW_NS = 244'000;

timespec host_clock()
{
    timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    return now;
}

bool is_time_register(uint8_t index)
{
    using namespace cmos_reg;
    return index == SECONDS || index == MINUTES || index == HOURS || index == DAY_OF_WEEK || index == DAY_OF_MONTH
        || index == MONTH || index == YEAR || index == CENTURY;
}
} // namespace

CmosRtc::CmosRtc(uint64_t ram_below_4g, uint64_t ram_above_4g)
    : CmosRtc(ram_below_4g, ram_above_4g, host_clock)
{
}

CmosRtc::CmosRtc(uint64_t ram_below_4g, uint64_t ram_above_4g, Clock clock)
    : m_clock(clock ? std::move(clock) : Clock(host_clock))
{
    m_ram[cmos_reg::REG_A] = REG_A_DEFAULT;
    m_ram[cmos_reg::REG_B] = REG_B_24H;
    m_ram[cmos_reg::REG_D] = REG_D_VRT;
    set_ram_sizes(ram_below_4g, ram_above_4g);
}

void CmosRtc::set_ram_sizes(uint64_t ram_below_4g, uint64_t ram_above_4g)
{
    using namespace cmos_reg;
    auto put16 = [this](uint8_t low, uint64_t value) {
        value = std::min<uint64_t>(value, 0xffff);
        m_ram[low] = static_cast<uint8_t>(value);
        m_ram[low + 1] = static_cast<uint8_t>(value >> 8);
    };
    put16(BASE_MEM_LOW, layout::LOW_RAM_END / layout::KiB);
    uint64_t const extended = ram_below_4g > layout::MiB ? (ram_below_4g - layout::MiB) / layout::KiB : 0;
    put16(EXT_MEM_LOW, extended);
    put16(EXT_MEM2_LOW, extended);
    uint64_t const above_16m = ram_below_4g > 16 * layout::MiB ? (ram_below_4g - 16 * layout::MiB) / (64 * layout::KiB) : 0;
    put16(MEM_ABOVE_16M_LOW, above_16m);
    uint64_t const above_4g = std::min<uint64_t>(ram_above_4g / (64 * layout::KiB), 0xffffff);
    m_ram[MEM_ABOVE_4G_LOW] = static_cast<uint8_t>(above_4g);
    m_ram[MEM_ABOVE_4G_MID] = static_cast<uint8_t>(above_4g >> 8);
    m_ram[MEM_ABOVE_4G_HIGH] = static_cast<uint8_t>(above_4g >> 16);
}

CmosRtcCounters CmosRtc::counters() const
{
    std::lock_guard lock { m_mutex };
    return m_counters;
}

void CmosRtc::read(uint64_t offset, std::span<std::byte> data)
{
    if (data.empty())
        return;
    std::lock_guard lock { m_mutex };
    if (data.size() != 1)
        ++m_counters.wide_accesses;
    std::fill(data.begin(), data.end(), std::byte { 0 });
    // Port 0x70 is write-only on PCs; reading it back as the index is harmless and handy.
    data[0] = std::byte { offset == 0 ? m_index : read_register(m_index) };
}

void CmosRtc::write(uint64_t offset, std::span<std::byte const> data)
{
    if (data.empty())
        return;
    std::lock_guard lock { m_mutex };
    if (data.size() != 1)
        ++m_counters.wide_accesses;
    auto const value = std::to_integer<uint8_t>(data[0]);
    if (offset == 0)
        m_index = value & 0x7f; // bit 7 masks NMI on PCs; NMIs are not the RTC's business here
    else
        write_register(m_index, value);
}

tm CmosRtc::guest_time(timespec now) const
{
    time_t const seconds = static_cast<time_t>(now.tv_sec + m_offset_seconds);
    tm result {};
    ::gmtime_r(&seconds, &result);
    return result;
}

uint8_t CmosRtc::encode(int value) const
{
    if (m_ram[cmos_reg::REG_B] & REG_B_DM_BINARY)
        return static_cast<uint8_t>(value);
    return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

std::optional<int> CmosRtc::decode(uint8_t value) const
{
    if (m_ram[cmos_reg::REG_B] & REG_B_DM_BINARY)
        return value;
    if ((value >> 4) > 9 || (value & 0x0f) > 9)
        return std::nullopt;
    return (value >> 4) * 10 + (value & 0x0f);
}

uint8_t CmosRtc::read_time_register(uint8_t index, tm const& time) const
{
    using namespace cmos_reg;
    switch (index) {
    case SECONDS: return encode(time.tm_sec);
    case MINUTES: return encode(time.tm_min);
    case HOURS:
        if (m_ram[REG_B] & REG_B_24H)
            return encode(time.tm_hour);
        // 12-hour mode: 12, 1, ..., 11 with bit 7 set in the afternoon.
        return static_cast<uint8_t>(encode(time.tm_hour % 12 == 0 ? 12 : time.tm_hour % 12) | (time.tm_hour >= 12 ? HOUR_PM : 0));
    case DAY_OF_WEEK: return encode(time.tm_wday + 1);
    case DAY_OF_MONTH: return encode(time.tm_mday);
    case MONTH: return encode(time.tm_mon + 1);
    case YEAR: return encode((time.tm_year + 1900) % 100);
    case CENTURY: return encode((time.tm_year + 1900) / 100);
    default: return 0;
    }
}

uint8_t CmosRtc::read_register(uint8_t index)
{
    using namespace cmos_reg;
    timespec const now = m_clock();
    if (is_time_register(index))
        return read_time_register(index, m_frozen ? *m_frozen : guest_time(now));
    switch (index) {
    case REG_A: {
        bool const updating = !(m_ram[REG_B] & REG_B_SET) && now.tv_nsec >= 1'000'000'000 - UIP_WINDOW_NS;
        return static_cast<uint8_t>((m_ram[REG_A] & ~REG_A_UIP) | (updating ? REG_A_UIP : 0));
    }
    case REG_C: return std::exchange(m_ram[REG_C], 0); // flags clear on read; no RTC interrupts yet
    case REG_D: return REG_D_VRT;
    default: return m_ram[index];
    }
}

void CmosRtc::write_register(uint8_t index, uint8_t value)
{
    using namespace cmos_reg;
    if (is_time_register(index)) {
        write_time_register(index, value);
        return;
    }
    switch (index) {
    case REG_A: m_ram[REG_A] = value & ~REG_A_UIP; return;
    case REG_B: {
        timespec const now = m_clock();
        bool const was_set = m_ram[REG_B] & REG_B_SET;
        bool const is_set = value & REG_B_SET;
        // SET stops updates while the guest writes a new time; clearing it starts the clock
        // again from what was written (datasheet, register B bit 7).
        if (is_set && !was_set)
            m_frozen = guest_time(now);
        if (!is_set && was_set && m_frozen) {
            m_offset_seconds = static_cast<int64_t>(::timegm(&*m_frozen)) - now.tv_sec;
            m_frozen.reset();
        }
        m_ram[REG_B] = value;
        return;
    }
    case REG_C:
    case REG_D: ++m_counters.read_only_writes; return;
    default: m_ram[index] = value; return;
    }
}

void CmosRtc::write_time_register(uint8_t index, uint8_t value)
{
    using namespace cmos_reg;
    timespec const now = m_clock();
    tm time = m_frozen ? *m_frozen : guest_time(now);
    bool const twelve_hour = index == HOURS && !(m_ram[REG_B] & REG_B_24H);
    auto const decoded = decode(twelve_hour ? value & ~HOUR_PM : value);
    auto in = [&](int low, int high) { return decoded && *decoded >= low && *decoded <= high; };
    bool valid = true;
    switch (index) {
    case SECONDS: valid = in(0, 59) && (time.tm_sec = *decoded, true); break;
    case MINUTES: valid = in(0, 59) && (time.tm_min = *decoded, true); break;
    case HOURS:
        if (twelve_hour)
            valid = in(1, 12) && (time.tm_hour = *decoded % 12 + ((value & HOUR_PM) ? 12 : 0), true);
        else
            valid = in(0, 23) && (time.tm_hour = *decoded, true);
        break;
    case DAY_OF_WEEK: valid = in(1, 7); break; // derived from the date; accepted and ignored
    case DAY_OF_MONTH: valid = in(1, 31) && (time.tm_mday = *decoded, true); break;
    case MONTH: valid = in(1, 12) && (time.tm_mon = *decoded - 1, true); break;
    case YEAR: valid = in(0, 99) && (time.tm_year = (time.tm_year + 1900) / 100 * 100 + *decoded - 1900, true); break;
    case CENTURY: valid = in(19, 99) && (time.tm_year = *decoded * 100 + (time.tm_year + 1900) % 100 - 1900, true); break;
    default: valid = false; break;
    }
    if (!valid) {
        ++m_counters.bad_time_writes;
        return;
    }
    if (m_frozen)
        *m_frozen = time;
    else
        m_offset_seconds = static_cast<int64_t>(::timegm(&time)) - now.tv_sec;
}

} // namespace monarch::vmm

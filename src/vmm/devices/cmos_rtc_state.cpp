// SPDX-License-Identifier: Apache-2.0
// CmosRtc's state for snapshots: CMOS RAM (registers A-D and the alarm and memory bytes among
// it), the index register, the guest's offset from the host clock and the time being set.
#include "vmm/devices/cmos_rtc.h"

namespace monarch::vmm {

using namespace cmos_bits;

namespace {

// Further than any time the registers can express (years 1900-9999) from any host clock.
constexpr int64_t MAX_OFFSET_SECONDS = int64_t { 1 } << 40;
// The year (since 1900) such an offset can reach: the clock runs on past what the guest set.
constexpr int32_t MAX_YEAR = 40'000;

RtcTime from_tm(tm const& time)
{
    return RtcTime { time.tm_sec, time.tm_min, time.tm_hour, time.tm_mday, time.tm_mon, time.tm_year, time.tm_wday };
}

tm to_tm(RtcTime const& time)
{
    tm result {};
    result.tm_sec = time.second;
    result.tm_min = time.minute;
    result.tm_hour = time.hour;
    result.tm_mday = time.day_of_month;
    result.tm_mon = time.month;
    result.tm_year = time.year;
    result.tm_wday = time.day_of_week;
    return result;
}

bool valid_time(RtcTime const& time)
{
    auto in = [](int32_t value, int32_t low, int32_t high) { return value >= low && value <= high; };
    return in(time.second, 0, 59) && in(time.minute, 0, 59) && in(time.hour, 0, 23) && in(time.day_of_month, 1, 31)
        && in(time.month, 0, 11) && in(time.year, 0, MAX_YEAR) && in(time.day_of_week, 0, 6);
}

} // namespace

CmosRtcState CmosRtc::state() const
{
    std::lock_guard lock { m_mutex };
    CmosRtcState state;
    state.ram = m_ram;
    state.index = m_index;
    state.offset_seconds = m_offset_seconds;
    if (m_frozen)
        state.frozen = from_tm(*m_frozen);
    return state;
}

Result<void> CmosRtc::restore(CmosRtcState const& state)
{
    using namespace cmos_reg;
    // What the model itself maintains: UIP is never stored (it is computed on read), register C
    // stays 0 (no RTC interrupts), D always reads VRT, the index is 7 bits (bit 7 of port 0x70 is
    // the NMI mask), and a time is being set exactly while register B's SET bit is 1.
    bool const setting = (state.ram[REG_B] & REG_B_SET) != 0;
    if ((state.ram[REG_A] & REG_A_UIP) != 0 || state.ram[REG_C] != 0 || state.ram[REG_D] != REG_D_VRT || state.index > 0x7f
        || setting != state.frozen.has_value() || (state.frozen && !valid_time(*state.frozen))
        || state.offset_seconds > MAX_OFFSET_SECONDS || state.offset_seconds < -MAX_OFFSET_SECONDS)
        return fail(Errc::InvalidArgument, "rtc state: a field is out of range");
    std::lock_guard lock { m_mutex };
    m_ram = state.ram;
    m_index = state.index;
    m_offset_seconds = state.offset_seconds;
    m_frozen.reset();
    if (state.frozen)
        m_frozen = to_tm(*state.frozen);
    return {};
}

} // namespace monarch::vmm

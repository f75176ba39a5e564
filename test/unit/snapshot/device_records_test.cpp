// SPDX-License-Identifier: Apache-2.0
// The legacy devices' snapshot state: each model driven through its ports into a non-trivial
// state, saved, encoded, decoded, restored into a fresh model, which then behaves the same at
// its ports; hostile records and out-of-range states refused without changing the model.
#include "../devices/device_test_support.h"
#include "vmm/devices/pci/pvpanic.h"
#include "vmm/snapshot/device_state.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;
using monarch::vmm::test::FakeIrq;
using monarch::vmm::test::read16;
using monarch::vmm::test::read8;
using monarch::vmm::test::write16;
using monarch::vmm::test::write8;

namespace {

constexpr uint64_t RAM = 512ull << 20;

// A fixed host clock: 2024-02-29 13:45:30 UTC, mid-second (UIP reads 0).
timespec fixed_clock() { return timespec { 1709214330, 500'000'000 }; }

uint8_t rtc_read(CmosRtc& rtc, uint8_t index)
{
    write8(rtc, 0, index);
    return read8(rtc, 1);
}

void rtc_write(CmosRtc& rtc, uint8_t index, uint8_t value)
{
    write8(rtc, 0, index);
    write8(rtc, 1, value);
}

template<typename Decode>
void refuses_every_truncation(std::vector<std::byte> const& blob, Decode decode)
{
    for (size_t length = 0; length < blob.size(); ++length)
        REQUIRE_FALSE(decode(std::span { blob }.first(length)).has_value());
    auto longer = blob;
    longer.push_back(std::byte { 0 });
    CHECK(decode(longer).error().code == Errc::Corrupt);
    auto newer = blob;
    newer[4] = std::byte { 2 };
    CHECK(decode(newer).error().code == Errc::Corrupt);
    auto other = blob;
    other[1] ^= std::byte { 0x20 };
    CHECK(decode(other).error().code == Errc::Corrupt);
}

} // namespace

TEST_CASE("an RTC set by the guest comes back with its time, mode, alarms and RAM", "[unit][snapshot][rtc]")
{
    using namespace cmos_reg;
    CmosRtc rtc { RAM, 0, fixed_clock };
    rtc_write(rtc, REG_B, cmos_bits::REG_B_24H | cmos_bits::REG_B_DM_BINARY | cmos_bits::REG_B_SET);
    rtc_write(rtc, YEAR, 31); // binary mode: 2031
    rtc_write(rtc, HOURS, 7);
    rtc_write(rtc, REG_B, cmos_bits::REG_B_24H | cmos_bits::REG_B_DM_BINARY); // runs from the new time
    rtc_write(rtc, MINUTES_ALARM, 0x33);
    rtc_write(rtc, REG_A, 0x2a);
    rtc_write(rtc, 0x40, 0x5c); // a plain CMOS RAM byte
    write8(rtc, 0, 0x40);       // leave the index pointing at it

    auto const before = rtc.state();
    auto blob = encode_rtc(before);
    auto decoded = decode_rtc(blob);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == before);

    CmosRtc copy { RAM, 0, fixed_clock };
    REQUIRE(copy.restore(*decoded).has_value());
    CHECK(copy.state() == before);
    CHECK(read8(copy, 1) == 0x5c); // the index came back too
    for (uint8_t index : { SECONDS, MINUTES, HOURS, DAY_OF_MONTH, MONTH, YEAR, CENTURY, MINUTES_ALARM, REG_A, REG_B, REG_D })
        CHECK(rtc_read(copy, index) == rtc_read(rtc, index));
    CHECK(rtc_read(copy, YEAR) == 31);
    CHECK(rtc_read(copy, HOURS) == 7);
    refuses_every_truncation(blob, [](auto span) { return decode_rtc(span); });
}

TEST_CASE("an RTC saved while the guest sets it finishes setting the same time", "[unit][snapshot][rtc]")
{
    using namespace cmos_reg;
    CmosRtc rtc { RAM, 0, fixed_clock };
    rtc_write(rtc, REG_B, cmos_bits::REG_B_24H | cmos_bits::REG_B_SET);
    rtc_write(rtc, MONTH, 0x11); // BCD: November
    auto const before = rtc.state();
    REQUIRE(before.frozen.has_value());
    auto decoded = decode_rtc(encode_rtc(before));
    REQUIRE(decoded.has_value());
    CHECK(*decoded == before);
    CmosRtc copy { RAM, 0, fixed_clock };
    REQUIRE(copy.restore(*decoded).has_value());
    for (auto* device : { &rtc, &copy }) {
        rtc_write(*device, DAY_OF_MONTH, 0x05);
        rtc_write(*device, REG_B, cmos_bits::REG_B_24H);
    }
    CHECK(copy.state() == rtc.state());
    CHECK(rtc_read(copy, MONTH) == 0x11);
    CHECK(rtc_read(copy, DAY_OF_MONTH) == 0x05);
}

TEST_CASE("out-of-range RTC states are refused and change nothing", "[unit][snapshot][rtc]")
{
    using namespace cmos_reg;
    CmosRtc rtc { RAM, 0, fixed_clock };
    auto const good = rtc.state();
    std::vector<CmosRtcState> bad(7, good);
    bad[0].ram[REG_A] |= cmos_bits::REG_A_UIP;
    bad[1].ram[REG_C] = 0x80;
    bad[2].ram[REG_D] = 0;
    bad[3].index = 0x80;
    bad[4].ram[REG_B] |= cmos_bits::REG_B_SET; // setting, but no time being set
    bad[5].frozen = RtcTime { 60, 0, 0, 1, 0, 100, 0 };
    bad[5].ram[REG_B] |= cmos_bits::REG_B_SET;
    bad[6].offset_seconds = INT64_MAX;
    CmosRtc target { RAM, 0, fixed_clock };
    rtc_write(target, 0x41, 0x99);
    auto const target_before = target.state();
    for (size_t i = 0; i < bad.size(); ++i) {
        INFO("case " << i);
        CHECK(target.restore(bad[i]).error().code == Errc::InvalidArgument);
        CHECK(target.state() == target_before);
    }
}

TEST_CASE("an i8042 with queued output and a pending command comes back the same", "[unit][snapshot][i8042]")
{
    int resets = 0;
    auto controller = std::make_shared<I8042>([&] { ++resets; });
    auto data = I8042::data_port(controller);
    auto command = I8042::command_port(controller);
    write8(*command, 0, 0xd2); // next byte as if from the keyboard
    write8(*data, 0, 0x1c);
    write8(*command, 0, 0xd3); // next byte as if from the mouse
    write8(*data, 0, 0x2d);
    write8(*command, 0, 0xad); // disable the keyboard
    write8(*command, 0, 0x20); // command byte -> output
    write8(*command, 0, 0x60); // the next data byte is the command byte

    auto const before = controller->state();
    REQUIRE(before.output.size() == 3);
    auto blob = encode_i8042(before);
    auto decoded = decode_i8042(blob);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == before);

    auto copy = std::make_shared<I8042>([&] { ++resets; });
    REQUIRE(copy->restore(*decoded).has_value());
    CHECK(copy->state() == before);
    auto copy_data = I8042::data_port(copy);
    auto copy_command = I8042::command_port(copy);
    for (auto [d, c] : { std::pair { data.get(), command.get() }, std::pair { copy_data.get(), copy_command.get() } }) {
        write8(*d, 0, 0x47); // completes the pending 0x60
        write8(*c, 0, 0x20);
    }
    for (int i = 0; i < 5; ++i) {
        INFO("read " << i);
        CHECK(read8(*copy_command, 0) == read8(*command, 0)); // status: OBF, AUX_OBF, SYS, CMD
        CHECK(read8(*copy_data, 0) == read8(*data, 0));
    }
    CHECK(resets == 0);
    refuses_every_truncation(blob, [](auto span) { return decode_i8042(span); });

    auto too_many = encode_i8042(I8042State { std::vector<I8042Output>(I8042::OUTPUT_SIZE + 1), 0, 3, false, 0 });
    CHECK(decode_i8042(too_many).error().code == Errc::Corrupt);
    auto bad_bool = blob;
    bad_bool[6 + 4 + 1] = std::byte { 2 }; // the first output byte's aux flag
    CHECK(decode_i8042(bad_bool).error().code == Errc::Corrupt);
    auto const copy_before = copy->state();
    auto bad = before;
    bad.pending = 6;
    CHECK(copy->restore(bad).error().code == Errc::InvalidArgument);
    bad = before;
    bad.output.resize(I8042::OUTPUT_SIZE + 1);
    CHECK(copy->restore(bad).error().code == Errc::InvalidArgument);
    CHECK(copy->state() == copy_before);
}

TEST_CASE("ACPI PM registers with a pressed power button come back with the SCI asserted", "[unit][snapshot][acpi]")
{
    using namespace acpi_pm_bits;
    FakeIrq sci;
    auto pm = std::make_shared<AcpiPm>(sci, [] {});
    auto event = AcpiPm::event_port(pm);
    auto control = AcpiPm::control_port(pm);
    write16(*event, 2, PM1_PWRBTN_EN);
    write16(*control, 0, static_cast<uint16_t>(3 << PM1_CNT_SLP_TYP_SHIFT)); // a sleep type, no SLP_EN
    pm->press_power_button();
    REQUIRE(sci.level);

    auto const before = pm->state();
    auto blob = encode_acpi_pm(before);
    auto decoded = decode_acpi_pm(blob);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == before);

    FakeIrq sci2;
    int power_offs = 0;
    auto copy = std::make_shared<AcpiPm>(sci2, [&] { ++power_offs; });
    REQUIRE(copy->restore(*decoded).has_value());
    CHECK(sci2.level);
    CHECK(copy->state() == before);
    auto copy_event = AcpiPm::event_port(copy);
    auto copy_control = AcpiPm::control_port(copy);
    CHECK(read16(*copy_event, 0) == read16(*event, 0));
    CHECK(read16(*copy_event, 2) == read16(*event, 2));
    CHECK(read16(*copy_control, 0) == read16(*control, 0));
    write16(*copy_event, 0, PM1_PWRBTN_STS); // the guest acknowledges: the SCI drops
    CHECK_FALSE(sci2.level);
    CHECK(power_offs == 0);
    refuses_every_truncation(blob, [](auto span) { return decode_acpi_pm(span); });

    FakeIrq sci3;
    AcpiPm target { sci3, [] {} };
    auto const target_before = target.state();
    for (auto bad : { AcpiPmState { PM1_TMR_STS, 0, PM1_CNT_SCI_EN }, AcpiPmState { 0, 1, PM1_CNT_SCI_EN },
             AcpiPmState { 0, 0, 0 }, AcpiPmState { 0, 0, PM1_CNT_SCI_EN | PM1_CNT_SLP_EN } }) {
        CHECK(target.restore(bad).error().code == Errc::InvalidArgument);
        CHECK(target.state() == target_before);
        CHECK_FALSE(sci3.level);
    }
}

TEST_CASE("a pvpanic device's configuration space comes back with its BAR and command", "[unit][snapshot][pvpanic]")
{
    pci::PvPanic source { pci::PvPanic::Events {} };
    source.bar_assigned(0, 0xc0020000);
    std::array<std::byte, 2> command { std::byte { pci::command::MEMORY_SPACE }, std::byte { 0 } };
    source.config_write(pci::config::COMMAND, command);

    auto blob = encode_pvpanic(source.config_state());
    auto decoded = decode_pvpanic(blob);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == source.config_state());
    refuses_every_truncation(blob, [](auto span) { return decode_pvpanic(span); });

    pci::PvPanic target { pci::PvPanic::Events {} };
    REQUIRE(target.restore_config(*decoded).has_value());
    CHECK(target.config_state() == source.config_state());
    // Another device's configuration space (the host bridge's IDs) is refused, unchanged.
    auto other = *decoded;
    other[pci::config::DEVICE_ID] = std::byte { 0x08 };
    pci::PvPanic fresh { pci::PvPanic::Events {} };
    auto const fresh_before = fresh.config_state();
    CHECK(fresh.restore_config(other).error().code == Errc::Corrupt);
    CHECK(fresh.config_state() == fresh_before);
}

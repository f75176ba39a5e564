// SPDX-License-Identifier: Apache-2.0
// Device state encoders and decoders, field by field (kinds and layouts in docs/vmcrypt.md).
#include "vmm/snapshot/device_state.h"

#include "vmm/snapshot/state_codec.h"

#include <algorithm>

namespace monarch::vmm::snapshot {

namespace {
constexpr std::string_view UART_KIND = "UART";
constexpr uint16_t UART_VERSION = 1;
constexpr std::string_view RTC_KIND = "CMOS";
constexpr uint16_t RTC_VERSION = 1;
constexpr std::string_view I8042_KIND = "8042";
constexpr uint16_t I8042_VERSION = 1;
constexpr std::string_view ACPI_PM_KIND = "ACPM";
constexpr uint16_t ACPI_PM_VERSION = 1;
constexpr std::string_view PVPANIC_KIND = "PVPN";
constexpr uint16_t PVPANIC_VERSION = 1;
} // namespace

std::vector<std::byte> encode_uart(UartState const& state)
{
    StateEncoder out(UART_KIND, UART_VERSION);
    out.bytes(state.rx_fifo);
    for (uint8_t value : { state.ier, state.lcr, state.mcr, state.lsr_errors, state.msr, state.scr, state.dll, state.dlm })
        out.u8(value);
    out.boolean(state.fifo_enabled);
    out.u8(state.rx_trigger);
    out.boolean(state.thr_interrupt);
    return out.take();
}

Result<UartState> decode_uart(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, UART_KIND, UART_VERSION));
    UartState state;
    auto fifo = TRY(in.bytes(Uart8250::FIFO_SIZE));
    state.rx_fifo.assign(fifo.begin(), fifo.end());
    for (uint8_t* field : { &state.ier, &state.lcr, &state.mcr, &state.lsr_errors, &state.msr, &state.scr, &state.dll, &state.dlm })
        *field = TRY(in.u8());
    state.fifo_enabled = TRY(in.boolean());
    state.rx_trigger = TRY(in.u8());
    state.thr_interrupt = TRY(in.boolean());
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_rtc(CmosRtcState const& state)
{
    StateEncoder out(RTC_KIND, RTC_VERSION);
    out.bytes(std::as_bytes(std::span { state.ram }));
    out.u8(state.index);
    out.u64(static_cast<uint64_t>(state.offset_seconds));
    out.boolean(state.frozen.has_value());
    if (state.frozen) {
        auto const& time = *state.frozen; // RtcTime in declaration order, two's complement
        for (int32_t value : { time.second, time.minute, time.hour, time.day_of_month, time.month, time.year, time.day_of_week })
            out.u32(static_cast<uint32_t>(value));
    }
    return out.take();
}

Result<CmosRtcState> decode_rtc(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, RTC_KIND, RTC_VERSION));
    CmosRtcState state;
    auto ram = TRY(in.bytes(state.ram.size()));
    if (ram.size() != state.ram.size())
        return fail(Errc::Corrupt, "snapshot state: CMOS RAM has the wrong length");
    for (size_t i = 0; i < ram.size(); ++i)
        state.ram[i] = std::to_integer<uint8_t>(ram[i]);
    state.index = TRY(in.u8());
    state.offset_seconds = static_cast<int64_t>(TRY(in.u64()));
    if (TRY(in.boolean())) {
        RtcTime time;
        for (auto* field : { &time.second, &time.minute, &time.hour, &time.day_of_month, &time.month, &time.year, &time.day_of_week })
            *field = static_cast<int32_t>(TRY(in.u32()));
        state.frozen = time;
    }
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_i8042(I8042State const& state)
{
    StateEncoder out(I8042_KIND, I8042_VERSION);
    out.u32(static_cast<uint32_t>(state.output.size()));
    for (auto const& byte : state.output) {
        out.u8(byte.value);
        out.boolean(byte.aux);
    }
    for (uint8_t value : { state.ctr, state.output_port })
        out.u8(value);
    out.boolean(state.last_was_command);
    out.u8(state.pending);
    return out.take();
}

Result<I8042State> decode_i8042(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, I8042_KIND, I8042_VERSION));
    I8042State state;
    uint32_t const count = TRY(in.u32());
    if (count > I8042::OUTPUT_SIZE)
        return fail(Errc::Corrupt, "snapshot state: more i8042 output bytes than its buffer holds");
    for (uint32_t i = 0; i < count; ++i) {
        I8042Output byte;
        byte.value = TRY(in.u8());
        byte.aux = TRY(in.boolean());
        state.output.push_back(byte);
    }
    state.ctr = TRY(in.u8());
    state.output_port = TRY(in.u8());
    state.last_was_command = TRY(in.boolean());
    state.pending = TRY(in.u8());
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_acpi_pm(AcpiPmState const& state)
{
    StateEncoder out(ACPI_PM_KIND, ACPI_PM_VERSION);
    for (uint16_t value : { state.status, state.enable, state.control })
        out.u16(value);
    return out.take();
}

Result<AcpiPmState> decode_acpi_pm(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, ACPI_PM_KIND, ACPI_PM_VERSION));
    AcpiPmState state;
    for (uint16_t* field : { &state.status, &state.enable, &state.control })
        *field = TRY(in.u16());
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_pvpanic(PciConfigBytes const& config)
{
    StateEncoder out(PVPANIC_KIND, PVPANIC_VERSION);
    out.bytes(config);
    return out.take();
}

Result<PciConfigBytes> decode_pvpanic(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, PVPANIC_KIND, PVPANIC_VERSION));
    PciConfigBytes config {};
    auto bytes = TRY(in.bytes(config.size()));
    if (bytes.size() != config.size())
        return fail(Errc::Corrupt, "snapshot state: the pvpanic configuration space has the wrong length");
    std::copy(bytes.begin(), bytes.end(), config.begin());
    TRY_VOID(in.finish());
    return config;
}

} // namespace monarch::vmm::snapshot

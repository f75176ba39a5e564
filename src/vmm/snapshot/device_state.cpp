// SPDX-License-Identifier: Apache-2.0
// Device state encoders and decoders, field by field.
#include "vmm/snapshot/device_state.h"

#include "vmm/snapshot/state_codec.h"

namespace monarch::vmm::snapshot {

namespace {
constexpr std::string_view UART_KIND = "UART";
constexpr uint16_t UART_VERSION = 1;
}

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

} // namespace monarch::vmm::snapshot

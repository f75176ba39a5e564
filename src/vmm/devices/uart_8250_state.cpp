// SPDX-License-Identifier: Apache-2.0
// Uart8250's state for snapshots: what the guest can observe, taken and put back under the lock.
#include "vmm/devices/uart_8250.h"

namespace monarch::vmm {

using namespace uart_bits;

UartState Uart8250::state() const
{
    std::lock_guard lock { m_mutex };
    UartState state;
    for (size_t i = 0; i < m_rx_count; ++i)
        state.rx_fifo.push_back(m_rx_fifo[(m_rx_head + i) % FIFO_SIZE]);
    state.ier = m_ier;
    state.lcr = m_lcr;
    state.mcr = m_mcr;
    state.lsr_errors = m_lsr_errors;
    state.msr = m_msr;
    state.scr = m_scr;
    state.dll = m_dll;
    state.dlm = m_dlm;
    state.fifo_enabled = m_fifo_enabled;
    state.rx_trigger = m_rx_trigger;
    state.thr_interrupt = m_thr_interrupt;
    return state;
}

Result<void> Uart8250::restore(UartState const& state)
{
    // 16550A datasheet: IER bits 4-7 and MCR bits 5-7 read as 0; only OE/PE/FE/BI latch in LSR;
    // the FCR trigger levels are 1, 4, 8 and 14; without FIFOs the receiver holds one byte.
    bool const trigger_ok = state.rx_trigger == 1 || state.rx_trigger == 4 || state.rx_trigger == 8 || state.rx_trigger == 14;
    size_t const capacity = state.fifo_enabled ? FIFO_SIZE : 1;
    if ((state.ier & 0xf0) != 0 || (state.mcr & 0xe0) != 0 || (state.lsr_errors & ~(LSR_OE | LSR_PE | LSR_FE | LSR_BI)) != 0
        || !trigger_ok || state.rx_fifo.size() > capacity)
        return fail(Errc::InvalidArgument, "uart state: a field is out of range");
    {
        std::lock_guard lock { m_mutex };
        m_rx_head = 0;
        m_rx_count = 0;
        for (auto byte : state.rx_fifo)
            push_rx(byte);
        m_ier = state.ier;
        m_lcr = state.lcr;
        m_mcr = state.mcr;
        m_lsr_errors = state.lsr_errors;
        m_msr = state.msr;
        m_scr = state.scr;
        m_dll = state.dll;
        m_dlm = state.dlm;
        m_fifo_enabled = state.fifo_enabled;
        m_rx_trigger = state.rx_trigger;
        m_thr_interrupt = state.thr_interrupt;
    }
    update_irq();
    return {};
}

} // namespace monarch::vmm

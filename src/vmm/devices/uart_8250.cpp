// SPDX-License-Identifier: Apache-2.0
// Uart8250: register semantics after the 16550A datasheet (register descriptions, interrupt
// control table). Transmission completes at once, so LSR.THRE/TEMT always read 1.
#include "vmm/devices/uart_8250.h"

#include <algorithm>
#include <utility>

namespace monarch::vmm {

using namespace uart_bits;

namespace {
// Modem inputs while not in loopback: a connected, ready peer (CTS, DSR, DCD asserted).
constexpr uint8_t MSR_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;
constexpr uint8_t LSR_ERRORS = LSR_OE | LSR_PE | LSR_FE | LSR_BI;
} // namespace

Uart8250::Uart8250(IrqLine& irq, std::function<void(std::span<std::byte const>)> transmit)
    : m_irq(irq)
    , m_transmit(std::move(transmit))
    , m_msr(MSR_CONNECTED)
{
}

void Uart8250::set_rx_room_callback(std::function<void()> callback)
{
    std::lock_guard lock { m_mutex };
    m_rx_room = std::move(callback);
}

UartCounters Uart8250::counters() const
{
    std::lock_guard lock { m_mutex };
    return m_counters;
}

size_t Uart8250::rx_capacity() const
{
    // A 16550 with FIFOs disabled behaves as a 16450: one receiver buffer register.
    return m_fifo_enabled ? FIFO_SIZE : 1;
}

void Uart8250::push_rx(std::byte byte)
{
    m_rx_fifo[(m_rx_head + m_rx_count) % FIFO_SIZE] = byte;
    ++m_rx_count;
}

void Uart8250::clear_rx()
{
    m_rx_head = 0;
    m_rx_count = 0;
}

// Interrupt control table: line status > received data (or timeout) > THR empty > modem status.
uint8_t Uart8250::pending_interrupt() const
{
    if ((m_ier & IER_ELSI) && (m_lsr_errors & LSR_ERRORS))
        return IIR_RLS;
    if ((m_ier & IER_ERBFI) && m_rx_count > 0) {
        // Below the FIFO trigger level the datasheet raises a character timeout after four
        // character times without FIFO activity; the model lets that time pass at once.
        if (!m_fifo_enabled || m_rx_count >= m_rx_trigger)
            return IIR_RDA;
        return IIR_CTI;
    }
    if ((m_ier & IER_ETBEI) && m_thr_interrupt)
        return IIR_THRE;
    if ((m_ier & IER_EDSSI) && (m_msr & 0x0f))
        return IIR_MS;
    return IIR_NO_INT;
}

void Uart8250::update_irq()
{
    // OUT2 gates the interrupt on PC boards, but Linux always sets it; like QEMU, the model
    // does not gate, so polling-free early drivers see interrupts too.
    m_irq.update([this] {
        std::lock_guard lock { m_mutex };
        return pending_interrupt() != IIR_NO_INT;
    });
}

size_t Uart8250::enqueue_rx(std::span<std::byte const> bytes)
{
    size_t accepted = 0;
    {
        std::lock_guard lock { m_mutex };
        if (!(m_mcr & MCR_LOOP)) {
            accepted = std::min(bytes.size(), rx_capacity() - m_rx_count);
            for (size_t i = 0; i < accepted; ++i)
                push_rx(bytes[i]);
            m_counters.rx_bytes += accepted;
        }
        if (accepted < bytes.size())
            m_rx_blocked = true;
    }
    if (accepted > 0)
        update_irq();
    return accepted;
}

bool Uart8250::rx_has_room() const
{
    std::lock_guard lock { m_mutex };
    return !(m_mcr & MCR_LOOP) && m_rx_count < rx_capacity();
}

void Uart8250::read(uint64_t offset, std::span<std::byte> data)
{
    if (data.empty())
        return;
    bool made_room = false;
    std::function<void()> room_callback;
    uint8_t value = 0;
    {
        std::lock_guard lock { m_mutex };
        if (data.size() != 1)
            ++m_counters.wide_accesses;
        value = read_register(offset, made_room);
        if (made_room)
            room_callback = m_rx_room;
    }
    std::fill(data.begin(), data.end(), std::byte { 0 });
    data[0] = std::byte { value };
    update_irq();
    if (room_callback)
        room_callback();
}

uint8_t Uart8250::read_register(uint64_t offset, bool& made_room)
{
    bool const dlab = m_lcr & LCR_DLAB;
    switch (offset) {
    case uart_reg::RBR: return dlab ? m_dll : read_rbr(made_room);
    case uart_reg::IER: return dlab ? m_dlm : m_ier;
    case uart_reg::IIR: return read_iir();
    case uart_reg::LCR: return m_lcr;
    case uart_reg::MCR: return m_mcr;
    case uart_reg::LSR: return read_lsr();
    case uart_reg::MSR: {
        uint8_t const value = m_msr;
        m_msr &= 0xf0; // reading MSR clears the delta bits (and the modem status interrupt)
        return value;
    }
    case uart_reg::SCR: return m_scr;
    default: return 0xff; // the bus never sends offsets past 7
    }
}

uint8_t Uart8250::read_rbr(bool& made_room)
{
    if (m_rx_count == 0)
        return 0;
    auto const byte = m_rx_fifo[m_rx_head];
    m_rx_head = (m_rx_head + 1) % FIFO_SIZE;
    --m_rx_count;
    if (m_rx_blocked) {
        m_rx_blocked = false;
        made_room = true;
    }
    return std::to_integer<uint8_t>(byte);
}

uint8_t Uart8250::read_iir()
{
    uint8_t const id = pending_interrupt();
    // Reading IIR clears a THRE interrupt when it is the one reported (interrupt control table).
    if (id == IIR_THRE)
        m_thr_interrupt = false;
    return id | (m_fifo_enabled ? IIR_FIFO_ENABLED : 0);
}

uint8_t Uart8250::read_lsr()
{
    uint8_t value = m_lsr_errors | LSR_THRE | LSR_TEMT;
    if (m_rx_count > 0)
        value |= LSR_DR;
    m_lsr_errors = 0; // reading LSR clears the error bits and the line status interrupt
    return value;
}

void Uart8250::write(uint64_t offset, std::span<std::byte const> data)
{
    if (data.empty())
        return;
    auto const value = std::to_integer<uint8_t>(data[0]);
    // Writes hold m_tx_mutex through the transmit callback so that bytes leave in THR-write
    // order (the callback must not write to this UART).
    std::unique_lock tx_lock { m_tx_mutex };
    std::optional<std::byte> tx;
    {
        std::lock_guard lock { m_mutex };
        if (data.size() != 1)
            ++m_counters.wide_accesses;
        tx = write_register(offset, value);
    }
    update_irq();
    if (!tx)
        return;
    transmit_byte(*tx);
}

void Uart8250::transmit_byte(std::byte byte)
{
    // THR write cleared the THRE interrupt (and update_irq() above lowered the line if nothing
    // else was pending); the byte leaves at once, THR is empty again: raise THRE anew, so an
    // edge-triggered PIC input sees a fresh edge for every byte, as on hardware.
    if (m_transmit)
        m_transmit(std::span<std::byte const>(&byte, 1));
    {
        std::lock_guard lock { m_mutex };
        m_thr_interrupt = true;
    }
    update_irq();
}

std::optional<std::byte> Uart8250::write_register(uint64_t offset, uint8_t value)
{
    bool const dlab = m_lcr & LCR_DLAB;
    switch (offset) {
    case uart_reg::THR:
        if (dlab) {
            m_dll = value;
            return std::nullopt;
        }
        m_thr_interrupt = false;
        if (m_mcr & MCR_LOOP) {
            // Loopback: the transmitter output is wired to the receiver input internally.
            ++m_counters.loopback_bytes;
            if (m_rx_count < rx_capacity()) {
                push_rx(std::byte { value });
            } else {
                m_lsr_errors |= LSR_OE;
                ++m_counters.overruns;
            }
            m_thr_interrupt = true;
            return std::nullopt;
        }
        ++m_counters.tx_bytes;
        return std::byte { value };
    case uart_reg::IER:
        if (dlab) {
            m_dlm = value;
            return std::nullopt;
        }
        // Enabling ETBEI while THR is empty (always, here) raises THRE at once.
        if ((value ^ m_ier) & IER_ETBEI)
            m_thr_interrupt = value & IER_ETBEI;
        m_ier = value & 0x0f;
        return std::nullopt;
    case uart_reg::FCR: write_fcr(value); return std::nullopt;
    case uart_reg::LCR: m_lcr = value; return std::nullopt;
    case uart_reg::MCR: write_mcr(value); return std::nullopt;
    case uart_reg::LSR:
    case uart_reg::MSR: ++m_counters.read_only_writes; return std::nullopt;
    case uart_reg::SCR: m_scr = value; return std::nullopt;
    default: return std::nullopt;
    }
}

void Uart8250::write_fcr(uint8_t value)
{
    bool const enable = value & FCR_ENABLE;
    // Switching the FIFOs on or off resets them.
    if (enable != m_fifo_enabled)
        clear_rx();
    m_fifo_enabled = enable;
    if (!enable)
        return; // FCR bits 1-7 are programmed only together with bit 0
    if (value & FCR_CLEAR_RX)
        clear_rx();
    // FCR_CLEAR_TX: the transmit FIFO is always empty here.
    static constexpr std::array<uint8_t, 4> triggers { 1, 4, 8, 14 };
    m_rx_trigger = triggers[(value & FCR_TRIGGER_MASK) >> 6];
}

uint8_t Uart8250::modem_inputs() const
{
    if (!(m_mcr & MCR_LOOP))
        return MSR_CONNECTED;
    // Loopback wiring: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
    uint8_t inputs = 0;
    if (m_mcr & MCR_RTS)
        inputs |= MSR_CTS;
    if (m_mcr & MCR_DTR)
        inputs |= MSR_DSR;
    if (m_mcr & MCR_OUT1)
        inputs |= MSR_RI;
    if (m_mcr & MCR_OUT2)
        inputs |= MSR_DCD;
    return inputs;
}

void Uart8250::write_mcr(uint8_t value)
{
    uint8_t const before = modem_inputs();
    bool const was_loop = m_mcr & MCR_LOOP;
    m_mcr = value & 0x1f;
    if (was_loop != bool(m_mcr & MCR_LOOP))
        clear_rx(); // the receiver switches between the serial input and the transmitter
    uint8_t const after = modem_inputs();
    uint8_t const changed = before ^ after;
    uint8_t deltas = 0;
    if (changed & MSR_CTS)
        deltas |= MSR_DCTS;
    if (changed & MSR_DSR)
        deltas |= MSR_DDSR;
    if ((before & MSR_RI) && !(after & MSR_RI))
        deltas |= MSR_TERI; // trailing edge only
    if (changed & MSR_DCD)
        deltas |= MSR_DDCD;
    m_msr = after | ((m_msr | deltas) & 0x0f);
}

} // namespace monarch::vmm

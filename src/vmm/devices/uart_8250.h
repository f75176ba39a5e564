// SPDX-License-Identifier: Apache-2.0
// Uart8250: a 16550A UART at 8 consecutive ports (COM1 at layout::PORT_COM1), as Linux's 8250
// driver and earlyprintk use it. Transmission is instantaneous; the 16-byte RX FIFO is fed by the
// host through enqueue_rx(). Pure model: no fds, no KVM; the interrupt goes through an IrqLine.
#pragma once

#include "common/result.h"
#include "vmm/devices/bus_device.h"
#include "vmm/devices/irq_level.h"
#include "vmm/devices/irq_line.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace monarch::vmm {

// Register offsets from the base port (16550A datasheet, register summary). Offsets 0 and 1
// reach DLL/DLM instead while LCR.DLAB is set.
namespace uart_reg {
inline constexpr uint64_t RBR = 0; // receiver buffer (read)
inline constexpr uint64_t THR = 0; // transmitter holding (write)
inline constexpr uint64_t DLL = 0; // divisor latch LSB (DLAB = 1)
inline constexpr uint64_t IER = 1; // interrupt enable
inline constexpr uint64_t DLM = 1; // divisor latch MSB (DLAB = 1)
inline constexpr uint64_t IIR = 2; // interrupt identification (read)
inline constexpr uint64_t FCR = 2; // FIFO control (write)
inline constexpr uint64_t LCR = 3; // line control
inline constexpr uint64_t MCR = 4; // modem control
inline constexpr uint64_t LSR = 5; // line status (read only)
inline constexpr uint64_t MSR = 6; // modem status (read only)
inline constexpr uint64_t SCR = 7; // scratch
} // namespace uart_reg

namespace uart_bits {
inline constexpr uint8_t IER_ERBFI = 0x01; // received data available
inline constexpr uint8_t IER_ETBEI = 0x02; // transmitter holding register empty
inline constexpr uint8_t IER_ELSI = 0x04;  // receiver line status
inline constexpr uint8_t IER_EDSSI = 0x08; // modem status
inline constexpr uint8_t IIR_NO_INT = 0x01;
inline constexpr uint8_t IIR_ID_MASK = 0x0e;
inline constexpr uint8_t IIR_RLS = 0x06;  // receiver line status: priority 1
inline constexpr uint8_t IIR_RDA = 0x04;  // received data available: priority 2
inline constexpr uint8_t IIR_CTI = 0x0c;  // character timeout (FIFO mode): priority 2
inline constexpr uint8_t IIR_THRE = 0x02; // THR empty: priority 3
inline constexpr uint8_t IIR_MS = 0x00;   // modem status: priority 4
inline constexpr uint8_t IIR_FIFO_ENABLED = 0xc0;
inline constexpr uint8_t FCR_ENABLE = 0x01;
inline constexpr uint8_t FCR_CLEAR_RX = 0x02;
inline constexpr uint8_t FCR_CLEAR_TX = 0x04;
inline constexpr uint8_t FCR_TRIGGER_MASK = 0xc0; // RX trigger level 1, 4, 8, 14
inline constexpr uint8_t LCR_DLAB = 0x80;
inline constexpr uint8_t MCR_DTR = 0x01;
inline constexpr uint8_t MCR_RTS = 0x02;
inline constexpr uint8_t MCR_OUT1 = 0x04;
inline constexpr uint8_t MCR_OUT2 = 0x08;
inline constexpr uint8_t MCR_LOOP = 0x10;
inline constexpr uint8_t LSR_DR = 0x01;   // data ready
inline constexpr uint8_t LSR_OE = 0x02;   // overrun error
inline constexpr uint8_t LSR_PE = 0x04;   // parity error
inline constexpr uint8_t LSR_FE = 0x08;   // framing error
inline constexpr uint8_t LSR_BI = 0x10;   // break interrupt
inline constexpr uint8_t LSR_THRE = 0x20; // THR empty
inline constexpr uint8_t LSR_TEMT = 0x40; // transmitter empty
inline constexpr uint8_t MSR_DCTS = 0x01;
inline constexpr uint8_t MSR_DDSR = 0x02;
inline constexpr uint8_t MSR_TERI = 0x04; // trailing edge of RI
inline constexpr uint8_t MSR_DDCD = 0x08;
inline constexpr uint8_t MSR_CTS = 0x10;
inline constexpr uint8_t MSR_DSR = 0x20;
inline constexpr uint8_t MSR_RI = 0x40;
inline constexpr uint8_t MSR_DCD = 0x80;
} // namespace uart_bits

// Guest-triggerable oddities and traffic, for the VMM's metrics.
struct UartCounters {
    uint64_t tx_bytes { 0 };         // handed to the transmit callback
    uint64_t rx_bytes { 0 };         // accepted from the host
    uint64_t loopback_bytes { 0 };   // looped from THR to RBR
    uint64_t overruns { 0 };         // a looped byte hit a full RX FIFO (LSR.OE)
    uint64_t read_only_writes { 0 }; // writes to LSR or MSR, ignored
    uint64_t wide_accesses { 0 };    // accesses wider than 1 byte: the low byte is used
};

// Everything of the UART that the guest can observe, for snapshots (vmm/snapshot encodes it).
// Host-side things (the transmit callback, a host that is waiting for room, counters) are not part of it.
struct UartState {
    std::vector<std::byte> rx_fifo; // received bytes not yet read, oldest first
    uint8_t ier { 0 };
    uint8_t lcr { 0 };
    uint8_t mcr { 0 };
    uint8_t lsr_errors { 0 };
    uint8_t msr { 0 };
    uint8_t scr { 0 };
    uint8_t dll { 0 };
    uint8_t dlm { 0 };
    bool fifo_enabled { false };
    uint8_t rx_trigger { 1 };
    bool thr_interrupt { false };
    bool operator==(UartState const&) const = default;
};

class Uart8250 final : public BusDevice {
public:
    static constexpr size_t FIFO_SIZE = 16;

    // transmit is called on the vCPU thread that wrote THR, without the device's state lock,
    // one byte per call, in order; it must not block for long (CharBackend::write does not).
    Uart8250(IrqLine& irq, std::function<void(std::span<std::byte const>)> transmit);

    void read(uint64_t offset, std::span<std::byte> data) override;
    void write(uint64_t offset, std::span<std::byte const> data) override;

    // Host input. Returns how many bytes fit in the RX FIFO (16 bytes with FIFOs enabled, 1
    // without, none in loopback mode, where the serial input is disconnected).
    [[nodiscard]] size_t enqueue_rx(std::span<std::byte const> bytes);
    [[nodiscard]] bool rx_has_room() const;
    // Called (outside the lock, on the reading vCPU thread) when the guest drains the RX FIFO
    // after an enqueue_rx() that did not take everything. Set it before the guest runs.
    void set_rx_room_callback(std::function<void()> callback);

    [[nodiscard]] UartCounters counters() const;

    // Snapshot and restore (uart_8250_state.cpp). restore() checks every field first
    // (InvalidArgument, nothing changed) and then sets the interrupt line to match.
    [[nodiscard]] UartState state() const;
    [[nodiscard]] Result<void> restore(UartState const&);

private:
    [[nodiscard]] uint8_t read_register(uint64_t offset, bool& made_room);
    // Returns the byte to transmit, if any.
    [[nodiscard]] std::optional<std::byte> write_register(uint64_t offset, uint8_t value);
    void write_fcr(uint8_t value);
    void write_mcr(uint8_t value);
    [[nodiscard]] uint8_t read_rbr(bool& made_room);
    [[nodiscard]] uint8_t read_iir();
    [[nodiscard]] uint8_t read_lsr();
    [[nodiscard]] uint8_t modem_inputs() const;
    [[nodiscard]] uint8_t pending_interrupt() const; // IIR bits 0-3
    [[nodiscard]] size_t rx_capacity() const;
    void push_rx(std::byte byte);
    void clear_rx();
    void update_irq();
    void transmit_byte(std::byte byte);

    IrqLevel m_irq;
    std::function<void(std::span<std::byte const>)> m_transmit;
    std::function<void()> m_rx_room;
    std::mutex m_tx_mutex; // keeps transmitted bytes in THR-write order; taken before m_mutex

    mutable std::mutex m_mutex; // everything below
    std::array<std::byte, FIFO_SIZE> m_rx_fifo {};
    size_t m_rx_head { 0 };
    size_t m_rx_count { 0 };
    bool m_rx_blocked { false }; // the host has more input waiting for room
    uint8_t m_ier { 0 };
    uint8_t m_lcr { 0 };
    uint8_t m_mcr { 0 };
    uint8_t m_lsr_errors { 0 }; // OE/PE/FE/BI, cleared by reading LSR
    uint8_t m_msr { 0 };
    uint8_t m_scr { 0 };
    uint8_t m_dll { 0x0c }; // 9600 baud from the 1.8432 MHz clock
    uint8_t m_dlm { 0 };
    bool m_fifo_enabled { false };
    uint8_t m_rx_trigger { 1 };
    bool m_thr_interrupt { false }; // THRE interrupt pending (cleared by IIR read or THR write)
    UartCounters m_counters;
};

} // namespace monarch::vmm

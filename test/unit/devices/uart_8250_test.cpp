// SPDX-License-Identifier: Apache-2.0
// Uart8250 against the 16550A datasheet's register descriptions.
#include "vmm/devices/uart_8250.h"

#include "device_test_support.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace monarch::vmm;
using namespace monarch::vmm::test;
using namespace monarch::vmm::uart_bits;
namespace reg = monarch::vmm::uart_reg;

namespace {

struct Fixture {
    FakeIrq irq;
    std::vector<uint8_t> sent;
    Uart8250 uart { irq, [this](std::span<std::byte const> bytes) {
                       for (auto b : bytes)
                           sent.push_back(std::to_integer<uint8_t>(b));
                   } };

    size_t feed(std::vector<uint8_t> const& bytes)
    {
        std::vector<std::byte> raw;
        for (auto b : bytes)
            raw.push_back(std::byte { b });
        return uart.enqueue_rx(raw);
    }
};

} // namespace

TEST_CASE("uart THR writes reach the transmit callback in order", "[unit][uart]")
{
    Fixture f;
    for (char c : std::string_view("hi\n"))
        write8(f.uart, reg::THR, static_cast<uint8_t>(c));
    CHECK(f.sent == std::vector<uint8_t> { 'h', 'i', '\n' });
    CHECK(f.uart.counters().tx_bytes == 3);
    CHECK_FALSE(f.irq.level); // IER is 0: no interrupt
}

TEST_CASE("uart RBR returns host input and LSR.DR follows the FIFO", "[unit][uart]")
{
    Fixture f;
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) == 0);
    REQUIRE(f.feed({ 'x' }) == 1);
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) != 0);
    CHECK(read8(f.uart, reg::RBR) == 'x');
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) == 0);
}

TEST_CASE("uart LSR reports THR and transmitter empty", "[unit][uart]")
{
    Fixture f;
    uint8_t const lsr = read8(f.uart, reg::LSR);
    CHECK((lsr & LSR_THRE) != 0);
    CHECK((lsr & LSR_TEMT) != 0);
    CHECK((lsr & (LSR_OE | LSR_PE | LSR_FE | LSR_BI)) == 0);
    write8(f.uart, reg::THR, 'a');
    CHECK((read8(f.uart, reg::LSR) & (LSR_THRE | LSR_TEMT)) == (LSR_THRE | LSR_TEMT));
}

TEST_CASE("uart enabling the THRE interrupt raises the line at once", "[unit][uart]")
{
    Fixture f;
    CHECK_FALSE(f.irq.level);
    write8(f.uart, reg::IER, IER_ETBEI);
    CHECK(f.irq.level);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_THRE);
    // Reading IIR with THRE as the source clears it.
    CHECK_FALSE(f.irq.level);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_NO_INT);
}

TEST_CASE("uart THR write clears THRE and re-raises it with a fresh edge", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::IER, IER_ETBEI);
    REQUIRE(f.irq.level);
    f.irq.history.clear();
    write8(f.uart, reg::THR, 'z');
    CHECK(f.irq.history == std::vector<bool> { false, true });
    CHECK(f.irq.level);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_THRE);
}

TEST_CASE("uart IIR reports interrupts by priority", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::IER, IER_ERBFI | IER_ETBEI | IER_ELSI | IER_EDSSI);
    // Modem status (lowest) from a loopback MCR change, THRE pending from the IER write.
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_THRE); // THRE beats modem status; cleared now
    write8(f.uart, reg::MCR, MCR_LOOP | MCR_RTS);         // CTS changes: delta bits set
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_MS);
    // Loopback a byte: received data outranks modem status and THRE.
    write8(f.uart, reg::THR, 'q');
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_RDA);
    // Overrun (a second byte into the 1-byte non-FIFO buffer): line status outranks everything.
    write8(f.uart, reg::THR, 'r');
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_RLS);
    CHECK((read8(f.uart, reg::LSR) & LSR_OE) != 0); // reading LSR clears it
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_RDA);
    CHECK(read8(f.uart, reg::RBR) == 'q');
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_THRE);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_MS);
    (void)read8(f.uart, reg::MSR); // clears the deltas
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_NO_INT);
    CHECK_FALSE(f.irq.level);
    CHECK(f.uart.counters().overruns == 1);
}

TEST_CASE("uart received-data interrupt clears when RBR is drained", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::IER, IER_ERBFI);
    CHECK_FALSE(f.irq.level);
    REQUIRE(f.feed({ 'k' }) == 1);
    CHECK(f.irq.level);
    CHECK(read8(f.uart, reg::RBR) == 'k');
    CHECK_FALSE(f.irq.level);
}

TEST_CASE("uart DLAB switches offsets 0 and 1 to the divisor latch", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::IER, IER_ERBFI);
    write8(f.uart, reg::LCR, LCR_DLAB | 0x03);
    write8(f.uart, reg::DLL, 0x01);
    write8(f.uart, reg::DLM, 0x02);
    CHECK(read8(f.uart, reg::DLL) == 0x01);
    CHECK(read8(f.uart, reg::DLM) == 0x02);
    CHECK(f.sent.empty()); // the DLL write did not transmit
    write8(f.uart, reg::LCR, 0x03);
    CHECK(read8(f.uart, reg::LCR) == 0x03);
    CHECK(read8(f.uart, reg::IER) == IER_ERBFI); // IER untouched by the DLM write
    write8(f.uart, reg::THR, 'x');
    CHECK(f.sent == std::vector<uint8_t> { 'x' });
    write8(f.uart, reg::LCR, LCR_DLAB);
    CHECK(read8(f.uart, reg::DLL) == 0x01); // latched value kept
}

TEST_CASE("uart RX FIFO holds 16 bytes when enabled, 1 when not, and FCR clears it", "[unit][uart]")
{
    Fixture f;
    CHECK(f.feed({ 1, 2, 3 }) == 1); // 16450 mode: one receiver buffer
    CHECK_FALSE(f.uart.rx_has_room());
    write8(f.uart, reg::FCR, FCR_ENABLE); // enabling resets the FIFO
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) == 0);
    CHECK((read8(f.uart, reg::IIR) & IIR_FIFO_ENABLED) == IIR_FIFO_ENABLED);
    std::vector<uint8_t> many;
    for (uint8_t i = 0; i < 20; ++i)
        many.push_back(i);
    CHECK(f.feed(many) == Uart8250::FIFO_SIZE);
    CHECK_FALSE(f.uart.rx_has_room());
    for (uint8_t i = 0; i < 4; ++i)
        CHECK(read8(f.uart, reg::RBR) == i);
    CHECK(f.uart.rx_has_room());
    write8(f.uart, reg::FCR, FCR_ENABLE | FCR_CLEAR_RX);
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) == 0);
    CHECK(f.feed(many) == Uart8250::FIFO_SIZE);
}

TEST_CASE("uart FIFO trigger level selects data-available versus timeout", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::FCR, FCR_ENABLE | 0x40); // trigger at 4 bytes
    write8(f.uart, reg::IER, IER_ERBFI);
    REQUIRE(f.feed({ 1, 2 }) == 2);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_CTI);
    REQUIRE(f.feed({ 3, 4 }) == 2);
    CHECK((read8(f.uart, reg::IIR) & 0x0f) == IIR_RDA);
    CHECK(f.irq.level);
}

TEST_CASE("uart room callback fires when the guest drains a full FIFO", "[unit][uart]")
{
    Fixture f;
    int calls = 0;
    f.uart.set_rx_room_callback([&] { ++calls; });
    write8(f.uart, reg::FCR, FCR_ENABLE);
    std::vector<uint8_t> many(20, 'a');
    REQUIRE(f.feed(many) == Uart8250::FIFO_SIZE);
    CHECK(calls == 0);
    (void)read8(f.uart, reg::RBR);
    CHECK(calls == 1);
    (void)read8(f.uart, reg::RBR);
    CHECK(calls == 1); // once per blocked enqueue
}

TEST_CASE("uart loopback echoes TX to RX and wires the modem lines", "[unit][uart]")
{
    Fixture f;
    CHECK(read8(f.uart, reg::MSR) == (MSR_CTS | MSR_DSR | MSR_DCD)); // a connected peer
    write8(f.uart, reg::MCR, MCR_LOOP);
    // Entering loopback drops CTS, DSR and DCD: deltas reported.
    CHECK(read8(f.uart, reg::MSR) == (MSR_DCTS | MSR_DDSR | MSR_DDCD));
    write8(f.uart, reg::MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT1 | MCR_OUT2);
    CHECK((read8(f.uart, reg::MSR) & 0xf0) == (MSR_CTS | MSR_DSR | MSR_RI | MSR_DCD));
    write8(f.uart, reg::MCR, MCR_LOOP | MCR_RTS | MCR_DTR | MCR_OUT2); // RI falls: trailing edge
    CHECK((read8(f.uart, reg::MSR) & MSR_TERI) != 0);

    write8(f.uart, reg::THR, 0x5a);
    CHECK(f.sent.empty()); // nothing leaves the chip in loopback
    CHECK((read8(f.uart, reg::LSR) & LSR_DR) != 0);
    CHECK(read8(f.uart, reg::RBR) == 0x5a);
    CHECK(f.feed({ 'h' }) == 0); // the serial input is disconnected
    write8(f.uart, reg::MCR, 0);
    CHECK(f.feed({ 'h' }) == 1);
}

TEST_CASE("uart ignores and counts writes to read-only registers and wide accesses", "[unit][uart]")
{
    Fixture f;
    write8(f.uart, reg::LSR, 0x00);
    write8(f.uart, reg::MSR, 0x00);
    CHECK(f.uart.counters().read_only_writes == 2);
    CHECK((read8(f.uart, reg::LSR) & LSR_THRE) != 0);
    write16(f.uart, reg::SCR, 0x1234);
    CHECK(read8(f.uart, reg::SCR) == 0x34);
    CHECK(read16(f.uart, reg::SCR) == 0x0034);
    CHECK(f.uart.counters().wide_accesses == 2);
}

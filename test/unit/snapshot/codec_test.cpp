// SPDX-License-Identifier: Apache-2.0
// The explicit state encoding: round trips, truncation at every length, unknown versions,
// other kinds, trailing bytes; the UART and vCPU encodings on top of it.
#include "../devices/device_test_support.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/snapshot_info.h"
#include "vmm/snapshot/state_codec.h"
#include "vmm/snapshot/vcpu_state.h"

#include <catch2/catch.hpp>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;

namespace {

std::vector<std::byte> sample_blob()
{
    StateEncoder out("TEST", 2);
    out.u8(0xa5);
    out.u16(0xbeef);
    out.u32(0xdeadbeef);
    out.u64(0x0123456789abcdefull);
    out.boolean(true);
    std::array<std::byte, 3> bytes { std::byte { 1 }, std::byte { 2 }, std::byte { 3 } };
    out.bytes(bytes);
    return out.take();
}

Result<void> decode_sample(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, "TEST", 2));
    if (TRY(in.u8()) != 0xa5 || TRY(in.u16()) != 0xbeef || TRY(in.u32()) != 0xdeadbeef || TRY(in.u64()) != 0x0123456789abcdefull
        || !TRY(in.boolean()) || TRY(in.bytes(16)).size() != 3)
        return fail(Errc::InvalidArgument, "values differ");
    return in.finish();
}

} // namespace

TEST_CASE("state blobs are little-endian, field by field, and decode back", "[unit][snapshot]")
{
    auto blob = sample_blob();
    // kind, version 2 LE, then 0xa5, 0xbeef LE ...
    REQUIRE(blob.size() == 4 + 2 + 1 + 2 + 4 + 8 + 1 + 4 + 3);
    CHECK(blob[4] == std::byte { 2 });
    CHECK(blob[5] == std::byte { 0 });
    CHECK(blob[7] == std::byte { 0xef });
    CHECK(blob[8] == std::byte { 0xbe });
    CHECK(decode_sample(blob).has_value());
}

TEST_CASE("truncated, extended, unknown-version and other-kind blobs are refused", "[unit][snapshot]")
{
    auto blob = sample_blob();
    for (size_t length = 0; length < blob.size(); ++length) {
        auto result = decode_sample(std::span { blob }.first(length));
        INFO("length " << length);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().code == Errc::Corrupt);
    }
    auto longer = blob;
    longer.push_back(std::byte { 0 });
    CHECK(decode_sample(longer).error().code == Errc::Corrupt);
    auto newer = blob;
    newer[4] = std::byte { 3 };
    CHECK(decode_sample(newer).error().code == Errc::Corrupt);
    auto zero = blob;
    zero[4] = std::byte { 0 };
    CHECK(decode_sample(zero).error().code == Errc::Corrupt);
    auto other = blob;
    other[0] = std::byte { 'X' };
    CHECK(decode_sample(other).error().code == Errc::Corrupt);
    auto bad_bool = blob;
    bad_bool[4 + 2 + 1 + 2 + 4 + 8] = std::byte { 2 };
    CHECK(decode_sample(bad_bool).error().code == Errc::Corrupt);
}

TEST_CASE("a UART with pending bytes and IER set comes back identical", "[unit][snapshot][uart]")
{
    monarch::vmm::test::FakeIrq irq;
    Uart8250 uart { irq, [](std::span<std::byte const>) {} };
    monarch::vmm::test::write8(uart, uart_reg::FCR, uart_bits::FCR_ENABLE | 0x80); // FIFOs on, trigger 8
    monarch::vmm::test::write8(uart, uart_reg::LCR, 0x03);
    monarch::vmm::test::write8(uart, uart_reg::MCR, uart_bits::MCR_OUT2 | uart_bits::MCR_DTR);
    monarch::vmm::test::write8(uart, uart_reg::SCR, 0x5a);
    monarch::vmm::test::write8(uart, uart_reg::IER, uart_bits::IER_ERBFI);
    std::array<std::byte, 3> input { std::byte { 'a' }, std::byte { 'b' }, std::byte { 'c' } };
    REQUIRE(uart.enqueue_rx(input) == 3);
    auto const before = uart.state();
    REQUIRE(before.rx_fifo.size() == 3);
    REQUIRE(before.ier == uart_bits::IER_ERBFI);

    auto blob = encode_uart(before);
    auto decoded = decode_uart(blob);
    REQUIRE(decoded.has_value());
    CHECK(*decoded == before);

    monarch::vmm::test::FakeIrq irq2;
    Uart8250 copy { irq2, [](std::span<std::byte const>) {} };
    REQUIRE(copy.restore(*decoded).has_value());
    CHECK(copy.state() == before);
    CHECK(irq2.level == irq.level);
    CHECK(monarch::vmm::test::read8(copy, uart_reg::IIR) == monarch::vmm::test::read8(uart, uart_reg::IIR));
    for (char expected : { 'a', 'b', 'c' })
        CHECK(monarch::vmm::test::read8(copy, uart_reg::RBR) == static_cast<uint8_t>(expected));

    for (size_t length = 0; length < blob.size(); ++length)
        CHECK_FALSE(decode_uart(std::span { blob }.first(length)).has_value());
    auto bad = before;
    bad.rx_trigger = 3;
    CHECK(copy.restore(bad).error().code == Errc::InvalidArgument);
    bad = before;
    bad.fifo_enabled = false; // three bytes cannot wait in a one-byte receiver
    CHECK(copy.restore(bad).error().code == Errc::InvalidArgument);
}

TEST_CASE("vCPU state encodes every field and decodes back, padding not carried", "[unit][snapshot][vcpu]")
{
    VcpuState state;
    // Distinct values in every byte of each structure (padding included, which must not matter).
    auto fill = [seed = 1u](auto& object) mutable {
        auto bytes = std::as_writable_bytes(std::span { &object, 1 });
        for (auto& byte : bytes)
            byte = std::byte(static_cast<uint8_t>(seed++ * 37));
    };
    fill(state.regs);
    fill(state.sregs);
    fill(state.fpu);
    fill(state.lapic);
    fill(state.events);
    state.events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_SMM;
    fill(state.debugregs);
    kvm_xcrs xcrs {};
    xcrs.nr_xcrs = 1;
    xcrs.xcrs[0] = { 0, 0, 0x7 };
    state.xcrs = xcrs;
    state.msrs = { { 0x10, 0, 0x123456789 }, { 0xc0000082, 0, 0xffffffff81000000 }, { 0x4b564d01, 0, 0x3001 } };
    state.mp_state.mp_state = KVM_MP_STATE_HALTED;
    auto blob = encode_vcpu(state);
    auto decoded = decode_vcpu(blob);
    REQUIRE(decoded.has_value());
    CHECK(same_vcpu_state(*decoded, state));
    CHECK(decoded->regs.rip == state.regs.rip);
    CHECK(decoded->sregs.cr3 == state.sregs.cr3);
    CHECK(decoded->sregs.tr.selector == state.sregs.tr.selector);
    CHECK(decoded->fpu.mxcsr == state.fpu.mxcsr);
    CHECK(decoded->xsave.empty());
    CHECK(std::memcmp(decoded->lapic.regs, state.lapic.regs, sizeof state.lapic.regs) == 0);
    REQUIRE(decoded->msrs.size() == 3);
    CHECK(decoded->msrs[1].index == 0xc0000082);
    CHECK(decoded->msrs[1].data == 0xffffffff81000000);
    REQUIRE(decoded->xcrs.has_value());
    CHECK(decoded->xcrs->xcrs[0].value == 0x7);
    CHECK(decoded->events.exception.error_code == state.events.exception.error_code);
    CHECK(decoded->events.exception_payload == state.events.exception_payload);
    CHECK(decoded->events.smi.latched_init == state.events.smi.latched_init);
    CHECK(decoded->debugregs.dr7 == state.debugregs.dr7);
    CHECK(decoded->mp_state.mp_state == KVM_MP_STATE_HALTED);
    // Changing only padding and reserved fields changes nothing in the encoding.
    auto padded = state;
    padded.sregs.cs.padding ^= 0xff;
    padded.fpu.pad1 ^= 0xff;
    padded.events.reserved[3] ^= 0xff;
    padded.debugregs.reserved[0] ^= 1;
    padded.msrs[0].reserved = 7;
    CHECK(encode_vcpu(padded) == blob);
    for (size_t length = 0; length < blob.size(); ++length)
        REQUIRE_FALSE(decode_vcpu(std::span { blob }.first(length)).has_value());
}

TEST_CASE("snapshot.info round trip", "[unit][snapshot]")
{
    SnapshotInfo info { { { GuestPhysAddr { 0 }, 0xc0000000 }, { GuestPhysAddr { 0x100000000 }, 0x40000000 } }, 4 };
    auto decoded = decode_info(encode_info(info));
    REQUIRE(decoded.has_value());
    REQUIRE(decoded->ram.size() == 2);
    CHECK(decoded->ram[1].base.raw() == 0x100000000);
    CHECK(decoded->ram[1].size == 0x40000000);
    CHECK(decoded->vcpu_count == 4);
}

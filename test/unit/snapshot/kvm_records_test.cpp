// SPDX-License-Identifier: Apache-2.0
// The KVM state records without KVM: version-2 vCPU records with an XSAVE area, the irqchip,
// PIT and clock records (round trips, padding and host times not carried), and hostile records
// of each (other kind, version, truncation, oversized counts and areas, bad flags, trailing
// bytes) refused; the MSR save list and KVM_GET_MSRS short reads.
#include "vmm/memory/layout.h"
#include "vmm/snapshot/msr_list.h"
#include "vmm/snapshot/state_codec.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <set>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::snapshot;

namespace {

template<typename T>
void fill(T& object, unsigned seed)
{
    auto bytes = std::as_writable_bytes(std::span { &object, 1 });
    for (auto& byte : bytes)
        byte = std::byte(static_cast<uint8_t>(seed++ * 41 + 3));
}

VcpuState sample_vcpu()
{
    VcpuState state;
    fill(state.regs, 1);
    fill(state.sregs, 2);
    fill(state.lapic, 3);
    state.xsave.resize(sizeof(kvm_xsave) + 2 * 64);
    for (size_t i = 0; i < state.xsave.size(); ++i)
        state.xsave[i] = std::byte(static_cast<uint8_t>(i * 7 + 1));
    state.msrs = { { 0x10, 0, 1 }, { 0x6e0, 0, 2 } };
    state.events.flags = KVM_VCPUEVENT_VALID_NMI_PENDING;
    state.mp_state.mp_state = KVM_MP_STATE_RUNNABLE;
    return state;
}

// Byte offsets in a version-2 vCPU record (docs/vmcrypt.md): header 6, kvm_regs 18 * 8 = 144,
// kvm_sregs 8 * 23 + 2 * 10 + 7 * 8 + 4 * 8 = 292; then the FPU form byte. The tail is the
// events (37 bytes), the debug registers (7 * 8) and the MP state (4).
constexpr size_t FORM_OFFSET = 6 + 144 + 292;
constexpr size_t TAIL_SIZE = 37 + 56 + 4;

void put_u32(std::vector<std::byte>& blob, size_t offset, uint32_t value)
{
    for (size_t i = 0; i < 4; ++i)
        blob.at(offset + i) = std::byte(static_cast<uint8_t>(value >> (8 * i)));
}

} // namespace

TEST_CASE("a version-2 vCPU record carries its XSAVE area", "[unit][snapshot][vcpu]")
{
    auto const state = sample_vcpu();
    auto blob = encode_vcpu(state);
    REQUIRE(blob[FORM_OFFSET] == std::byte { 1 });
    auto decoded = decode_vcpu(blob);
    REQUIRE(decoded.has_value());
    CHECK(decoded->xsave == state.xsave);
    CHECK_FALSE(decoded->xcrs.has_value());
    CHECK(same_vcpu_state(*decoded, state));
    auto other = state;
    other.xsave[100] ^= std::byte { 1 };
    CHECK_FALSE(same_vcpu_state(other, state));
}

TEST_CASE("hostile vCPU records are refused", "[unit][snapshot][vcpu]")
{
    auto const state = sample_vcpu();
    auto const blob = encode_vcpu(state);
    auto refused = [](std::vector<std::byte> const& bad, Errc code = Errc::Corrupt) {
        auto result = decode_vcpu(bad);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().code == code);
    };
    SECTION("another kind, version 0, a newer version, trailing bytes")
    {
        auto bad = blob;
        bad[0] = std::byte { 'X' };
        refused(bad);
        bad = blob;
        bad[4] = std::byte { 0 };
        refused(bad);
        bad[4] = std::byte { 3 };
        refused(bad);
        bad = blob;
        bad.push_back(std::byte { 0 });
        refused(bad);
    }
    SECTION("a version-1 record cannot resume a guest")
    {
        auto bad = blob;
        bad[4] = std::byte { 1 };
        refused(bad, Errc::Unsupported);
    }
    SECTION("an unknown FPU form")
    {
        auto bad = blob;
        bad[FORM_OFFSET] = std::byte { 2 };
        refused(bad);
    }
    SECTION("XSAVE areas of impossible sizes")
    {
        for (size_t size : { size_t { 1 }, sizeof(kvm_xsave) - 4, MAX_XSAVE_SIZE + 4 }) {
            auto bad_state = state;
            bad_state.xsave.assign(size, std::byte { 0 });
            INFO("size " << size);
            refused(encode_vcpu(bad_state));
        }
        auto bad = blob; // length fields past the bound, and past what follows
        put_u32(bad, FORM_OFFSET + 1, 0xfffffff0);
        refused(bad);
        put_u32(bad, FORM_OFFSET + 1, static_cast<uint32_t>(MAX_XSAVE_SIZE));
        refused(bad);
    }
    SECTION("more XCRs than KVM has")
    {
        auto with_xcrs = state;
        with_xcrs.xcrs = kvm_xcrs {};
        with_xcrs.xcrs->nr_xcrs = 1;
        auto bad = encode_vcpu(with_xcrs);
        size_t const count_at = FORM_OFFSET + 1 + 4 + state.xsave.size() + 1;
        REQUIRE(bad[count_at] == std::byte { 1 });
        put_u32(bad, count_at, KVM_MAX_XCRS + 1);
        refused(bad);
    }
    SECTION("an oversized MSR count and a repeated MSR")
    {
        auto bad = blob;
        size_t const count_at = bad.size() - TAIL_SIZE - 12 * state.msrs.size() - 4;
        REQUIRE(bad[count_at] == std::byte { static_cast<uint8_t>(state.msrs.size()) });
        put_u32(bad, count_at, static_cast<uint32_t>(MAX_VCPU_MSRS + 1));
        refused(bad);
        put_u32(bad, count_at, 0xffffffff);
        refused(bad);
        auto twice = state;
        twice.msrs.push_back(twice.msrs[0]);
        refused(encode_vcpu(twice));
    }
    SECTION("unknown event flags and MP states")
    {
        auto bad = blob;
        put_u32(bad, bad.size() - TAIL_SIZE + 19, 0x40);
        refused(bad);
        bad = blob;
        put_u32(bad, bad.size() - 4, 7);
        refused(bad);
    }
}

TEST_CASE("irqchip, PIT and clock records round-trip; host-only fields are not carried", "[unit][snapshot][vm]")
{
    IrqchipState chip;
    fill(chip.pic_master, 5);
    fill(chip.pic_slave, 6);
    fill(chip.ioapic, 7);
    chip.ioapic.base_address = layout::IOAPIC_START;
    auto chip_blob = encode_irqchip(chip);
    auto chip_back = decode_irqchip(chip_blob);
    REQUIRE(chip_back.has_value());
    CHECK(same_irqchip(*chip_back, chip));
    CHECK(chip_back->pic_slave.elcr_mask == chip.pic_slave.elcr_mask);
    CHECK(chip_back->ioapic.redirtbl[23].bits == chip.ioapic.redirtbl[23].bits);
    CHECK(chip_back->ioapic.irr == chip.ioapic.irr);
    auto padded = chip;
    padded.ioapic.pad ^= 1;
    CHECK(encode_irqchip(padded) == chip_blob);

    kvm_pit_state2 pit {};
    for (unsigned i = 0; i < 3; ++i) {
        fill(pit.channels[i], 10 + i);
        pit.channels[i].count = 0x10000 - i;
        pit.channels[i].mode = static_cast<uint8_t>(i + 2);
    }
    pit.flags = KVM_PIT_FLAGS_SPEAKER_DATA_ON;
    auto pit_blob = encode_pit(pit);
    auto pit_back = decode_pit(pit_blob);
    REQUIRE(pit_back.has_value());
    CHECK(same_pit(*pit_back, pit));
    CHECK(pit_back->channels[2].latched_count == pit.channels[2].latched_count);
    CHECK(pit_back->channels[1].gate == pit.channels[1].gate);
    CHECK(pit_back->flags == pit.flags);
    auto later = pit;
    later.channels[0].count_load_time += 1'000'000; // a host time: not part of the state
    CHECK(encode_pit(later) == pit_blob);
    auto fresh = pit; // KVM's PIT after reset: mode 0xff, count 0x10000, until the guest programs it
    fresh.channels[1].mode = 0xff;
    fresh.channels[1].count = 0x10000;
    CHECK(decode_pit(encode_pit(fresh)).has_value());

    kvm_clock_data clock {};
    clock.clock = 123'456'789'000;
    clock.flags = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME;
    clock.realtime = 1'700'000'000'000'000'000;
    clock.host_tsc = 0xabcdef;
    clock.pad0 = 9;
    auto clock_back = decode_clock(encode_clock(clock));
    REQUIRE(clock_back.has_value());
    CHECK(clock_back->clock == clock.clock);
    CHECK(clock_back->flags == clock.flags);
    CHECK(clock_back->realtime == clock.realtime);
    CHECK(clock_back->host_tsc == clock.host_tsc);
    CHECK(clock_back->pad0 == 0);
}

TEST_CASE("hostile irqchip, PIT and clock records are refused", "[unit][snapshot][vm]")
{
    IrqchipState chip;
    chip.ioapic.base_address = layout::IOAPIC_START;
    kvm_pit_state2 pit {};
    kvm_clock_data clock {};
    auto const blobs = std::vector { encode_irqchip(chip), encode_pit(pit), encode_clock(clock) };
    auto decodes = [&](size_t which, std::span<std::byte const> blob) -> bool {
        switch (which) {
        case 0: return decode_irqchip(blob).has_value();
        case 1: return decode_pit(blob).has_value();
        default: return decode_clock(blob).has_value();
        }
    };
    for (size_t which = 0; which < blobs.size(); ++which) {
        INFO("record " << which);
        REQUIRE(decodes(which, blobs[which]));
        for (size_t length = 0; length < blobs[which].size(); ++length)
            REQUIRE_FALSE(decodes(which, std::span { blobs[which] }.first(length)));
        auto longer = blobs[which];
        longer.push_back(std::byte { 0 });
        CHECK_FALSE(decodes(which, longer));
        auto newer = blobs[which];
        newer[4] = std::byte { 2 };
        CHECK_FALSE(decodes(which, newer));
        CHECK_FALSE(decodes(which, blobs[(which + 1) % blobs.size()])); // another kind
    }
    auto moved = chip;
    moved.ioapic.base_address = 0xfed00000;
    CHECK(decode_irqchip(encode_irqchip(moved)).error().code == Errc::Corrupt);
    for (auto bad : { 0u, 1u, 2u }) {
        auto bad_pit = pit;
        if (bad == 0)
            bad_pit.channels[1].count = 0x10001;
        if (bad == 1)
            bad_pit.channels[2].mode = 6; // 6 and 7 are aliases of 2 and 3 on the 8254; KVM never stores them
        if (bad == 2)
            bad_pit.flags = 4;
        CHECK(decode_pit(encode_pit(bad_pit)).error().code == Errc::Corrupt);
    }
    auto bad_clock = clock;
    bad_clock.flags = 1; // KVM never reports bit 0
    CHECK(decode_clock(encode_clock(bad_clock)).error().code == Errc::Corrupt);
}

TEST_CASE("the MSR save list: KVM's list without VMX capabilities, plus the MTRRs", "[unit][snapshot][msr]")
{
    std::vector<uint32_t> const kvm_list { 0xc0000082, 0x10, 0x480, 0x48d, 0x491, 0x6e0, 0x4b564d01, 0x10 };
    auto const saved = msrs_to_save(kvm_list);
    CHECK(std::ranges::is_sorted(saved));
    CHECK(std::set<uint32_t>(saved.begin(), saved.end()).size() == saved.size());
    auto has = [&](uint32_t index) { return std::ranges::find(saved, index) != saved.end(); };
    for (uint32_t index : { 0x10u, 0xc0000082u, 0x6e0u, 0x4b564d01u, 0x2ffu, 0x250u, 0x258u, 0x259u, 0x26fu, 0x200u, 0x20fu })
        CHECK(has(index));
    for (uint32_t index : { 0x480u, 0x48du, 0x491u, 0x210u, 0xfeu })
        CHECK_FALSE(has(index));
}

TEST_CASE("MSR reads go on after an MSR KVM cannot read, in calls of at most 255", "[unit][snapshot][msr]")
{
    std::vector<uint32_t> indices;
    for (uint32_t i = 0; i < 600; ++i)
        indices.push_back(0x1000 + i);
    std::set<uint32_t> const unreadable { 0x1000, 0x1005, 0x1006, 0x10fe, 0x1257 };
    size_t calls = 0;
    MsrReader reader = [&](std::span<kvm_msr_entry> entries) -> Result<size_t> {
        ++calls;
        REQUIRE(entries.size() <= MAX_MSRS_PER_CALL);
        for (size_t i = 0; i < entries.size(); ++i) {
            if (unreadable.contains(entries[i].index))
                return i; // KVM's __msr_io stops at the first failure
            entries[i].data = entries[i].index * 3ull;
        }
        return entries.size();
    };
    auto read = read_msrs(indices, reader);
    REQUIRE(read.has_value());
    CHECK(read->size() == indices.size() - unreadable.size());
    for (auto const& entry : *read) {
        CHECK_FALSE(unreadable.contains(entry.index));
        CHECK(entry.data == entry.index * 3ull);
    }
    CHECK(std::ranges::is_sorted(*read, {}, &kvm_msr_entry::index));
    // At least ceil(600 / 255) calls; each unreadable MSR costs at most one more.
    CHECK(calls >= 3);
    CHECK(calls <= 3 + unreadable.size());

    MsrReader liar = [](std::span<kvm_msr_entry> entries) -> Result<size_t> { return entries.size() + 1; };
    CHECK(read_msrs(indices, liar).error().code == Errc::Corrupt);
    MsrReader broken = [](std::span<kvm_msr_entry>) -> Result<size_t> { return fail(Errc::Sys, "KVM_GET_MSRS"); };
    CHECK(read_msrs(indices, broken).error().code == Errc::Sys);
}

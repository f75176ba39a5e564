// SPDX-License-Identifier: Apache-2.0
// The irqchip, PIT2 and kvmclock records: capture, apply and the explicit encodings.
#include "vmm/snapshot/vm_state.h"

#include "vmm/memory/layout.h"
#include "vmm/snapshot/state_codec.h"

namespace monarch::vmm::snapshot {

namespace {

constexpr std::string_view IRQCHIP_KIND = "IRQC";
constexpr std::string_view PIT_KIND = "PIT2";
constexpr std::string_view CLOCK_KIND = "CLCK";
constexpr uint16_t VERSION = 1;

constexpr uint32_t PIT_FLAGS = KVM_PIT_FLAGS_HPET_LEGACY | KVM_PIT_FLAGS_SPEAKER_DATA_ON;
constexpr uint32_t CLOCK_FLAGS = KVM_CLOCK_TSC_STABLE | KVM_CLOCK_REALTIME | KVM_CLOCK_HOST_TSC;
constexpr uint32_t PIT_MAX_COUNT = 0x10000; // a programmed 0 counts 65536 (8254 datasheet)
constexpr uint8_t PIT_MAX_MODE = 5;
constexpr uint8_t PIT_UNPROGRAMMED = 0xff; // KVM's mode for a channel never programmed (i8254.c, kvm_pit_reset)

// kvm_pic_state: sixteen bytes in declaration order.
template<typename Pic, typename F>
void each_pic_field(Pic& p, F&& f)
{
    for (auto* value : { &p.last_irr, &p.irr, &p.imr, &p.isr, &p.priority_add, &p.irq_base, &p.read_reg_select, &p.poll,
             &p.special_mask, &p.init_state, &p.auto_eoi, &p.rotate_on_auto_eoi, &p.special_fully_nested_mode, &p.init4,
             &p.elcr, &p.elcr_mask })
        f(*value);
}

void put_pic(StateEncoder& out, kvm_pic_state pic)
{
    each_pic_field(pic, [&](uint8_t value) { out.u8(value); });
}

Result<void> get_pic(StateDecoder& in, kvm_pic_state& pic)
{
    Result<void> ok {};
    each_pic_field(pic, [&](uint8_t& value) {
        auto read = in.u8();
        if (!read && ok)
            ok = std::unexpected(read.error());
        value = read.value_or(0);
    });
    return ok;
}

// kvm_pit_channel_state without count_load_time (a host time, meaningless after a restore).
void put_channel(StateEncoder& out, kvm_pit_channel_state const& c)
{
    out.u32(c.count);
    out.u16(c.latched_count);
    for (uint8_t value : { c.count_latched, c.status_latched, c.status, c.read_state, c.write_state, c.write_latch,
             c.rw_mode, c.mode, c.bcd, c.gate })
        out.u8(value);
}

Result<void> get_channel(StateDecoder& in, kvm_pit_channel_state& c)
{
    c.count = TRY(in.u32());
    c.latched_count = TRY(in.u16());
    for (auto* value : { &c.count_latched, &c.status_latched, &c.status, &c.read_state, &c.write_state, &c.write_latch,
             &c.rw_mode, &c.mode, &c.bcd, &c.gate })
        *value = TRY(in.u8());
    if (c.count > PIT_MAX_COUNT || (c.mode > PIT_MAX_MODE && c.mode != PIT_UNPROGRAMMED))
        return fail(Errc::Corrupt, "snapshot state: a PIT channel's count or mode is out of range");
    return {};
}

} // namespace

std::vector<std::byte> encode_irqchip(IrqchipState const& state)
{
    StateEncoder out(IRQCHIP_KIND, VERSION);
    put_pic(out, state.pic_master);
    put_pic(out, state.pic_slave);
    auto const& io = state.ioapic;
    out.u64(io.base_address);
    for (uint32_t value : { io.ioregsel, io.id, io.irr })
        out.u32(value);
    for (auto const& entry : io.redirtbl)
        out.u64(entry.bits);
    return out.take();
}

Result<IrqchipState> decode_irqchip(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, IRQCHIP_KIND, VERSION));
    IrqchipState state;
    TRY_VOID(get_pic(in, state.pic_master));
    TRY_VOID(get_pic(in, state.pic_slave));
    auto& io = state.ioapic;
    io.base_address = TRY(in.u64());
    // KVM matches MMIO against the base address in this state (ioapic.c, ioapic_in_range), but
    // the device stays registered where it was created: any other base would detach it.
    if (io.base_address != layout::IOAPIC_START)
        return fail(Errc::Corrupt, "snapshot state: the IOAPIC is not at its address");
    for (auto* value : { &io.ioregsel, &io.id, &io.irr })
        *value = TRY(in.u32());
    for (auto& entry : io.redirtbl)
        entry.bits = TRY(in.u64());
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_pit(kvm_pit_state2 const& pit)
{
    StateEncoder out(PIT_KIND, VERSION);
    for (auto const& channel : pit.channels)
        put_channel(out, channel);
    out.u32(pit.flags);
    return out.take();
}

Result<kvm_pit_state2> decode_pit(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, PIT_KIND, VERSION));
    kvm_pit_state2 pit {};
    for (auto& channel : pit.channels)
        TRY_VOID(get_channel(in, channel));
    pit.flags = TRY(in.u32());
    if ((pit.flags & ~PIT_FLAGS) != 0)
        return fail(Errc::Corrupt, "snapshot state: unknown PIT flags");
    TRY_VOID(in.finish());
    return pit;
}

std::vector<std::byte> encode_clock(kvm_clock_data const& clock)
{
    StateEncoder out(CLOCK_KIND, VERSION);
    out.u64(clock.clock);
    out.u32(clock.flags);
    out.u64(clock.realtime);
    out.u64(clock.host_tsc);
    return out.take();
}

Result<kvm_clock_data> decode_clock(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, CLOCK_KIND, VERSION));
    kvm_clock_data clock {};
    clock.clock = TRY(in.u64());
    clock.flags = TRY(in.u32());
    clock.realtime = TRY(in.u64());
    clock.host_tsc = TRY(in.u64());
    if ((clock.flags & ~CLOCK_FLAGS) != 0)
        return fail(Errc::Corrupt, "snapshot state: unknown clock flags");
    TRY_VOID(in.finish());
    return clock;
}

bool same_irqchip(IrqchipState const& a, IrqchipState const& b) { return encode_irqchip(a) == encode_irqchip(b); }
bool same_pit(kvm_pit_state2 const& a, kvm_pit_state2 const& b) { return encode_pit(a) == encode_pit(b); }

Result<IrqchipState> capture_irqchip(kvm::VmFd const& vm)
{
    IrqchipState state;
    state.pic_master = TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_MASTER)).chip.pic;
    state.pic_slave = TRY(vm.get_irqchip(KVM_IRQCHIP_PIC_SLAVE)).chip.pic;
    state.ioapic = TRY(vm.get_irqchip(KVM_IRQCHIP_IOAPIC)).chip.ioapic;
    return state;
}

Result<void> apply_irqchip(kvm::VmFd const& vm, IrqchipState const& state)
{
    kvm_irqchip chip {};
    chip.chip_id = KVM_IRQCHIP_PIC_MASTER;
    chip.chip.pic = state.pic_master;
    TRY_VOID(vm.set_irqchip(chip));
    chip = {};
    chip.chip_id = KVM_IRQCHIP_PIC_SLAVE;
    chip.chip.pic = state.pic_slave;
    TRY_VOID(vm.set_irqchip(chip));
    chip = {};
    chip.chip_id = KVM_IRQCHIP_IOAPIC;
    chip.chip.ioapic = state.ioapic;
    return vm.set_irqchip(chip);
}

Result<void> apply_clock(kvm::VmFd const& vm, kvm_clock_data const& saved)
{
    kvm_clock_data clock {};
    clock.clock = saved.clock;
    return vm.set_clock(clock);
}

} // namespace monarch::vmm::snapshot

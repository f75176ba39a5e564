// SPDX-License-Identifier: Apache-2.0
// The explicit encoding of a vCPU's KVM structures (linux/kvm.h, arch/x86/include/uapi/asm/kvm.h):
// no struct is copied whole, so their padding never reaches the stream. Layout in docs/vmcrypt.md.
#include "vmm/snapshot/vcpu_state.h"

#include "vmm/snapshot/state_codec.h"

#include <algorithm>
#include <cstring>

namespace monarch::vmm::snapshot {

namespace {

constexpr std::string_view KIND = "VCPU";
constexpr uint16_t VERSION = 2;

enum class FpuForm : uint8_t { Fpu = 0, Xsave = 1 };

// KVM_GET_VCPU_EVENTS/KVM_SET_VCPU_EVENTS flags (asm/kvm.h); anything else is refused.
constexpr uint32_t EVENT_FLAGS = KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW
    | KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD | KVM_VCPUEVENT_VALID_TRIPLE_FAULT;

// kvm_regs in declaration order.
template<typename Regs, typename F>
void each_reg(Regs& r, F&& f)
{
    for (auto* value : { &r.rax, &r.rbx, &r.rcx, &r.rdx, &r.rsi, &r.rdi, &r.rsp, &r.rbp, &r.r8, &r.r9, &r.r10, &r.r11,
             &r.r12, &r.r13, &r.r14, &r.r15, &r.rip, &r.rflags })
        f(*value);
}

void put_segment(StateEncoder& out, kvm_segment const& s)
{
    out.u64(s.base);
    out.u32(s.limit);
    out.u16(s.selector);
    for (uint8_t value : { s.type, s.present, s.dpl, s.db, s.s, s.l, s.g, s.avl, s.unusable })
        out.u8(value);
}

Result<void> get_segment(StateDecoder& in, kvm_segment& s)
{
    s.base = TRY(in.u64());
    s.limit = TRY(in.u32());
    s.selector = TRY(in.u16());
    for (auto* value : { &s.type, &s.present, &s.dpl, &s.db, &s.s, &s.l, &s.g, &s.avl, &s.unusable })
        *value = TRY(in.u8());
    return {};
}

kvm_segment* segments(kvm_sregs& s, size_t i)
{
    kvm_segment* all[] = { &s.cs, &s.ds, &s.es, &s.fs, &s.gs, &s.ss, &s.tr, &s.ldt };
    return all[i];
}
constexpr size_t SEGMENT_COUNT = 8;

void put_sregs(StateEncoder& out, kvm_sregs s)
{
    for (size_t i = 0; i < SEGMENT_COUNT; ++i)
        put_segment(out, *segments(s, i));
    for (auto const* table : { &s.gdt, &s.idt }) {
        out.u64(table->base);
        out.u16(table->limit);
    }
    for (uint64_t value : { s.cr0, s.cr2, s.cr3, s.cr4, s.cr8, s.efer, s.apic_base })
        out.u64(value);
    for (uint64_t word : s.interrupt_bitmap)
        out.u64(word);
}

Result<void> get_sregs(StateDecoder& in, kvm_sregs& s)
{
    for (size_t i = 0; i < SEGMENT_COUNT; ++i)
        TRY_VOID(get_segment(in, *segments(s, i)));
    for (auto* table : { &s.gdt, &s.idt }) {
        table->base = TRY(in.u64());
        table->limit = TRY(in.u16());
    }
    for (auto* value : { &s.cr0, &s.cr2, &s.cr3, &s.cr4, &s.cr8, &s.efer, &s.apic_base })
        *value = TRY(in.u64());
    for (auto& word : s.interrupt_bitmap)
        word = TRY(in.u64());
    return {};
}

void put_fpu(StateEncoder& out, kvm_fpu const& f)
{
    out.bytes(std::as_bytes(std::span { f.fpr }));
    out.u16(f.fcw);
    out.u16(f.fsw);
    out.u8(f.ftwx);
    out.u16(f.last_opcode);
    out.u64(f.last_ip);
    out.u64(f.last_dp);
    out.bytes(std::as_bytes(std::span { f.xmm }));
    out.u32(f.mxcsr);
}

Result<void> get_fixed(StateDecoder& in, std::span<std::byte> target)
{
    auto bytes = TRY(in.bytes(target.size()));
    if (bytes.size() != target.size())
        return fail(Errc::Corrupt, "snapshot state: field has the wrong length");
    std::memcpy(target.data(), bytes.data(), bytes.size());
    return {};
}

Result<void> get_fpu(StateDecoder& in, kvm_fpu& f)
{
    TRY_VOID(get_fixed(in, std::as_writable_bytes(std::span { f.fpr })));
    f.fcw = TRY(in.u16());
    f.fsw = TRY(in.u16());
    f.ftwx = TRY(in.u8());
    f.last_opcode = TRY(in.u16());
    f.last_ip = TRY(in.u64());
    f.last_dp = TRY(in.u64());
    TRY_VOID(get_fixed(in, std::as_writable_bytes(std::span { f.xmm })));
    f.mxcsr = TRY(in.u32());
    return {};
}


void put_xcrs(StateEncoder& out, std::optional<kvm_xcrs> const& xcrs)
{
    out.boolean(xcrs.has_value());
    if (!xcrs)
        return;
    uint32_t const count = std::min<uint32_t>(xcrs->nr_xcrs, KVM_MAX_XCRS);
    out.u32(count);
    out.u32(xcrs->flags);
    for (uint32_t i = 0; i < count; ++i) {
        out.u32(xcrs->xcrs[i].xcr);
        out.u64(xcrs->xcrs[i].value);
    }
}

Result<void> get_xcrs(StateDecoder& in, std::optional<kvm_xcrs>& xcrs)
{
    if (!TRY(in.boolean()))
        return {};
    kvm_xcrs value {};
    value.nr_xcrs = TRY(in.u32());
    if (value.nr_xcrs > KVM_MAX_XCRS)
        return fail(Errc::Corrupt, "snapshot state: more XCRs than KVM_MAX_XCRS");
    value.flags = TRY(in.u32());
    for (uint32_t i = 0; i < value.nr_xcrs; ++i) {
        value.xcrs[i].xcr = TRY(in.u32());
        value.xcrs[i].value = TRY(in.u64());
    }
    xcrs = value;
    return {};
}

void put_msrs(StateEncoder& out, std::span<kvm_msr_entry const> msrs)
{
    out.u32(static_cast<uint32_t>(msrs.size()));
    for (auto const& entry : msrs) {
        out.u32(entry.index);
        out.u64(entry.data);
    }
}

Result<void> get_msrs(StateDecoder& in, std::vector<kvm_msr_entry>& msrs)
{
    uint32_t const count = TRY(in.u32());
    if (count > MAX_VCPU_MSRS)
        return fail(Errc::Corrupt, "snapshot state: implausibly many MSRs");
    for (uint32_t i = 0; i < count; ++i) {
        kvm_msr_entry entry {};
        entry.index = TRY(in.u32());
        entry.data = TRY(in.u64());
        msrs.push_back(entry);
    }
    auto indices = msrs;
    std::ranges::sort(indices, {}, &kvm_msr_entry::index);
    if (std::ranges::adjacent_find(indices, {}, &kvm_msr_entry::index) != indices.end())
        return fail(Errc::Corrupt, "snapshot state: an MSR appears twice");
    return {};
}

// kvm_vcpu_events in declaration order, reserved bytes left out.
template<typename Events, typename F8, typename F32, typename F64>
void each_event_field(Events& e, F8&& byte, F32&& word, F64&& quad)
{
    for (auto* value : { &e.exception.injected, &e.exception.nr, &e.exception.has_error_code, &e.exception.pending })
        byte(*value);
    word(e.exception.error_code);
    for (auto* value : { &e.interrupt.injected, &e.interrupt.nr, &e.interrupt.soft, &e.interrupt.shadow, &e.nmi.injected,
             &e.nmi.pending, &e.nmi.masked })
        byte(*value);
    word(e.sipi_vector);
    word(e.flags);
    for (auto* value : { &e.smi.smm, &e.smi.pending, &e.smi.smm_inside_nmi, &e.smi.latched_init, &e.triple_fault.pending,
             &e.exception_has_payload })
        byte(*value);
    quad(e.exception_payload);
}

void put_events(StateEncoder& out, kvm_vcpu_events events)
{
    each_event_field(events, [&](uint8_t v) { out.u8(v); }, [&](uint32_t v) { out.u32(v); }, [&](uint64_t v) { out.u64(v); });
}

Result<void> get_events(StateDecoder& in, kvm_vcpu_events& events)
{
    Result<void> ok {};
    auto keep = [&](auto read) {
        if (!read && ok)
            ok = std::unexpected(read.error());
        return read.value_or(0);
    };
    each_event_field(events, [&](__u8& v) { v = keep(in.u8()); }, [&](__u32& v) { v = keep(in.u32()); },
        [&](__u64& v) { v = keep(in.u64()); });
    TRY_VOID(ok);
    if ((events.flags & ~EVENT_FLAGS) != 0)
        return fail(Errc::Corrupt, "snapshot state: unknown vcpu event flags");
    return {};
}

void put_debugregs(StateEncoder& out, kvm_debugregs const& d)
{
    for (uint64_t value : d.db)
        out.u64(value);
    for (uint64_t value : { d.dr6, d.dr7, d.flags })
        out.u64(value);
}

Result<void> get_debugregs(StateDecoder& in, kvm_debugregs& d)
{
    for (auto& value : d.db)
        value = TRY(in.u64());
    for (auto* value : { &d.dr6, &d.dr7, &d.flags })
        *value = TRY(in.u64());
    return {};
}

void put_fpu_or_xsave(StateEncoder& out, VcpuState const& state)
{
    out.u8(static_cast<uint8_t>(state.xsave.empty() ? FpuForm::Fpu : FpuForm::Xsave));
    if (state.xsave.empty())
        put_fpu(out, state.fpu);
    else
        out.bytes(state.xsave);
}

Result<void> get_fpu_or_xsave(StateDecoder& in, VcpuState& state)
{
    auto const form = TRY(in.u8());
    if (form == static_cast<uint8_t>(FpuForm::Fpu))
        return get_fpu(in, state.fpu);
    if (form != static_cast<uint8_t>(FpuForm::Xsave))
        return fail(Errc::Corrupt, "snapshot state: unknown FPU state form");
    auto area = TRY(in.bytes(MAX_XSAVE_SIZE));
    // api.rst, KVM_GET_XSAVE2: the area is at least struct kvm_xsave (4 KiB).
    if (area.size() < sizeof(kvm_xsave))
        return fail(Errc::Corrupt, "snapshot state: the XSAVE area has an impossible size");
    state.xsave.assign(area.begin(), area.end());
    return {};
}

// KVM_MP_STATE_* that x86 KVM has (api.rst, KVM_GET_MP_STATE).
bool valid_mp_state(uint32_t value)
{
    return value == KVM_MP_STATE_RUNNABLE || value == KVM_MP_STATE_UNINITIALIZED || value == KVM_MP_STATE_INIT_RECEIVED
        || value == KVM_MP_STATE_HALTED || value == KVM_MP_STATE_SIPI_RECEIVED || value == KVM_MP_STATE_AP_RESET_HOLD;
}

} // namespace

std::vector<std::byte> encode_vcpu(VcpuState const& state)
{
    StateEncoder out(KIND, VERSION);
    auto regs = state.regs;
    each_reg(regs, [&](auto value) { out.u64(value); });
    put_sregs(out, state.sregs);
    put_fpu_or_xsave(out, state);
    put_xcrs(out, state.xcrs);
    out.bytes(std::as_bytes(std::span { state.lapic.regs })); // 1024 bytes, a char array: no padding
    put_msrs(out, state.msrs);
    put_events(out, state.events);
    put_debugregs(out, state.debugregs);
    out.u32(state.mp_state.mp_state);
    return out.take();
}

Result<VcpuState> decode_vcpu(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, KIND, VERSION));
    if (in.version() < VERSION)
        return fail(Errc::Unsupported, "snapshot state: a version-1 vCPU record (no XSAVE, MSRs or events) cannot resume a guest");
    VcpuState state;
    Result<void> regs_ok {};
    each_reg(state.regs, [&](auto& value) {
        auto read = in.u64();
        if (!read && regs_ok)
            regs_ok = std::unexpected(read.error());
        value = read.value_or(0);
    });
    TRY_VOID(regs_ok);
    TRY_VOID(get_sregs(in, state.sregs));
    TRY_VOID(get_fpu_or_xsave(in, state));
    TRY_VOID(get_xcrs(in, state.xcrs));
    TRY_VOID(get_fixed(in, std::as_writable_bytes(std::span { state.lapic.regs })));
    TRY_VOID(get_msrs(in, state.msrs));
    TRY_VOID(get_events(in, state.events));
    TRY_VOID(get_debugregs(in, state.debugregs));
    state.mp_state.mp_state = TRY(in.u32());
    if (!valid_mp_state(state.mp_state.mp_state))
        return fail(Errc::Corrupt, "snapshot state: unknown MP state");
    TRY_VOID(in.finish());
    return state;
}

bool same_vcpu_state(VcpuState const& a, VcpuState const& b)
{
    return encode_vcpu(a) == encode_vcpu(b);
}

} // namespace monarch::vmm::snapshot

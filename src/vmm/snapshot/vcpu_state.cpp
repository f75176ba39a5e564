// SPDX-License-Identifier: Apache-2.0
// vCPU state: capture through VcpuFd, and the explicit encoding of KVM's x86 structures
// (linux/kvm.h, arch/x86/include/uapi/asm/kvm.h): no struct is copied whole, so their padding
// never reaches the stream.
#include "vmm/snapshot/vcpu_state.h"

#include "vmm/snapshot/state_codec.h"

#include <cstring>

namespace monarch::vmm::snapshot {

namespace {

constexpr std::string_view KIND = "VCPU";
constexpr uint16_t VERSION = 1;

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

} // namespace

std::vector<std::byte> encode_vcpu(VcpuState const& state)
{
    StateEncoder out(KIND, VERSION);
    auto regs = state.regs;
    each_reg(regs, [&](auto value) { out.u64(value); });
    put_sregs(out, state.sregs);
    put_fpu(out, state.fpu);
    out.bytes(std::as_bytes(std::span { state.lapic.regs })); // 1024 bytes, a char array: no padding
    out.u32(state.mp_state.mp_state);
    return out.take();
}

Result<VcpuState> decode_vcpu(std::span<std::byte const> blob)
{
    auto in = TRY(StateDecoder::open(blob, KIND, VERSION));
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
    TRY_VOID(get_fpu(in, state.fpu));
    TRY_VOID(get_fixed(in, std::as_writable_bytes(std::span { state.lapic.regs })));
    state.mp_state.mp_state = TRY(in.u32());
    TRY_VOID(in.finish());
    return state;
}

bool same_vcpu_state(VcpuState const& a, VcpuState const& b)
{
    return encode_vcpu(a) == encode_vcpu(b);
}

Result<VcpuState> capture_vcpu(kvm::VcpuFd const& vcpu)
{
    VcpuState state;
    state.regs = TRY(vcpu.get_regs());
    state.sregs = TRY(vcpu.get_sregs());
    state.fpu = TRY(vcpu.get_fpu());
    state.lapic = TRY(vcpu.get_lapic());
    state.mp_state = TRY(vcpu.get_mp_state());
    return state;
}

Result<void> apply_vcpu(kvm::VcpuFd const& vcpu, VcpuState const& state)
{
    // api.rst: the LAPIC after sregs, since KVM_SET_SREGS may change apic_base.
    TRY_VOID(vcpu.set_sregs(state.sregs));
    TRY_VOID(vcpu.set_regs(state.regs));
    TRY_VOID(vcpu.set_fpu(state.fpu));
    TRY_VOID(vcpu.set_lapic(state.lapic));
    return {};
}

} // namespace monarch::vmm::snapshot

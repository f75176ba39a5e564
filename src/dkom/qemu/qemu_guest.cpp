// SPDX-License-Identifier: Apache-2.0
// The gdbstub conversation of QemuGuest. QEMU runs its stub in all-stop mode: 'c' resumes
// every vCPU, the interrupt byte or a breakpoint stops them all and yields one stop reply
// (GDB manual, "Stop Reply Packets"). Each vCPU is one thread ('qfThreadInfo'), selected with
// 'Hg' for register access ('p'/'P' by the number the target description gives).
#include "dkom/qemu/qemu_guest.h"

#include "common/log.h"

#include <algorithm>
#include <fmt/format.h>

namespace monarch::dkom {

using namespace std::chrono_literals;

namespace {
bool is_stop_reply(std::string_view reply) { return reply.starts_with('T') || reply.starts_with('S'); }
bool is_exit_reply(std::string_view reply) { return reply.starts_with('W') || reply.starts_with('X'); }
} // namespace

Result<std::unique_ptr<QemuGuest>> QemuGuest::attach(QemuTarget const& target)
{
    auto memory = TRY(QemuMemoryFile::open(target.memory_file));
    auto client = TRY(gdb::GdbClient::connect(target.gdb_address, target.timeout));
    std::unique_ptr<QemuGuest> guest { new QemuGuest(std::move(client), std::move(memory), target.timeout) };
    TRY_VOID(guest->m_client.start_no_ack_mode());
    // Attaching stopped the VM; '?' confirms that and returns the stop reason.
    auto const reason = guest->checked_request("?");
    if (!reason)
        return Failure(reason.error());
    if (!is_stop_reply(*reason))
        return fail(Errc::Corrupt, "gdbstub: unexpected reply to '?'");
    TRY_VOID(guest->discover_threads());
    TRY_VOID(guest->discover_registers());
    TRY_VOID(guest->resume());
    return guest;
}

QemuGuest::~QemuGuest()
{
    if (!m_client.connected())
        return;
    if (!m_running)
        (void)m_client.request("D", 2s); // QEMU resumes the VM when the debugger detaches
}

Result<std::string> QemuGuest::checked_request(std::string const& payload)
{
    auto reply = TRY(m_client.request(payload, m_timeout));
    if (reply.size() == 3 && reply[0] == 'E')
        return fail(Errc::InvalidArgument, "gdbstub: request refused (E reply)");
    return reply;
}

Result<void> QemuGuest::request_ok(std::string const& payload, std::string_view context)
{
    auto const reply = m_client.request(payload, m_timeout);
    if (!reply)
        return Failure(reply.error());
    if (*reply != "OK")
        return fail(Errc::Unsupported, context);
    return {};
}

Result<void> QemuGuest::discover_threads()
{
    // qfThreadInfo / qsThreadInfo: "m<id>,<id>..." until "l".
    std::string reply = TRY(checked_request("qfThreadInfo"));
    while (reply.starts_with('m')) {
        std::string_view list { reply };
        list.remove_prefix(1);
        while (!list.empty()) {
            auto const comma = list.find(',');
            m_threads.push_back(TRY(gdb::parse_hex_number(list.substr(0, comma))));
            list = comma == std::string_view::npos ? std::string_view {} : list.substr(comma + 1);
        }
        if (m_threads.size() > 4096)
            return fail(Errc::Corrupt, "gdbstub: too many threads");
        reply = TRY(checked_request("qsThreadInfo"));
    }
    if (m_threads.empty())
        return fail(Errc::Corrupt, "gdbstub: no vCPU threads");
    std::ranges::sort(m_threads);
    return {};
}

Result<std::string> QemuGuest::read_annex(std::string const& annex)
{
    // qXfer:features:read:ANNEX:OFFSET,LENGTH returns 'm' (more) or 'l' (last) + data.
    std::string document;
    for (int chunk = 0; chunk < 64; ++chunk) {
        auto const reply = TRY(checked_request(fmt::format("qXfer:features:read:{}:{:x},{:x}", annex, document.size(), 0x800)));
        if (reply.empty() || (reply[0] != 'm' && reply[0] != 'l'))
            return fail(Errc::Unsupported, "gdbstub: no target description");
        document.append(reply, 1);
        if (reply[0] == 'l')
            return document;
    }
    return fail(Errc::Corrupt, "gdbstub: target description too long");
}

Result<void> QemuGuest::load_description(std::string const& annex, uint32_t& next_regnum, int depth)
{
    if (depth > 4)
        return fail(Errc::Corrupt, "gdbstub: target description includes nest too deep");
    auto const xml = TRY(read_annex(annex));
    for (auto& element : gdb::parse_target_xml(xml)) {
        if (!element.reg) {
            TRY_VOID(load_description(element.include_href, next_regnum, depth + 1));
            continue;
        }
        auto reg = *element.reg;
        uint32_t const number = reg.regnum.value_or(next_regnum);
        reg.regnum = number;
        next_regnum = number + 1;
        m_registers.emplace(reg.name, reg);
    }
    return {};
}

Result<void> QemuGuest::discover_registers()
{
    uint32_t next_regnum = 0;
    TRY_VOID(load_description("target.xml", next_regnum, 0));
    for (char const* required : { "rax", "rip", "eflags", "cs", "cr3" }) {
        if (!m_registers.contains(required))
            return fail(Errc::Unsupported, "gdbstub: target description lacks x86-64 registers");
    }
    return {};
}

Result<void> QemuGuest::pause()
{
    if (!m_running)
        return {};
    TRY_VOID(m_client.send_interrupt());
    // Skip anything that is not a stop reply (console output 'O' packets).
    for (int attempt = 0; attempt < 16; ++attempt) {
        auto const reply = TRY(m_client.wait_packet(m_timeout));
        if (is_exit_reply(reply))
            return fail(Errc::NotFound, "gdbstub: the VM has exited");
        if (is_stop_reply(reply)) {
            m_running = false;
            m_selected_thread.reset();
            return {};
        }
    }
    return fail(Errc::Corrupt, "gdbstub: no stop reply after interrupt");
}

Result<void> QemuGuest::resume()
{
    if (m_running)
        return {};
    TRY_VOID(m_client.send("c"));
    m_running = true;
    return {};
}

Result<void> QemuGuest::select_thread(VcpuId vcpu)
{
    if (!paused())
        return fail(Errc::Busy, "registers: the VM must be paused");
    if (vcpu.raw() >= m_threads.size())
        return fail(Errc::OutOfRange, "no such vCPU");
    uint64_t const thread = m_threads[vcpu.raw()];
    if (m_selected_thread == thread)
        return {};
    TRY_VOID(request_ok(fmt::format("Hg{:x}", thread), "gdbstub: cannot select vCPU thread"));
    m_selected_thread = thread;
    return {};
}

Result<uint64_t> QemuGuest::read_register(std::string const& name)
{
    auto const found = m_registers.find(name);
    if (found == m_registers.end())
        return fail(Errc::Unsupported, "gdbstub: register not in target description");
    auto const reply = TRY(checked_request(fmt::format("p{:x}", *found->second.regnum)));
    return gdb::decode_le_register(reply);
}

Result<void> QemuGuest::write_register(std::string const& name, uint64_t value)
{
    auto const found = m_registers.find(name);
    if (found == m_registers.end())
        return fail(Errc::Unsupported, "gdbstub: register not in target description");
    auto const bytes = std::max<size_t>(found->second.bitsize / 8, 1);
    return request_ok(fmt::format("P{:x}={}", *found->second.regnum, gdb::encode_le_register(value, bytes)), "gdbstub: register write refused");
}

namespace {

struct GeneralRegister {
    char const* name;
    uint64_t Registers::*field;
};

// x86-64 general-purpose registers by their names in QEMU's i386-64bit.xml.
constexpr GeneralRegister general_registers[] = {
    { "rax", &Registers::rax }, { "rbx", &Registers::rbx }, { "rcx", &Registers::rcx }, { "rdx", &Registers::rdx },
    { "rsi", &Registers::rsi }, { "rdi", &Registers::rdi }, { "rbp", &Registers::rbp }, { "rsp", &Registers::rsp },
    { "r8", &Registers::r8 }, { "r9", &Registers::r9 }, { "r10", &Registers::r10 }, { "r11", &Registers::r11 },
    { "r12", &Registers::r12 }, { "r13", &Registers::r13 }, { "r14", &Registers::r14 }, { "r15", &Registers::r15 },
    { "rip", &Registers::rip }, { "eflags", &Registers::rflags },
};

constexpr GeneralRegister system_registers[] = {
    { "cr0", &Registers::cr0 }, { "cr2", &Registers::cr2 }, { "cr3", &Registers::cr3 }, { "cr4", &Registers::cr4 },
    { "efer", &Registers::efer }, { "fs_base", &Registers::fs_base }, { "gs_base", &Registers::gs_base },
    { "k_gs_base", &Registers::kernel_gs_base },
};

} // namespace

Result<Registers> QemuGuest::read_registers(VcpuId vcpu)
{
    TRY_VOID(select_thread(vcpu));
    Registers regs;
    for (auto const& reg : general_registers)
        regs.*reg.field = TRY(read_register(reg.name));
    regs.cs = static_cast<uint32_t>(TRY(read_register("cs")));
    regs.ss = static_cast<uint32_t>(TRY(read_register("ss")));
    regs.has_system = true;
    for (auto const& reg : system_registers) {
        auto value = read_register(reg.name);
        if (!value) {
            regs.has_system = false;
            continue;
        }
        regs.*reg.field = *value;
    }
    return regs;
}

Result<Registers> QemuGuest::read_segment_bases(VcpuId vcpu)
{
    TRY_VOID(select_thread(vcpu));
    Registers regs;
    regs.cs = static_cast<uint32_t>(TRY(read_register("cs")));
    regs.gs_base = TRY(read_register("gs_base"));
    regs.kernel_gs_base = TRY(read_register("k_gs_base"));
    return regs;
}

Result<void> QemuGuest::write_registers(VcpuId vcpu, Registers const& regs)
{
    // Only the general-purpose registers, rip and rflags are written: those are what a call
    // injection changes and restores. Control registers stay the guest kernel's business.
    TRY_VOID(select_thread(vcpu));
    for (auto const& reg : general_registers)
        TRY_VOID(write_register(reg.name, regs.*reg.field));
    return {};
}

Result<void> QemuGuest::set_breakpoint(GuestVirtAddr gva)
{
    if (!paused())
        return fail(Errc::Busy, "breakpoint: the VM must be paused");
    // Z1,ADDR,KIND: a hardware breakpoint; QEMU applies it to every vCPU.
    TRY_VOID(request_ok(fmt::format("Z1,{:x},1", gva.raw()), "gdbstub: hardware breakpoints not supported"));
    m_breakpoints.insert(gva.raw());
    return {};
}

Result<void> QemuGuest::clear_breakpoint(GuestVirtAddr gva)
{
    if (!paused())
        return fail(Errc::Busy, "breakpoint: the VM must be paused");
    if (!m_breakpoints.contains(gva.raw()))
        return fail(Errc::NotFound, "breakpoint: none at that address");
    TRY_VOID(request_ok(fmt::format("z1,{:x},1", gva.raw()), "gdbstub: cannot remove breakpoint"));
    m_breakpoints.erase(gva.raw());
    return {};
}

Result<VcpuId> QemuGuest::run_until_breakpoint(std::chrono::milliseconds timeout)
{
    TRY_VOID(resume());
    return wait_for_stop(timeout);
}

Result<VcpuId> QemuGuest::run_vcpu_until_breakpoint(VcpuId vcpu, std::chrono::milliseconds timeout)
{
    if (!paused())
        return fail(Errc::Busy, "run one vCPU: the VM must be paused");
    if (vcpu.raw() >= m_threads.size())
        return fail(Errc::OutOfRange, "no such vCPU");
    // vCont with an action for one thread only: in all-stop mode the others stay stopped
    // (GDB manual, "vCont"; QEMU's gdb_handle_vcont starts only the CPUs given an action).
    TRY_VOID(m_client.send(fmt::format("vCont;c:{:x}", m_threads[vcpu.raw()])));
    m_running = true;
    return wait_for_stop(timeout);
}

Result<void> QemuGuest::step(VcpuId vcpu)
{
    if (!paused())
        return fail(Errc::Busy, "step: the VM must be paused");
    if (vcpu.raw() >= m_threads.size())
        return fail(Errc::OutOfRange, "no such vCPU");
    TRY_VOID(m_client.send(fmt::format("vCont;s:{:x}", m_threads[vcpu.raw()])));
    m_running = true;
    TRY(wait_for_stop(m_timeout));
    return {};
}

Result<VcpuId> QemuGuest::wait_for_stop(std::chrono::milliseconds timeout)
{
    for (;;) {
        auto reply = m_client.wait_packet(timeout);
        if (!reply && reply.error().code == Errc::Timeout) {
            TRY_VOID(pause());
            return fail(Errc::Timeout, "breakpoint: not hit in time");
        }
        if (!reply)
            return Failure(reply.error());
        if (is_exit_reply(*reply))
            return fail(Errc::NotFound, "gdbstub: the VM has exited");
        if (!is_stop_reply(*reply))
            continue;
        m_running = false;
        m_selected_thread.reset();
        auto const thread = gdb::stop_reply_thread(*reply);
        auto const found = thread ? std::ranges::find(m_threads, *thread) : m_threads.end();
        if (found == m_threads.end())
            return fail(Errc::Corrupt, "gdbstub: stop reply names no known vCPU");
        return VcpuId { static_cast<uint32_t>(found - m_threads.begin()) };
    }
}

} // namespace monarch::dkom

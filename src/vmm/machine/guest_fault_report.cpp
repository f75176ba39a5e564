// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/guest_fault_report.h"

#include "common/log.h"
#include "vmm/exit_status.h"

#include <algorithm>
#include <fmt/format.h>
#include "vmm/kvm/kvm_uapi.h"

namespace monarch::vmm::machine {
namespace {

constexpr uint64_t PAGE_SIZE = 4096;
constexpr size_t MAX_INSTRUCTION_LENGTH = 15; // Intel SDM vol. 2, 2.3.11

std::string vcpu_name(kvm::VcpuFd const& vcpu) { return fmt::format("vcpu{}", vcpu.id().raw()); }

// Registers of a vCPU that has stopped, for the error line; a note if they cannot be read.
std::string register_line(kvm::VcpuFd const& vcpu)
{
    auto regs = vcpu.get_regs();
    auto sregs = vcpu.get_sregs();
    if (!regs || !sregs)
        return "(registers unavailable)";
    return format_register_line(*regs, *sregs);
}

int report_triple_fault(kvm::VcpuFd const& vcpu)
{
    log::error("{}: triple fault (KVM_EXIT_SHUTDOWN): {}", vcpu_name(vcpu), register_line(vcpu));
    return exit_status::GuestTripleFault;
}

int report_emulation_failure(kvm::VcpuFd const& vcpu, GuestMemory& memory, kvm::exit::EmulationFailure const& failure)
{
    auto regs = vcpu.get_regs();
    auto sregs = vcpu.get_sregs();
    std::string rip = regs ? fmt::format("0x{:x}", regs->rip) : std::string("unknown");
    std::optional<std::vector<uint8_t>> bytes = failure.instruction;
    char const* source = "from KVM";
    if (!bytes && regs && sregs) {
        bytes = instruction_bytes_at_rip(vcpu, memory, *regs, *sregs);
        source = "from guest memory";
    }
    if (bytes && !bytes->empty())
        log::error("{}: KVM cannot emulate the instruction at rip={}: bytes {} ({})", vcpu_name(vcpu), rip, format_bytes(*bytes), source);
    else
        log::error("{}: KVM cannot emulate the instruction at rip={}: bytes unavailable", vcpu_name(vcpu), rip);
    return exit_status::GuestEmulationFailure;
}

int report_system_event(kvm::VcpuFd const& vcpu, kvm::exit::SystemEvent const& event)
{
    switch (event.type) {
    case KVM_SYSTEM_EVENT_SHUTDOWN:
        log::info("{}: the guest powered off", vcpu_name(vcpu));
        return exit_status::Success;
    case KVM_SYSTEM_EVENT_RESET:
        log::info("{}: the guest asked for a reset", vcpu_name(vcpu));
        return exit_status::GuestReset;
    case KVM_SYSTEM_EVENT_CRASH:
        log::error("{}: the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)", vcpu_name(vcpu));
        return exit_status::GuestInternalError;
    default:
        log::error("{}: unexpected KVM system event {}", vcpu_name(vcpu), event.type);
        return exit_status::GuestInternalError;
    }
}

} // namespace

std::string format_register_line(kvm_regs const& regs, kvm_sregs const& sregs)
{
    return fmt::format("rip=0x{:x} rsp=0x{:x} cr0=0x{:x} cr3=0x{:x} cr4=0x{:x} efer=0x{:x}",
        regs.rip, regs.rsp, sregs.cr0, sregs.cr3, sregs.cr4, sregs.efer);
}

std::string format_bytes(std::vector<uint8_t> const& bytes)
{
    std::string out;
    for (auto byte : bytes)
        out += fmt::format("{}{:02x}", out.empty() ? "" : " ", byte);
    return out;
}

std::optional<std::vector<uint8_t>> instruction_bytes_at_rip(kvm::VcpuFd const& vcpu, GuestMemory& memory, kvm_regs const& regs, kvm_sregs const& sregs)
{
    // The linear address is CS.base + RIP (the base is 0 in long mode, and ignored there).
    uint64_t linear = regs.rip + ((sregs.efer & (1u << 10)) ? 0 : sregs.cs.base);
    auto translation = vcpu.translate(linear);
    if (!translation || !translation->valid)
        return std::nullopt;
    uint64_t gpa = translation->physical_address;
    size_t length = std::min<uint64_t>(MAX_INSTRUCTION_LENGTH, PAGE_SIZE - (gpa % PAGE_SIZE));
    // Shorten until the read lies in RAM (RIP may sit just before the end of a range).
    for (; length > 0; --length) {
        std::vector<uint8_t> bytes(length);
        if (memory.read(GuestPhysAddr { gpa }, std::as_writable_bytes(std::span { bytes })))
            return bytes;
    }
    return std::nullopt;
}

int report_fatal_exit(kvm::VcpuFd const& vcpu, GuestMemory& memory, kvm::VcpuExit const& exit)
{
    using namespace kvm::exit;
    if (std::holds_alternative<Shutdown>(exit))
        return report_triple_fault(vcpu);
    if (auto const* failure = std::get_if<EmulationFailure>(&exit))
        return report_emulation_failure(vcpu, memory, *failure);
    if (auto const* event = std::get_if<SystemEvent>(&exit))
        return report_system_event(vcpu, *event);
    if (auto const* internal = std::get_if<InternalError>(&exit)) {
        std::string data;
        for (auto word : internal->data)
            data += fmt::format(" 0x{:x}", word);
        log::error("{}: KVM internal error, suberror {}{}{}: {}", vcpu_name(vcpu), internal->suberror,
            data.empty() ? "" : ", data", data, register_line(vcpu));
        return exit_status::GuestInternalError;
    }
    if (auto const* entry = std::get_if<FailEntry>(&exit)) {
        log::error("{}: VM entry failed, hardware reason 0x{:x} on host cpu {}: {}", vcpu_name(vcpu),
            entry->hardware_reason, entry->cpu, register_line(vcpu));
        return exit_status::GuestInternalError;
    }
    uint32_t reason = 0;
    if (auto const* unknown = std::get_if<Unknown>(&exit))
        reason = unknown->reason;
    log::error("{}: unexpected KVM exit reason {}: {}", vcpu_name(vcpu), reason, register_line(vcpu));
    return exit_status::GuestInternalError;
}

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
#include "vmm/kvm/vcpu_exit.h"

#include <algorithm>
#include "vmm/kvm/kvm_uapi.h"

namespace monarch::vmm::kvm {
namespace {

VcpuExit decode_io(kvm_run& run, size_t run_size)
{
    auto const& io = run.io;
    uint64_t length = uint64_t { io.size } * io.count;
    // KVM places the data inside the kvm_run mapping at data_offset; never trust it blindly.
    if (io.size == 0 || io.data_offset >= run_size || length > run_size - io.data_offset)
        return exit::Unknown { KVM_EXIT_IO };
    // SAFETY: [data_offset, data_offset + length) was just checked to lie inside the mapping.
    auto* base = reinterpret_cast<std::byte*>(&run) + io.data_offset;
    return exit::Io {
        io.direction == KVM_EXIT_IO_OUT ? exit::Direction::Out : exit::Direction::In,
        io.port, io.size, io.count, std::span<std::byte>(base, length)
    };
}

VcpuExit decode_mmio(kvm_run& run)
{
    auto& mmio = run.mmio;
    size_t length = std::min<size_t>(mmio.len, sizeof(mmio.data));
    // SAFETY: mmio.data is an 8-byte array inside kvm_run; length is clamped to it.
    auto* base = reinterpret_cast<std::byte*>(mmio.data);
    return exit::Mmio {
        mmio.is_write ? exit::Direction::Out : exit::Direction::In,
        mmio.phys_addr, std::span<std::byte>(base, length)
    };
}

VcpuExit decode_internal_error(kvm_run& run)
{
    auto const& internal = run.internal;
    if (internal.suberror == KVM_INTERNAL_ERROR_EMULATION) {
        // api.rst: emulation_failure overlays internal; flags is data[0], insn_size and
        // insn_bytes fill data[1..2]. Valid only if ndata covers them and the flag is set.
        auto const& failure = run.emulation_failure;
        if (failure.ndata >= 3 && (failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
            size_t size = std::min<size_t>(failure.insn_size, sizeof(failure.insn_bytes));
            return exit::EmulationFailure { std::vector<uint8_t>(failure.insn_bytes, failure.insn_bytes + size) };
        }
        return exit::EmulationFailure { std::nullopt };
    }
    size_t count = std::min<size_t>(internal.ndata, std::size(internal.data));
    return exit::InternalError { internal.suberror, std::vector<uint64_t>(internal.data, internal.data + count) };
}

} // namespace

VcpuExit decode_exit(kvm_run& run, size_t run_size)
{
    switch (run.exit_reason) {
    case KVM_EXIT_IO:
        return decode_io(run, run_size);
    case KVM_EXIT_MMIO:
        return decode_mmio(run);
    case KVM_EXIT_HLT:
        return exit::Hlt {};
    case KVM_EXIT_SHUTDOWN:
        return exit::Shutdown {};
    case KVM_EXIT_INTERNAL_ERROR:
        return decode_internal_error(run);
    case KVM_EXIT_SYSTEM_EVENT:
        return exit::SystemEvent { run.system_event.type };
    case KVM_EXIT_FAIL_ENTRY:
        return exit::FailEntry { run.fail_entry.hardware_entry_failure_reason, run.fail_entry.cpu };
    case KVM_EXIT_DEBUG:
        return exit::Debug { run.debug.arch.exception, run.debug.arch.pc, run.debug.arch.dr6, run.debug.arch.dr7 };
    case KVM_EXIT_INTR:
        return exit::Interrupted {};
    default:
        return exit::Unknown { run.exit_reason };
    }
}

} // namespace monarch::vmm::kvm

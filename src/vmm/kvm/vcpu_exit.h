// SPDX-License-Identifier: Apache-2.0
// VcpuExit: why KVM_RUN returned, decoded from struct kvm_run into plain values (the vCPU
// loop never reads kvm_run itself). Data spans point into the vCPU's kvm_run page and are
// valid until the next KVM_RUN.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <variant>
#include <vector>

struct kvm_run;

namespace monarch::vmm::kvm {

namespace exit {

enum class Direction : uint8_t { In, Out };

// KVM_EXIT_IO: `count` accesses of `width` bytes each (count > 1 for rep ins/outs); `data`
// holds width * count bytes, to fill (In) or to consume (Out).
struct Io {
    Direction direction { Direction::In };
    uint16_t port { 0 };
    uint8_t width { 0 };
    uint32_t count { 0 };
    std::span<std::byte> data;
};

// KVM_EXIT_MMIO: one access of data.size() bytes (1..8) at a guest-physical address.
struct Mmio {
    Direction direction { Direction::In };
    uint64_t address { 0 };
    std::span<std::byte> data;
};

struct Hlt { };
struct Shutdown { };    // triple fault (or another reason the CPU shut down)

// KVM_EXIT_INTERNAL_ERROR with suberror KVM_INTERNAL_ERROR_EMULATION.
struct EmulationFailure {
    // The instruction bytes, when KVM supplied them (KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES).
    std::optional<std::vector<uint8_t>> instruction;
};

// KVM_EXIT_INTERNAL_ERROR with any other suberror; up to 16 words of KVM-specific data.
struct InternalError {
    uint32_t suberror { 0 };
    std::vector<uint64_t> data;
};

struct SystemEvent {
    uint32_t type { 0 };    // KVM_SYSTEM_EVENT_SHUTDOWN, _RESET, _CRASH...
};

struct FailEntry {
    uint64_t hardware_reason { 0 };
    uint32_t cpu { 0 };
};

// KVM_EXIT_DEBUG (api.rst, kvm_run.debug.arch on x86): a hardware breakpoint or a single step
// that the VMM asked for with KVM_SET_GUEST_DEBUG. `exception` is the vector (1: #DB, 3: #BP),
// `pc` the linear address of the instruction, `dr6` says which condition fired (bits 0-3: DR0-3
// matched, bit 14 BS: single step).
struct Debug {
    uint32_t exception { 0 };
    uint64_t pc { 0 };
    uint64_t dr6 { 0 };
    uint64_t dr7 { 0 };
};

// KVM_RUN returned EINTR/EAGAIN or KVM_EXIT_INTR: a kick, a signal, or INIT/SIPI woke the vCPU.
struct Interrupted { };

struct Unknown {
    uint32_t reason { 0 };
};

} // namespace exit

using VcpuExit = std::variant<exit::Io, exit::Mmio, exit::Hlt, exit::Shutdown, exit::EmulationFailure,
    exit::InternalError, exit::SystemEvent, exit::FailEntry, exit::Debug, exit::Interrupted, exit::Unknown>;

// Decodes the exit KVM recorded in `run`, whose mapping spans `run_size` bytes. Offsets KVM
// gives (the PIO data offset) are checked against run_size.
[[nodiscard]] VcpuExit decode_exit(kvm_run& run, size_t run_size);

} // namespace monarch::vmm::kvm

// SPDX-License-Identifier: Apache-2.0
// What the VMM says and which exit status it takes when a vCPU exit ends the VM: a triple
// fault (the vCPU's registers), an emulation failure (RIP and the instruction bytes), another
// KVM internal error, a failed VM entry, a system event (power-off, reset), an unknown exit.
#pragma once

#include "vmm/kvm/vcpu_exit.h"
#include "vmm/kvm/vcpu_fd.h"
#include "vmm/memory/guest_memory.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace monarch::vmm::machine {

// Logs one error line (or an info line for a clean power-off) and returns the exit status.
[[nodiscard]] int report_fatal_exit(kvm::VcpuFd const&, GuestMemory&, kvm::VcpuExit const&);

// "rip=0x... rsp=0x... cr0=0x... cr3=0x... cr4=0x... efer=0x..." (pure, for tests).
[[nodiscard]] std::string format_register_line(kvm_regs const&, kvm_sregs const&);
// "0f c7 0e" (pure, for tests).
[[nodiscard]] std::string format_bytes(std::vector<uint8_t> const&);

// The bytes at the vCPU's RIP read through its page tables (KVM_TRANSLATE), up to 15 bytes and
// never past the end of the page RIP is on; none when RIP does not translate to RAM.
[[nodiscard]] std::optional<std::vector<uint8_t>> instruction_bytes_at_rip(kvm::VcpuFd const&, GuestMemory&, kvm_regs const&, kvm_sregs const&);

} // namespace monarch::vmm::machine

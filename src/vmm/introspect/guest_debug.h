// SPDX-License-Identifier: Apache-2.0
// The KVM_SET_GUEST_DEBUG argument for up to four hardware execution breakpoints and an
// optional single step: pure functions, so that the debug-register encoding is unit-tested.
#pragma once

#include "common/result.h"

#include <cstdint>
#include "vmm/kvm/kvm_uapi.h"
#include <span>

namespace monarch::vmm::introspect {

// x86 has four address breakpoint registers, DR0-DR3 (SDM vol. 3, 18.2).
inline constexpr size_t MAX_HW_BREAKPOINTS = 4;

// DR7 for execution breakpoints in DR0..DR(count-1): for each, the global-enable bit G<n>
// (bit 2n+1) with R/W<n> = 00 (instruction execution) and LEN<n> = 00 (required for
// execution breakpoints), plus GE (bit 9) and bit 10, which reads as 1 (SDM vol. 3, 18.2.4).
// Errc::OutOfRange for more than four.
[[nodiscard]] Result<uint64_t> dr7_for_execution_breakpoints(size_t count);

// KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_HW_BP with DR0-3 = `breakpoints` and their DR7, plus
// KVM_GUESTDBG_SINGLESTEP when `single_step` (and KVM_GUESTDBG_BLOCKIRQ when `block_irq`, so
// that the step executes the instruction rather than entering an interrupt handler). No
// breakpoints and no step: all zero, which switches guest debugging off (api.rst 4.59).
[[nodiscard]] Result<kvm_guest_debug> make_guest_debug(std::span<uint64_t const> breakpoints, bool single_step, bool block_irq);

} // namespace monarch::vmm::introspect

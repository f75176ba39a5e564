// SPDX-License-Identifier: Apache-2.0
// Debug-register encoding for KVM_SET_GUEST_DEBUG (SDM vol. 3, 18.2.4; KVM api.rst 4.59).
#include "vmm/introspect/guest_debug.h"

namespace monarch::vmm::introspect {

namespace {

constexpr uint64_t DR7_GE = uint64_t { 1 } << 9;
constexpr uint64_t DR7_RESERVED_ONE = uint64_t { 1 } << 10;

// Not every header has it (Linux 5.16+ with KVM_CAP_SET_GUEST_DEBUG2); KVM refuses unknown
// flags, so callers retry without it.
#ifdef KVM_GUESTDBG_BLOCKIRQ
constexpr uint32_t GUESTDBG_BLOCKIRQ = KVM_GUESTDBG_BLOCKIRQ;
#else
constexpr uint32_t GUESTDBG_BLOCKIRQ = 0x00100000;
#endif

} // namespace

Result<uint64_t> dr7_for_execution_breakpoints(size_t count)
{
    if (count > MAX_HW_BREAKPOINTS)
        return fail(Errc::OutOfRange, "hardware breakpoints: x86 has only four (DR0-DR3)");
    uint64_t dr7 = 0;
    for (size_t slot = 0; slot < count; ++slot)
        dr7 |= uint64_t { 1 } << (2 * slot + 1); // G<slot>; R/W and LEN stay 00: execution
    if (count > 0)
        dr7 |= DR7_GE | DR7_RESERVED_ONE;
    return dr7;
}

Result<kvm_guest_debug> make_guest_debug(std::span<uint64_t const> breakpoints, bool single_step, bool block_irq)
{
    kvm_guest_debug debug {};
    debug.arch.debugreg[7] = TRY(dr7_for_execution_breakpoints(breakpoints.size()));
    if (breakpoints.empty() && !single_step)
        return debug; // control 0: guest debugging off
    debug.control = KVM_GUESTDBG_ENABLE;
    if (!breakpoints.empty())
        debug.control |= KVM_GUESTDBG_USE_HW_BP;
    for (size_t slot = 0; slot < breakpoints.size(); ++slot)
        debug.arch.debugreg[slot] = breakpoints[slot];
    if (single_step) {
        debug.control |= KVM_GUESTDBG_SINGLESTEP;
        if (block_irq)
            debug.control |= GUESTDBG_BLOCKIRQ;
    }
    return debug;
}

} // namespace monarch::vmm::introspect

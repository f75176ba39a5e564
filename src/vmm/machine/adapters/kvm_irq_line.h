// SPDX-License-Identifier: Apache-2.0
// KvmIrqLine: an IrqLine (what device models drive) backed by KVM_IRQ_LINE on one GSI of the
// in-kernel PIC/IOAPIC. Level-triggered: the model raises and lowers it as its state changes.
#pragma once

#include "common/log.h"
#include "common/strong_int.h"
#include "vmm/devices/irq_line.h"
#include "vmm/kvm/vm_fd.h"

#include <atomic>

namespace monarch::vmm::machine {

class KvmIrqLine final : public IrqLine {
public:
    KvmIrqLine(kvm::VmFd const& vm, Gsi gsi) : m_vm(vm), m_gsi(gsi) {}

    void set_level(bool asserted) override
    {
        auto result = m_vm.set_irq_line(m_gsi, asserted);
        // KVM_IRQ_LINE fails only on a VMM bug (no irqchip, bad GSI): say so once, keep running.
        if (!result && !m_reported.exchange(true))
            log::error("irq line {}: {}", m_gsi.raw(), to_string(result.error()));
    }

private:
    kvm::VmFd const& m_vm;
    Gsi m_gsi;
    std::atomic<bool> m_reported { false };
};

} // namespace monarch::vmm::machine

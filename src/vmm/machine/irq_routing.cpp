// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/irq_routing.h"

#include <cstdint>

namespace monarch::vmm::machine {
namespace {

kvm_irq_routing_entry irqchip_entry(uint32_t gsi, uint32_t irqchip, uint32_t pin)
{
    kvm_irq_routing_entry entry {};
    entry.gsi = gsi;
    entry.type = KVM_IRQ_ROUTING_IRQCHIP;
    entry.u.irqchip.irqchip = irqchip;
    entry.u.irqchip.pin = pin;
    return entry;
}

} // namespace

std::vector<kvm_irq_routing_entry> legacy_gsi_routing()
{
    std::vector<kvm_irq_routing_entry> entries;
    for (uint32_t gsi = 0; gsi < 8; ++gsi)
        if (gsi != 2)
            entries.push_back(irqchip_entry(gsi, KVM_IRQCHIP_PIC_MASTER, gsi));
    for (uint32_t gsi = 8; gsi < 16; ++gsi)
        entries.push_back(irqchip_entry(gsi, KVM_IRQCHIP_PIC_SLAVE, gsi - 8));
    for (uint32_t gsi = 0; gsi < IOAPIC_PINS; ++gsi) {
        if (gsi == 2)
            continue;
        entries.push_back(irqchip_entry(gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi));
    }
    return entries;
}

} // namespace monarch::vmm::machine

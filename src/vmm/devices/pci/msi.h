// SPDX-License-Identifier: Apache-2.0
// MSI delivery as device models see it. An MSI-X table entry holds an address/data pair the
// guest programmed (Intel SDM vol. 3, 11.11: the address selects the destination APIC, the
// data the vector); the VMM turns a vector into a KVM GSI route plus an irqfd, unit tests into
// a record of what was sent.
#pragma once

#include <cstdint>

namespace monarch::vmm::pci {

struct MsiMessage {
    uint64_t address { 0 };
    uint32_t data { 0 };
    friend bool operator==(MsiMessage const&, MsiMessage const&) = default;
};

class MsiRouter {
public:
    virtual ~MsiRouter() = default;
    // Entry `vector` of a device's MSI-X table now holds `message` and is (un)masked: the VMM
    // updates the vector's GSI route (KVM_SET_GSI_ROUTING) before the next trigger().
    virtual void update(uint16_t vector, MsiMessage const& message, bool masked) = 0;
    // Deliver `vector` now (an unmasked entry; the table model handles masking and the PBA).
    // Safe on any thread; never blocks.
    virtual void trigger(uint16_t vector) = 0;
};

} // namespace monarch::vmm::pci

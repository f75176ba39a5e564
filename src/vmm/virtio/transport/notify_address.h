// SPDX-License-Identifier: Apache-2.0
// NotifyAddress: where a driver's write kicks one queue, so that the VMM can register an
// ioeventfd there (KVM_IOEVENTFD) whose handler calls the transport's handle_queue_notify()
// on the event loop, bypassing the vCPU exit path (virtio 1.2 sections 4.1.4.4 and 4.2.2).
#pragma once

#include <cstdint>
#include <optional>

namespace monarch::vmm::virtio {

struct NotifyAddress {
    uint16_t queue_index { 0 };
    // virtio-mmio: offset from the transport's MMIO base. virtio-pci: offset inside BAR `bar`
    // (the VMM adds the BAR's current guest address, and follows BAR moves).
    uint64_t offset { 0 };
    uint8_t bar { 0 };
    uint8_t length { 0 };                // access width to match; 0: any width (KVM's fast MMIO
                                         // path; only without datamatch)
    std::optional<uint64_t> datamatch;   // the value written, when several queues share one address
};

} // namespace monarch::vmm::virtio

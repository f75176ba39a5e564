// SPDX-License-Identifier: Apache-2.0
// VirtioDevice: what a virtio transport (virtio-pci modern, virtio-mmio v2) drives. A device
// model knows nothing of the transport or of KVM: it states its type, features, queue sizes
// and configuration space, and it processes its queues once activated (virtio 1.2, section 2
// "Basic Facilities of a Virtio Device" and section 3.1 "Device Initialization").
//
// Threading: every call below except the constructor arrives on the VMM's event-loop thread
// (the io_context the device was given). Transports post vCPU-thread register writes there;
// queue notifications arrive there from ioeventfds. So a device is single-threaded and needs
// no lock of its own for queue state. (One exception: the transport's constructor calls
// read_config() once, on the constructing thread, before the loop runs anything for the device;
// afterwards vCPU-thread reads are served from a copy the transport refreshes on the loop.)
#pragma once

#include "common/result.h"
#include "vmm/memory/guest_memory.h"
#include "vmm/virtio/virtqueue.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::virtio {

// virtio 1.2 section 5: device IDs.
enum class DeviceType : uint32_t {
    Net = 1,
    Block = 2,
    Console = 3,
    Rng = 4,
    Vsock = 19,
};

// Feature bits every device shares (virtio 1.2 section 6).
inline constexpr uint64_t F_INDIRECT_DESC = 1ULL << 28;
inline constexpr uint64_t F_EVENT_IDX = 1ULL << 29;
inline constexpr uint64_t F_VERSION_1 = 1ULL << 32;
inline constexpr uint64_t F_ACCESS_PLATFORM = 1ULL << 33;

// How a device raises an interrupt; the transport maps it to an MSI-X vector or to ISR bits
// plus an INTx/legacy line.
class VirtioInterrupt {
public:
    virtual ~VirtioInterrupt() = default;
    // Used buffers were added to queue `queue_index`. The device calls this only when the
    // queue says the driver wants to be told (Virtqueue::needs_notification()).
    virtual void signal_queue(uint16_t queue_index) = 0;
    // The device's configuration space changed (virtio 1.2 section 2.5.1).
    virtual void signal_config() = 0;
};

// What activation hands a device: the acked features, its queues (validated by the transport),
// guest memory and the interrupt. The references stay valid until reset() returns.
struct ActivateContext {
    uint64_t acked_features { 0 };
    GuestMemory& memory;
    std::vector<Virtqueue>& queues;   // one per queue the device declared, same order; a queue
                                      // the driver did not enable is Virtqueue::disabled()
    VirtioInterrupt& interrupt;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    [[nodiscard]] virtual DeviceType device_type() const = 0;
    // A short name for logs and counters: "virtio-blk", "virtio-net"...
    [[nodiscard]] virtual std::string_view name() const = 0;
    // The largest size of each queue the device has (the driver may choose smaller).
    [[nodiscard]] virtual std::span<uint16_t const> queue_max_sizes() const = 0;
    // Offered features, including F_VERSION_1 (we implement only modern devices).
    [[nodiscard]] virtual uint64_t device_features() const = 0;

    // Device-specific configuration space (virtio 1.2 section 5.x.4). Out-of-range parts of
    // an access read as zero and are ignored on write.
    virtual void read_config(uint64_t offset, std::span<std::byte> data) const = 0;
    virtual void write_config(uint64_t offset, std::span<std::byte const> data) = 0;

    // DRIVER_OK: start processing. An error (a back end that cannot start) makes the
    // transport set DEVICE_NEEDS_RESET.
    [[nodiscard]] virtual Result<void> activate(ActivateContext context) = 0;
    // The driver wrote 0 to the status register, or the VMM is stopping: stop processing,
    // complete or cancel in-flight host I/O, and return only once nothing will touch guest
    // memory or the queues any more. The device may be activated again afterwards.
    virtual void reset() = 0;
    // The driver made buffers available on queue `queue_index`.
    virtual void queue_notify(uint16_t queue_index) = 0;

    // Snapshots, on the loop thread (or with the loop stopped), only while active. quiesce():
    // finish or stop everything that touches guest memory or the queues (complete host I/O in
    // flight and write its used entries, stop reading host input into guest buffers, give
    // popped-but-unused chains back with Virtqueue::rewind()) and return once nothing will;
    // the transport holds queue notifications back until thaw(). thaw(): carry on (pick up
    // host input that arrived meanwhile). Devices without host I/O keep the defaults.
    virtual void quiesce() {}
    virtual void thaw() {}
    // After a restore, once the device was activated with its restored queues (guest memory
    // already restored): what the device does for the guest that cannot carry its host state
    // across (virtio-vsock: TRANSPORT_RESET). Default: nothing.
    virtual void restored() {}

    // Set by the device when the driver broke the protocol (a malformed chain); the transport
    // then reports DEVICE_NEEDS_RESET (virtio 1.2 section 2.1.2) and stops notifying it.
    [[nodiscard]] virtual bool needs_reset() const = 0;
};

} // namespace monarch::vmm::virtio

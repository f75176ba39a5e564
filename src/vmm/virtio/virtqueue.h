// SPDX-License-Identifier: Apache-2.0
// Virtqueue: the device side of a split virtqueue (virtio 1.2 section 2.7) over GuestMemory.
// Every descriptor chain is validated before a device sees it: addresses inside guest RAM,
// lengths that do not overflow, no loops, at most queue-size descriptors (or the indirect
// table's size), no indirect table inside an indirect table, no readable descriptor after a
// writable one. A violation is an Errc::Corrupt error; the device then asks for a reset.
//
// Choices the spec leaves open (section 2.7.5 and 2.7.5.3):
// - A zero-length descriptor is allowed but skipped: it counts towards the chain length and
//   the readable-then-writable order, its address is not checked, and it does not appear in
//   DescriptorChain::readable/writable.
// - An indirect table holds at most max(queue size, MAX_INDIRECT_DESCRIPTORS) descriptors
//   (Linux puts more than queue-size segments in one table when indirect is negotiated); its
//   length must be a non-zero multiple of 16. Direct descriptors before it count separately.
// - A chain's buffers may add up to at most 2^32 bytes (section 2.7.5: "longer than 2^32
//   bytes in total" is forbidden).
// - Once a queue has seen a corrupt chain or available index it stays broken: pop() and
//   push_used() answer Errc::Corrupt until the transport builds a new Virtqueue (reset).
//
// Threading: a Virtqueue is used by one thread (the device's event loop); the driver runs on
// other CPUs, so shared ring fields are read and written with acquire/release ordering.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "vmm/memory/guest_memory.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::virtio {

// What the driver programmed through the transport (virtio 1.2 section 4.1.4.3 / 4.2.2).
struct QueueConfig {
    uint16_t size { 0 };          // a power of two, 1..32768 (checked by the transport)
    GuestPhysAddr descriptor_table;
    GuestPhysAddr available_ring;
    GuestPhysAddr used_ring;
    bool event_idx { false };     // VIRTIO_F_EVENT_IDX was negotiated
    bool indirect { false };      // VIRTIO_F_INDIRECT_DESC was negotiated
};

// A queue's position for snapshots: what the driver programmed plus the device's indices and
// its EVENT_IDX bookkeeping (the used index at the last interrupt decision).
struct VirtqueueState {
    QueueConfig config;
    uint16_t next_available { 0 };
    uint16_t next_used { 0 };
    uint16_t signalled_used { 0 };
    bool signalled_valid { false };
    bool broken { false };
};

// One guest buffer of a chain, already checked to lie inside guest RAM.
struct GuestBuffer {
    GuestPhysAddr address;
    uint32_t length { 0 };
};

// A validated chain: the driver's readable buffers first, then the writable ones.
struct DescriptorChain {
    uint16_t head { 0 };                  // what push_used() gives back
    std::vector<GuestBuffer> readable;    // device reads (driver -> device)
    std::vector<GuestBuffer> writable;    // device writes (device -> driver)
    [[nodiscard]] uint64_t readable_length() const;
    [[nodiscard]] uint64_t writable_length() const;
};

class Virtqueue {
public:
    static constexpr uint32_t MAX_INDIRECT_DESCRIPTORS = 1024;

    // Errc::InvalidArgument when the rings do not lie inside guest RAM or are misaligned
    // (virtio 1.2 section 2.7: 16/2/4-byte alignment) or the size is not a power of two.
    [[nodiscard]] static Result<Virtqueue> create(GuestMemory& memory, QueueConfig const& config);
    // A queue the driver did not enable (size 0): pop() finds nothing, push_used() fails with
    // InvalidArgument, needs_notification() is false. Transports put these in
    // ActivateContext::queues so that the vector always has one entry per declared queue.
    [[nodiscard]] static Virtqueue disabled(GuestMemory& memory) { return Virtqueue { memory, QueueConfig {} }; }
    [[nodiscard]] bool enabled() const { return m_config.size != 0; }

    // Snapshots. state() is taken with the device quiesced (no chain popped and not yet
    // returned, see rewind()). restore() checks the ring as create() does and that the indices
    // are consistent (at most `size` chains outstanding); Errc::Corrupt otherwise. A disabled
    // state (size 0) must carry no addresses or indices.
    [[nodiscard]] VirtqueueState state() const;
    [[nodiscard]] static Result<Virtqueue> restore(GuestMemory& memory, VirtqueueState const& state);
    // Gives the last `count` popped chains back to the available ring, unused: the next pop()
    // returns them again. For a device that holds popped chains (virtio-net's receive buffers)
    // and must let go of them before a snapshot. InvalidArgument when fewer are outstanding.
    [[nodiscard]] Result<void> rewind(uint16_t count);

    // The next available chain, or nullopt when the driver has made none available.
    // Errc::Corrupt for a malformed chain or an available index more than `size` ahead.
    // With EVENT_IDX, pop() publishes avail_event itself: returning nullopt means the driver
    // will notify for its next buffer (the race with a concurrent add is closed inside pop()).
    [[nodiscard]] Result<std::optional<DescriptorChain>> pop();
    // Returns a chain to the driver with `written` bytes written into its writable buffers.
    // Publish::Later writes the used element but not used->idx: a device that returns several
    // chains as one unit (virtio-net's mergeable receive buffers, section 5.1.6.4) publishes
    // them together with publish_used(), so a polling driver never sees part of a frame.
    enum class Publish : uint8_t { Now, Later };
    [[nodiscard]] Result<void> push_used(uint16_t head, uint32_t written, Publish publish = Publish::Now);
    // Makes every element written by push_used(..., Publish::Later) visible to the driver.
    [[nodiscard]] Result<void> publish_used();
    // After one or more push_used(): whether the driver wants an interrupt now (EVENT_IDX
    // used_event, or VRING_AVAIL_F_NO_INTERRUPT without it; section 2.7.7 and 2.7.10).
    [[nodiscard]] bool needs_notification();
    // With EVENT_IDX, publish avail_event so the driver notifies us for the next buffer
    // (pop() already does this when it finds the ring empty; harmless to call again).
    void enable_notification();

    // The driver broke the ring protocol on this queue (see above).
    [[nodiscard]] bool broken() const { return m_broken; }
    // The available index we will consume next and the used index we published last.
    [[nodiscard]] uint16_t next_available() const { return m_next_available; }
    [[nodiscard]] uint16_t next_used() const { return m_next_used; }

    [[nodiscard]] QueueConfig const& config() const { return m_config; }

private:
    Virtqueue(GuestMemory& memory, QueueConfig const& config) : m_memory(&memory), m_config(config) {}

    [[nodiscard]] Result<DescriptorChain> walk_chain(uint16_t head);
    [[nodiscard]] Result<uint16_t> available_index();
    void publish_avail_event();
    Failure mark_broken(std::string_view why);

    GuestMemory* m_memory;
    QueueConfig m_config;
    uint16_t m_next_available { 0 };  // our copy of the last avail->idx entry consumed
    uint16_t m_next_used { 0 };       // used->idx we publish
    uint16_t m_signalled_used { 0 };  // used->idx at the last interrupt (EVENT_IDX)
    bool m_signalled_valid { false };
    bool m_broken { false };
};

// Copies across a chain's buffers, bounds-checked, for device models: the bytes at `offset`
// of the buffers taken end to end, up to the size of `out`/`in` or the end of the buffers.
// Returns how many bytes were copied (less than asked when the buffers end first).
[[nodiscard]] Result<size_t> read_from_chain(GuestMemory&, std::span<GuestBuffer const>, uint64_t offset, std::span<std::byte> out);
[[nodiscard]] Result<size_t> write_to_chain(GuestMemory&, std::span<GuestBuffer const>, uint64_t offset, std::span<std::byte const> in);

} // namespace monarch::vmm::virtio

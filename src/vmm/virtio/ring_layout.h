// SPDX-License-Identifier: Apache-2.0
// The split-ring layout in guest memory (virtio 1.2 section 2.7: descriptor table, available
// ring, used ring), shared by the device-side Virtqueue and the driver-side test helper.
// All fields are little-endian; the VMM runs only on little-endian hosts (x86-64).
#pragma once

#include <cstdint>

namespace monarch::vmm::virtio::ring {

// struct virtq_desc (section 2.7.5): 16 bytes.
struct Descriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(Descriptor) == 16);

inline constexpr uint16_t DESC_F_NEXT = 1;     // continues via `next`
inline constexpr uint16_t DESC_F_WRITE = 2;    // device-writable (else device-readable)
inline constexpr uint16_t DESC_F_INDIRECT = 4; // the buffer is a table of descriptors

inline constexpr uint16_t AVAIL_F_NO_INTERRUPT = 1; // driver: no used-buffer notification
inline constexpr uint16_t USED_F_NO_NOTIFY = 1;     // device: no available-buffer notification

// struct virtq_used_elem (section 2.7.8): 8 bytes.
struct UsedElement {
    uint32_t id;
    uint32_t length;
};
static_assert(sizeof(UsedElement) == 8);

inline constexpr uint16_t MAX_QUEUE_SIZE = 32768; // section 2.7: queue size is at most 2^15

// Alignment of each part (section 2.7, table "Virtqueue Part Alignment").
inline constexpr uint64_t DESCRIPTOR_TABLE_ALIGN = 16;
inline constexpr uint64_t AVAILABLE_RING_ALIGN = 2;
inline constexpr uint64_t USED_RING_ALIGN = 4;

// Offsets inside the available ring: flags, idx, ring[size], used_event.
inline constexpr uint64_t AVAIL_FLAGS = 0;
inline constexpr uint64_t AVAIL_IDX = 2;
inline constexpr uint64_t AVAIL_RING = 4;
[[nodiscard]] constexpr uint64_t avail_used_event_offset(uint16_t size) { return AVAIL_RING + 2ULL * size; }
[[nodiscard]] constexpr uint64_t available_ring_bytes(uint16_t size) { return 6 + 2ULL * size; }

// Offsets inside the used ring: flags, idx, ring[size] of UsedElement, avail_event.
inline constexpr uint64_t USED_FLAGS = 0;
inline constexpr uint64_t USED_IDX = 2;
inline constexpr uint64_t USED_RING = 4;
[[nodiscard]] constexpr uint64_t used_avail_event_offset(uint16_t size) { return USED_RING + 8ULL * size; }
[[nodiscard]] constexpr uint64_t used_ring_bytes(uint16_t size) { return 6 + 8ULL * size; }

[[nodiscard]] constexpr uint64_t descriptor_table_bytes(uint16_t size) { return 16ULL * size; }

// vring_need_event (section 2.7.10 / include/uapi/linux/virtio_ring.h): whether moving the
// index from `old_index` to `new_index` passed `event_index`, all modulo 2^16.
[[nodiscard]] constexpr bool need_event(uint16_t event_index, uint16_t new_index, uint16_t old_index)
{
    return static_cast<uint16_t>(new_index - event_index - 1) < static_cast<uint16_t>(new_index - old_index);
}

} // namespace monarch::vmm::virtio::ring

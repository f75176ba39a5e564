// SPDX-License-Identifier: Apache-2.0
// VirtqueueDriver: the driver side of one split virtqueue in a VecGuestMemory, for unit tests of
// the Virtqueue and of device models. It lays out the rings, hands out buffer memory, builds
// chains (direct or through an indirect table), makes them available and reads used entries.
//
//   test::VecGuestMemory memory { 1 << 20 };
//   test::VirtqueueDriver driver { memory, 16 };               // rings at 0x1000, data after
//   auto request = driver.put_bytes(header_bytes);             // copy data into guest RAM
//   auto reply = driver.alloc(512);                            // room for the device to write
//   uint16_t head = driver.add_chain({ driver.readable(request, header_bytes.size()),
//                                      driver.writable(reply, 512) });
//   auto queue = *virtio::Virtqueue::create(memory, driver.config());   // or activate a device
//   ... device pops, writes, push_used ...
//   auto used = driver.next_used();                            // optional<UsedEntry>{id, length}
//   auto bytes = driver.read_bytes(reply, used->length);
//
// For corrupt rings, write_descriptor()/make_available()/set_avail_idx() write raw values.
// Feature-dependent fields: set_used_event() and avail_event() matter only with EVENT_IDX;
// add_indirect_chain() only with VIRTIO_F_INDIRECT_DESC (QueueConfig::indirect) on the device.
#pragma once

#include "vmm/virtio/ring_layout.h"
#include "vmm/virtio/virtqueue.h"
#include "support/vec_guest_memory.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <vector>

namespace monarch::test {

class VirtqueueDriver {
public:
    struct Segment {
        GuestPhysAddr address;
        uint32_t length { 0 };
        bool writable { false }; // device-writable
    };
    struct UsedEntry {
        uint32_t id { 0 };
        uint32_t length { 0 };
    };

    // Rings at `ring_base` (descriptor table, then available ring, then used ring, each
    // aligned); buffer memory from alloc() starts at the next 4 KiB boundary after them.
    VirtqueueDriver(VecGuestMemory& memory, uint16_t size, GuestPhysAddr ring_base = GuestPhysAddr { 0x1000 })
        : m_memory(memory)
        , m_size(size)
    {
        namespace ring = vmm::virtio::ring;
        m_descriptor_table = ring_base;
        m_available_ring = GuestPhysAddr { m_descriptor_table.raw() + ring::descriptor_table_bytes(size) };
        m_used_ring = GuestPhysAddr { align_up(m_available_ring.raw() + ring::available_ring_bytes(size), 4) };
        m_next_data = align_up(m_used_ring.raw() + ring::used_ring_bytes(size), 4096);
        check(m_memory.fill(m_descriptor_table, m_next_data - m_descriptor_table.raw(), std::byte { 0 }));
    }

    // The QueueConfig a transport would hand to Virtqueue::create for this layout.
    [[nodiscard]] vmm::virtio::QueueConfig config(bool event_idx = false, bool indirect = false) const
    {
        return { m_size, m_descriptor_table, m_available_ring, m_used_ring, event_idx, indirect };
    }
    [[nodiscard]] uint16_t size() const { return m_size; }
    [[nodiscard]] GuestPhysAddr descriptor_table() const { return m_descriptor_table; }
    [[nodiscard]] GuestPhysAddr available_ring() const { return m_available_ring; }
    [[nodiscard]] GuestPhysAddr used_ring() const { return m_used_ring; }

    // Buffer memory: `length` zeroed bytes (16-byte aligned), or a copy of `bytes`.
    GuestPhysAddr alloc(uint64_t length)
    {
        GuestPhysAddr address { m_next_data };
        m_next_data = align_up(m_next_data + std::max<uint64_t>(length, 1), 16);
        check(m_memory.fill(address, length, std::byte { 0 }));
        return address;
    }
    GuestPhysAddr put_bytes(std::span<std::byte const> bytes)
    {
        auto address = alloc(bytes.size());
        check(m_memory.write(address, bytes));
        return address;
    }
    [[nodiscard]] std::vector<std::byte> read_bytes(GuestPhysAddr address, uint64_t length)
    {
        std::vector<std::byte> bytes(length);
        check(m_memory.read(address, bytes));
        return bytes;
    }

    static Segment readable(GuestPhysAddr address, uint32_t length) { return { address, length, false }; }
    static Segment writable(GuestPhysAddr address, uint32_t length) { return { address, length, true }; }

    // Writes the segments as a NEXT-linked chain into free descriptors of the queue's table
    // (allocated round-robin), makes it available, and returns its head.
    uint16_t add_chain(std::initializer_list<Segment> segments) { return add_chain(std::span { segments.begin(), segments.size() }); }
    uint16_t add_chain(std::span<Segment const> segments)
    {
        uint16_t head = 0;
        std::vector<uint16_t> indices;
        for (size_t i = 0; i < segments.size(); ++i)
            indices.push_back(take_descriptor());
        for (size_t i = 0; i < segments.size(); ++i) {
            bool const last = i + 1 == segments.size();
            write_descriptor(indices[i], descriptor_for(segments[i], last ? 0 : indices[i + 1], !last));
        }
        head = indices.empty() ? 0 : indices.front();
        make_available(head);
        return head;
    }

    // Writes the segments into a new indirect table, one queue descriptor pointing at it,
    // makes it available, and returns its head.
    uint16_t add_indirect_chain(std::initializer_list<Segment> segments)
    {
        std::vector<Segment> list(segments);
        auto table = alloc(16 * list.size());
        for (size_t i = 0; i < list.size(); ++i) {
            bool const last = i + 1 == list.size();
            write_descriptor_at(table, static_cast<uint16_t>(i), descriptor_for(list[i], static_cast<uint16_t>(i + 1), !last));
        }
        uint16_t head = take_descriptor();
        write_descriptor(head, { table.raw(), static_cast<uint32_t>(16 * list.size()), vmm::virtio::ring::DESC_F_INDIRECT, 0 });
        make_available(head);
        return head;
    }

    // Raw access, for building corrupt rings.
    void write_descriptor(uint16_t index, vmm::virtio::ring::Descriptor const& descriptor)
    {
        write_descriptor_at(m_descriptor_table, index, descriptor);
    }
    void write_descriptor_at(GuestPhysAddr table, uint16_t index, vmm::virtio::ring::Descriptor const& descriptor)
    {
        check(m_memory.write_obj(GuestPhysAddr { table.raw() + 16ULL * index }, descriptor));
    }
    // Puts `head` in the next available-ring slot and bumps avail->idx (the kick itself is the
    // caller's: call the device's queue_notify or the transport's notify register).
    void make_available(uint16_t head)
    {
        check(m_memory.write_obj(GuestPhysAddr { m_available_ring.raw() + 4 + 2ULL * (m_avail_idx % m_size) }, head));
        // A driver's write barrier (section 2.7.13): the entry before the index that publishes it.
        std::atomic_thread_fence(std::memory_order_release);
        set_avail_idx(static_cast<uint16_t>(m_avail_idx + 1));
    }
    void set_avail_idx(uint16_t index)
    {
        m_avail_idx = index;
        check(m_memory.write_obj(GuestPhysAddr { m_available_ring.raw() + 2 }, index));
    }
    [[nodiscard]] uint16_t avail_idx() const { return m_avail_idx; }
    void set_avail_flags(uint16_t flags) { check(m_memory.write_obj(m_available_ring, flags)); }
    void set_used_event(uint16_t index)
    {
        check(m_memory.write_obj(GuestPhysAddr { m_available_ring.raw() + 4 + 2ULL * m_size }, index));
    }
    [[nodiscard]] uint16_t avail_event() { return read<uint16_t>(m_used_ring.raw() + 4 + 8ULL * m_size); }
    [[nodiscard]] uint16_t used_idx() { return read<uint16_t>(m_used_ring.raw() + 2); }
    [[nodiscard]] uint16_t used_flags() { return read<uint16_t>(m_used_ring.raw()); }

    // The next used entry the device published and this driver has not consumed yet.
    [[nodiscard]] std::optional<UsedEntry> next_used()
    {
        if (used_idx() == m_last_used)
            return std::nullopt;
        auto element = read<vmm::virtio::ring::UsedElement>(m_used_ring.raw() + 4 + 8ULL * (m_last_used % m_size));
        ++m_last_used;
        return UsedEntry { element.id, element.length };
    }

private:
    static uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) / alignment * alignment; }

    // A setup access outside the test's guest RAM is a bug in the test: fail it there.
    template<typename T>
    static void check(Result<T> const& result)
    {
        if (!result)
            FAIL("VirtqueueDriver: " << result.error().context);
    }
    template<typename T>
    T read(uint64_t address)
    {
        auto value = m_memory.read_obj<T>(GuestPhysAddr { address });
        check(value);
        return *value;
    }

    uint16_t take_descriptor()
    {
        uint16_t index = m_next_descriptor;
        m_next_descriptor = static_cast<uint16_t>((m_next_descriptor + 1) % m_size);
        return index;
    }
    static vmm::virtio::ring::Descriptor descriptor_for(Segment const& segment, uint16_t next, bool has_next)
    {
        uint16_t flags = segment.writable ? vmm::virtio::ring::DESC_F_WRITE : 0;
        if (has_next)
            flags |= vmm::virtio::ring::DESC_F_NEXT;
        return { segment.address.raw(), segment.length, flags, has_next ? next : uint16_t { 0 } };
    }

    VecGuestMemory& m_memory;
    uint16_t m_size;
    GuestPhysAddr m_descriptor_table;
    GuestPhysAddr m_available_ring;
    GuestPhysAddr m_used_ring;
    uint64_t m_next_data { 0 };
    uint16_t m_next_descriptor { 0 };
    uint16_t m_avail_idx { 0 };
    uint16_t m_last_used { 0 };
};

} // namespace monarch::test

// SPDX-License-Identifier: Apache-2.0
// Walking and validating one descriptor chain (virtio 1.2 sections 2.7.5 and 2.7.5.3), and
// copying across a chain's buffers for device models.

#include "vmm/virtio/ring_layout.h"
#include "vmm/virtio/virtqueue.h"

#include <algorithm>

namespace monarch::vmm::virtio {

namespace {

constexpr uint64_t MAX_CHAIN_BYTES = 1ULL << 32; // section 2.7.5

// Where the walk currently reads descriptors: the queue's table or one indirect table.
struct Table {
    GuestPhysAddr base;
    uint32_t count { 0 };
    bool indirect { false };
};

struct WalkState {
    Table table;
    uint32_t visited { 0 }; // descriptors read from `table`: more than its count is a loop
    bool seen_writable { false };
    uint64_t total_bytes { 0 };
};

// Switch the walk to the indirect table `descriptor` points at (section 2.7.5.3.1).
[[nodiscard]] Result<void> enter_indirect(GuestMemory& memory, QueueConfig const& config, ring::Descriptor const& descriptor, WalkState& state)
{
    if (!config.indirect)
        return fail(Errc::Corrupt, "indirect descriptor without VIRTIO_F_INDIRECT_DESC");
    if (state.table.indirect)
        return fail(Errc::Corrupt, "indirect table inside an indirect table");
    if ((descriptor.flags & ring::DESC_F_NEXT) != 0)
        return fail(Errc::Corrupt, "descriptor has both INDIRECT and NEXT");
    if (descriptor.length == 0 || descriptor.length % sizeof(ring::Descriptor) != 0)
        return fail(Errc::Corrupt, "indirect table length is not a non-zero multiple of 16");
    uint32_t const count = descriptor.length / sizeof(ring::Descriptor);
    if (count > std::max<uint32_t>(config.size, Virtqueue::MAX_INDIRECT_DESCRIPTORS))
        return fail(Errc::Corrupt, "indirect table has too many descriptors");
    GuestPhysAddr const base { descriptor.address };
    if (!memory.span(base, descriptor.length))
        return fail(Errc::Corrupt, "indirect table is not in guest RAM");
    state.table = Table { base, count, true };
    state.visited = 0;
    return {};
}

// Record one buffer descriptor into `chain`.
[[nodiscard]] Result<void> add_buffer(GuestMemory& memory, ring::Descriptor const& descriptor, WalkState& state, DescriptorChain& chain)
{
    bool const writable = (descriptor.flags & ring::DESC_F_WRITE) != 0;
    if (!writable && state.seen_writable)
        return fail(Errc::Corrupt, "device-readable descriptor after a device-writable one");
    state.seen_writable = state.seen_writable || writable;
    if (descriptor.length == 0)
        return {}; // allowed, skipped (see virtqueue.h)
    GuestPhysAddr const address { descriptor.address };
    // span() refuses addresses outside RAM and lengths that run past the end of a RAM range,
    // which also covers address + length wrapping around 2^64.
    if (!memory.span(address, descriptor.length))
        return fail(Errc::Corrupt, "descriptor buffer is not inside guest RAM");
    state.total_bytes += descriptor.length;
    if (state.total_bytes > MAX_CHAIN_BYTES)
        return fail(Errc::Corrupt, "descriptor chain is longer than 2^32 bytes");
    (writable ? chain.writable : chain.readable).push_back(GuestBuffer { address, descriptor.length });
    return {};
}

} // namespace

Result<DescriptorChain> Virtqueue::walk_chain(uint16_t head)
{
    DescriptorChain chain;
    chain.head = head;
    WalkState state { Table { m_config.descriptor_table, m_config.size, false } };
    uint32_t index = head;
    for (;;) {
        if (index >= state.table.count)
            return fail(Errc::Corrupt, "descriptor index out of range");
        if (++state.visited > state.table.count)
            return fail(Errc::Corrupt, "descriptor chain loops or is longer than its table");
        // One copy of the descriptor, validated and then used: the guest may rewrite it.
        auto const descriptor = TRY(m_memory->read_obj<ring::Descriptor>(
            GuestPhysAddr { state.table.base.raw() + uint64_t { index } * sizeof(ring::Descriptor) }));
        if ((descriptor.flags & ring::DESC_F_INDIRECT) != 0) {
            TRY_VOID(enter_indirect(*m_memory, m_config, descriptor, state));
            index = 0;
            continue;
        }
        TRY_VOID(add_buffer(*m_memory, descriptor, state, chain));
        if ((descriptor.flags & ring::DESC_F_NEXT) == 0)
            return chain;
        index = descriptor.next;
    }
}

namespace {

// Calls `copy(buffer_address, byte_count, position_in_data)` for the part of `buffers` that
// [offset, offset + length) covers; returns the bytes covered.
template<typename Copy>
[[nodiscard]] Result<size_t> for_each_piece(std::span<GuestBuffer const> buffers, uint64_t offset, size_t length, Copy&& copy)
{
    size_t done = 0;
    for (auto const& buffer : buffers) {
        if (done == length)
            break;
        if (offset >= buffer.length) {
            offset -= buffer.length;
            continue;
        }
        uint64_t const count = std::min<uint64_t>(buffer.length - offset, length - done);
        TRY_VOID(copy(GuestPhysAddr { buffer.address.raw() + offset }, count, done));
        done += count;
        offset = 0;
    }
    return done;
}

} // namespace

Result<size_t> read_from_chain(GuestMemory& memory, std::span<GuestBuffer const> buffers, uint64_t offset, std::span<std::byte> out)
{
    return for_each_piece(buffers, offset, out.size(), [&](GuestPhysAddr address, uint64_t count, size_t position) {
        return memory.read(address, out.subspan(position, count));
    });
}

Result<size_t> write_to_chain(GuestMemory& memory, std::span<GuestBuffer const> buffers, uint64_t offset, std::span<std::byte const> in)
{
    return for_each_piece(buffers, offset, in.size(), [&](GuestPhysAddr address, uint64_t count, size_t position) {
        return memory.write(address, in.subspan(position, count));
    });
}

} // namespace monarch::vmm::virtio

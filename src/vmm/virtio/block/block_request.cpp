// SPDX-License-Identifier: Apache-2.0
// virtio-blk requests (virtio 1.2 section 5.2.6): header validation, the range checks, and the
// io_uring operations each request type becomes (readv/writev into guest memory, fdatasync,
// fallocate for discard and write-zeroes). Guest mistakes end as IOERR or UNSUPP, never a crash.
#include "vmm/virtio/block/virtio_block.h"

#include "common/log.h"
#include "common/verify.h"
#include "vmm/virtio/block/virtio_blk_spec.h"

#include <climits>
#include <cstdlib>
#include <fcntl.h>
#include <linux/falloc.h>

namespace monarch::vmm::virtio {

using namespace blk;

namespace {

// Larger transfers would come back short from readv/writev (Linux's MAX_RW_COUNT).
constexpr uint64_t MAX_TRANSFER_BYTES = 0x7ffff000;
constexpr uint64_t DIRECT_ALIGNMENT = SECTOR_SIZE;

// Whether [sector, sector + count) lies inside the image (no overflow on the way).
bool in_range(uint64_t sector, uint64_t count, uint64_t capacity)
{
    return sector <= capacity && count <= capacity - sector;
}

// The last byte of the last non-empty writable buffer: where the status goes (section 5.2.6).
std::optional<GuestPhysAddr> status_byte(DescriptorChain const& chain)
{
    for (auto it = chain.writable.rbegin(); it != chain.writable.rend(); ++it) {
        if (it->length > 0)
            return GuestPhysAddr { it->address.raw() + it->length - 1 };
    }
    return std::nullopt;
}

} // namespace

void VirtioBlock::handle_chain(DescriptorChain const& chain)
{
    ++m_counters.requests;
    auto status_address = status_byte(chain);
    if (!status_address) {
        // Nowhere to put the status: the driver is broken (section 5.2.6.1 requires the byte).
        if (m_counters.broken_chains++ == 0)
            log::warn("virtio-blk: request without room for the status byte; the device needs a reset");
        m_needs_reset = true;
        return;
    }
    uint32_t const slot = *take_slot();
    Request& request = m_requests[slot];
    request.active = true;
    request.head = chain.head;
    request.status_address = *status_address;
    request.status = S_OK;
    request.written = 1;
    request.pending = 0;
    request.discard = false;

    RequestHeader header {};
    auto header_bytes = std::as_writable_bytes(std::span { &header, 1 });
    auto read = read_from_chain(m_context->memory, chain.readable, 0, header_bytes);
    if (!read || *read != HEADER_BYTES) {
        request.status = S_IOERR; // header too short (or not readable)
    } else {
        switch (static_cast<RequestType>(header.type)) {
        case RequestType::In:
        case RequestType::Out:
            handle_rw(request, chain, header);
            break;
        case RequestType::Flush:
            ++m_counters.flushes;
            request.ops.push_back({ OpKind::Flush, 0, 0, 0 });
            break;
        case RequestType::GetId:
            handle_get_id(request, chain);
            break;
        case RequestType::Discard:
        case RequestType::WriteZeroes:
            handle_segments(request, chain, header);
            break;
        default:
            request.status = S_UNSUPP;
            break;
        }
    }
    if (request.status == S_UNSUPP)
        ++m_counters.unsupported;
    if (request.status != S_OK || request.ops.empty())
        complete(slot, Completion::Deliver);
    else
        start_ops(slot);
}

void VirtioBlock::handle_rw(Request& request, DescriptorChain const& chain, RequestHeader const& header)
{
    bool const is_read = header.type == static_cast<uint32_t>(RequestType::In);
    if (!is_read && m_image.readonly()) {
        request.status = S_IOERR; // section 5.2.6.2: no writes with VIRTIO_BLK_F_RO
        return;
    }
    // Reads: data is every writable byte but the status; writes: every readable byte after the header.
    uint64_t const length = is_read ? chain.writable_length() - 1 : chain.readable_length() - HEADER_BYTES;
    if (length % SECTOR_SIZE != 0 || length > MAX_TRANSFER_BYTES || !in_range(header.sector, length >> SECTOR_SHIFT, m_image.sectors())) {
        request.status = S_IOERR;
        return;
    }
    if (length == 0)
        return;
    uint64_t const offset = header.sector << SECTOR_SHIFT;
    bool const ok = is_read ? prepare_data(request, chain.writable, 0, length, true)
                            : prepare_data(request, chain.readable, HEADER_BYTES, length, false);
    if (!ok || request.iovecs.size() > IOV_MAX) {
        request.status = S_IOERR;
        return;
    }
    request.ops.push_back({ is_read ? OpKind::Read : OpKind::Write, 0, offset, length });
    if (is_read) {
        request.written = static_cast<uint32_t>(length + 1);
        m_counters.read_bytes += length;
    } else {
        m_counters.written_bytes += length;
    }
}

bool VirtioBlock::prepare_data(Request& request, std::span<GuestBuffer const> buffers, uint64_t offset, uint64_t length, bool to_guest)
{
    auto& memory = m_context->memory;
    bool aligned = true;
    uint64_t remaining = length;
    for (auto const& buffer : buffers) {
        if (remaining == 0)
            break;
        if (offset >= buffer.length) {
            offset -= buffer.length;
            continue;
        }
        uint64_t const count = std::min<uint64_t>(buffer.length - offset, remaining);
        auto host = memory.span(GuestPhysAddr { buffer.address.raw() + offset }, count);
        if (!host)
            return false;
        request.iovecs.push_back({ host->data(), count });
        aligned = aligned && reinterpret_cast<uintptr_t>(host->data()) % DIRECT_ALIGNMENT == 0 && count % DIRECT_ALIGNMENT == 0;
        remaining -= count;
        offset = 0;
    }
    if (remaining != 0)
        return false;
    if (!m_image.direct() || aligned)
        return true;

    // O_DIRECT needs sector-aligned memory: go through an aligned bounce buffer.
    uint64_t const rounded = (length + 4095) & ~uint64_t { 4095 };
    request.bounce = { static_cast<std::byte*>(std::aligned_alloc(4096, rounded)), std::free };
    VERIFY(request.bounce != nullptr);
    request.bounce_length = length;
    std::span<std::byte> bounce { request.bounce.get(), length };
    if (to_guest) {
        request.bounce_target.assign(buffers.begin(), buffers.end());
    } else {
        uint64_t copied = 0;
        for (auto const& piece : request.iovecs) {
            std::memcpy(bounce.data() + copied, piece.iov_base, piece.iov_len);
            copied += piece.iov_len;
        }
    }
    request.iovecs.assign(1, iovec { bounce.data(), length });
    return true;
}

void VirtioBlock::handle_get_id(Request& request, DescriptorChain const& chain)
{
    uint64_t const room = chain.writable_length() - 1;
    auto const& id = m_image.id();
    auto const count = std::min<uint64_t>(room, id.size());
    auto bytes = std::as_bytes(std::span { id.data(), count });
    auto written = write_to_chain(m_context->memory, chain.writable, 0, bytes);
    if (!written || *written != count) {
        request.status = S_IOERR;
        return;
    }
    request.written = static_cast<uint32_t>(count + 1);
}

void VirtioBlock::handle_segments(Request& request, DescriptorChain const& chain, RequestHeader const& header)
{
    bool const discard = header.type == static_cast<uint32_t>(RequestType::Discard);
    uint64_t const feature = discard ? F_DISCARD : F_WRITE_ZEROES;
    if ((m_context->acked_features & feature) == 0) {
        request.status = S_UNSUPP;
        return;
    }
    request.discard = discard;
    uint64_t const bytes = chain.readable_length() - HEADER_BYTES;
    uint64_t const count = bytes / SEGMENT_BYTES;
    if (bytes % SEGMENT_BYTES != 0 || count == 0 || count > MAX_DISCARD_SEGMENTS) {
        request.status = S_IOERR;
        return;
    }
    for (uint64_t i = 0; i < count; ++i) {
        DiscardSegment segment {};
        auto read = read_from_chain(m_context->memory, chain.readable, HEADER_BYTES + i * SEGMENT_BYTES,
            std::as_writable_bytes(std::span { &segment, 1 }));
        if (!read || *read != SEGMENT_BYTES) {
            request.status = S_IOERR;
            return;
        }
        // Section 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP.
        if ((segment.flags & ~SEGMENT_F_UNMAP) != 0 || (discard && (segment.flags & SEGMENT_F_UNMAP) != 0)) {
            request.status = S_UNSUPP;
            return;
        }
        if (segment.num_sectors > MAX_DISCARD_SECTORS || !in_range(segment.sector, segment.num_sectors, m_image.sectors())) {
            request.status = S_IOERR;
            return;
        }
        if (segment.num_sectors == 0)
            continue;
        bool const punch = discard || (segment.flags & SEGMENT_F_UNMAP) != 0;
        int const mode = (punch ? FALLOC_FL_PUNCH_HOLE : FALLOC_FL_ZERO_RANGE) | FALLOC_FL_KEEP_SIZE;
        request.ops.push_back({ OpKind::Allocate, mode, segment.sector << SECTOR_SHIFT, uint64_t { segment.num_sectors } << SECTOR_SHIFT });
    }
}

bool VirtioBlock::submit_op(uint32_t slot, uint32_t op_index)
{
    Request& request = m_requests[slot];
    Op const& op = request.ops[op_index];
    io_uring_sqe* sqe = m_ring->prepare((uint64_t { slot } << 16) | op_index);
    if (sqe == nullptr)
        return false;
    int const fd = m_image.fd();
    switch (op.kind) {
    case OpKind::Read:
        io_uring_prep_readv(sqe, fd, request.iovecs.data(), static_cast<unsigned>(request.iovecs.size()), op.offset);
        break;
    case OpKind::Write:
        io_uring_prep_writev(sqe, fd, request.iovecs.data(), static_cast<unsigned>(request.iovecs.size()), op.offset);
        break;
    case OpKind::Flush:
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
        break;
    case OpKind::Allocate:
        io_uring_prep_fallocate(sqe, fd, op.mode, static_cast<off_t>(op.offset), static_cast<off_t>(op.length));
        break;
    }
    return true;
}

void VirtioBlock::start_ops(uint32_t slot)
{
    Request& request = m_requests[slot];
    uint32_t submitted = 0;
    for (uint32_t i = 0; i < request.ops.size(); ++i) {
        if (!submit_op(slot, i)) {
            log::warn("virtio-blk: io_uring refused a submission");
            request.status = S_IOERR;
            break;
        }
        ++submitted;
    }
    request.pending = submitted;
    if (submitted == 0) {
        complete(slot, Completion::Deliver);
        return;
    }
    ++m_in_flight;
}

} // namespace monarch::vmm::virtio

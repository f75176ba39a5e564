// SPDX-License-Identifier: Apache-2.0
// VirtioBlock's device side: features, configuration space, activation and reset, the queue
// loop, and io_uring completions (the requests themselves are parsed in block_request.cpp).
#include "vmm/virtio/block/virtio_block.h"

#include "common/byte_access.h"
#include "common/log.h"
#include "common/verify.h"
#include "vmm/virtio/block/virtio_blk_spec.h"

#include <algorithm>
#include <cstring>
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

namespace monarch::vmm::virtio {

using namespace blk;

Result<std::unique_ptr<VirtioBlock>> VirtioBlock::create(boost::asio::io_context& io, machine::DiskConfig const& config)
{
    auto image = TRY(DiskImage::open(config));
    // Room for every op of MAX_IN_FLIGHT requests is not needed: a full ring is submitted and
    // refilled (IoRing::prepare).
    auto ring = TRY(IoRing::create(256));
    return std::unique_ptr<VirtioBlock>(new VirtioBlock(io, std::move(image), std::move(ring)));
}

VirtioBlock::VirtioBlock(boost::asio::io_context& io, DiskImage image, std::unique_ptr<IoRing> ring)
    : m_io(io)
    , m_image(std::move(image))
    , m_ring(std::move(ring))
    , m_ring_events(io, ::dup(m_ring->event_fd()))
    , m_requests(MAX_IN_FLIGHT)
{
    for (uint32_t slot = MAX_IN_FLIGHT; slot-- > 0;)
        m_free_slots.push_back(slot);
}

VirtioBlock::~VirtioBlock()
{
    // The kernel may still be writing into guest memory or reading our iovecs.
    drain(Completion::Discard);
    // Whatever path the VMM took to get here, writes the guest saw completed reach the disk.
    if (!m_image.readonly() && ::fdatasync(m_image.fd()) != 0)
        log::warn("virtio-blk: fdatasync on the disk image: {}", std::strerror(errno));
}

uint64_t VirtioBlock::device_features() const
{
    uint64_t features = F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC | F_SIZE_MAX | F_SEG_MAX | F_BLK_SIZE | F_FLUSH;
    if (m_image.readonly())
        features |= F_RO;
    else
        features |= F_DISCARD | F_WRITE_ZEROES;
    return features;
}

void VirtioBlock::read_config(uint64_t offset, std::span<std::byte> data) const
{
    std::array<std::byte, config::BYTES> space {};
    store_le<uint64_t>(space, config::CAPACITY, m_image.sectors());
    store_le<uint32_t>(space, config::SEGMENT_SIZE_MAX, MAX_SEGMENT_BYTES);
    store_le<uint32_t>(space, config::SEG_MAX, MAX_SEGMENTS);
    store_le<uint32_t>(space, config::BLK_SIZE, static_cast<uint32_t>(SECTOR_SIZE));
    store_le<uint32_t>(space, config::MAX_DISCARD_SECTORS, MAX_DISCARD_SECTORS);
    store_le<uint32_t>(space, config::MAX_DISCARD_SEG, MAX_DISCARD_SEGMENTS);
    // 4 KiB: the granularity at which file systems punch holes.
    store_le<uint32_t>(space, config::DISCARD_SECTOR_ALIGNMENT, 8);
    store_le<uint32_t>(space, config::MAX_WRITE_ZEROES_SECTORS, MAX_DISCARD_SECTORS);
    store_le<uint32_t>(space, config::MAX_WRITE_ZEROES_SEG, MAX_DISCARD_SEGMENTS);
    space[config::WRITE_ZEROES_MAY_UNMAP] = std::byte { 1 };
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (offset >= space.size())
        return;
    auto const count = std::min<uint64_t>(data.size(), space.size() - offset);
    std::memcpy(data.data(), space.data() + offset, count);
}

void VirtioBlock::write_config(uint64_t, std::span<std::byte const>)
{
    // Only `writeback` is writable, and only with VIRTIO_BLK_F_CONFIG_WCE, which we do not offer.
}

Result<void> VirtioBlock::activate(ActivateContext context)
{
    if (context.queues.size() != 1)
        return fail(Errc::InvalidArgument, "virtio-blk: expects exactly one queue");
    m_context.emplace(context);
    m_needs_reset = false;
    m_quiesced = false;
    return {};
}

void VirtioBlock::reset()
{
    drain(Completion::Discard);
    m_context.reset();
    m_needs_reset = false;
    m_used_pending = false;
}

void VirtioBlock::queue_notify(uint16_t queue_index)
{
    if (queue_index != 0 || !m_context || m_needs_reset)
        return;
    process_queue();
}

void VirtioBlock::process_queue()
{
    while (!m_quiesced && !m_needs_reset && !m_free_slots.empty()) {
        auto chain = m_context->queues[0].pop();
        if (!chain) {
            ++m_counters.broken_chains;
            m_needs_reset = true;
            break;
        }
        if (!*chain)
            break;
        handle_chain(**chain);
    }
    if (m_in_flight > 0) {
        if (auto submitted = m_ring->submit(); !submitted)
            log::warn("virtio-blk: {}", to_string(submitted.error()));
        arm_wait();
    }
    signal_used();
}

std::optional<uint32_t> VirtioBlock::take_slot()
{
    if (m_free_slots.empty())
        return std::nullopt;
    uint32_t slot = m_free_slots.back();
    m_free_slots.pop_back();
    return slot;
}

void VirtioBlock::arm_wait()
{
    if (m_waiting)
        return;
    m_waiting = true;
    m_ring_events.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code error) {
        // Cancelled when the device is destroyed: `this` may be gone, touch nothing.
        if (error == boost::asio::error::operation_aborted)
            return;
        m_waiting = false;
        m_ring->clear_event();
        m_ring->reap([this](uint64_t user_data, int result) { on_completion(user_data, result, Completion::Deliver); });
        if (m_in_flight > 0)
            arm_wait();
        signal_used();
        // Requests may have waited for a free slot.
        if (m_context && !m_context->queues.empty())
            process_queue();
    });
}

void VirtioBlock::signal_used()
{
    if (!m_used_pending || !m_context)
        return;
    m_used_pending = false;
    if (m_context->queues[0].needs_notification())
        m_context->interrupt.signal_queue(0);
}

void VirtioBlock::on_completion(uint64_t user_data, int result, Completion how)
{
    uint32_t const slot = static_cast<uint32_t>(user_data >> 16);
    uint32_t const op_index = static_cast<uint32_t>(user_data & 0xffff);
    VERIFY(slot < m_requests.size() && m_requests[slot].active && op_index < m_requests[slot].ops.size());
    Request& request = m_requests[slot];
    Op& op = request.ops[op_index];
    bool const unsupported = result == -EOPNOTSUPP || result == -EINVAL;
    if (how == Completion::Deliver && op.kind == OpKind::Allocate && unsupported && op.mode == (FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE)) {
        // No ZERO_RANGE here (tmpfs, some block devices): a punched hole reads as zeroes too.
        op.mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
        if (submit_op(slot, op_index)) {
            (void)m_ring->submit();
            return;
        }
    }
    bool failed = result < 0;
    if (!failed && (op.kind == OpKind::Read || op.kind == OpKind::Write))
        failed = static_cast<uint64_t>(result) != op.length; // short transfer: the image shrank
    if (failed && !(request.discard && unsupported)) {
        if (how == Completion::Deliver)
            log::warn("virtio-blk: I/O error at byte {} ({} bytes): {}", op.offset, op.length, result < 0 ? std::strerror(-result) : "short transfer");
        request.status = S_IOERR;
    }
    VERIFY(request.pending > 0 && m_in_flight > 0);
    if (--request.pending == 0) {
        --m_in_flight;
        complete(slot, how);
    }
}

void VirtioBlock::complete(uint32_t slot, Completion how)
{
    Request& request = m_requests[slot];
    if (how == Completion::Deliver && m_context) {
        auto& memory = m_context->memory;
        if (request.status == S_OK && request.bounce && !request.bounce_target.empty()) {
            auto copied = write_to_chain(memory, request.bounce_target, 0, std::span<std::byte const>(request.bounce.get(), request.bounce_length));
            if (!copied || *copied != request.bounce_length)
                request.status = S_IOERR;
        }
        if (request.status == S_IOERR)
            ++m_counters.io_errors;
        uint32_t const written = request.status == S_OK ? request.written : 1;
        std::byte const status { request.status };
        (void)memory.write(request.status_address, std::span { &status, 1 });
        if (auto pushed = m_context->queues[0].push_used(request.head, written); !pushed)
            m_needs_reset = true;
        m_used_pending = true;
    }
    request.active = false;
    request.iovecs.clear();
    request.ops.clear();
    request.bounce.reset();
    request.bounce_target.clear();
    m_free_slots.push_back(slot);
}

void VirtioBlock::drain(Completion how)
{
    while (m_in_flight > 0) {
        m_ring->reap([this, how](uint64_t user_data, int result) { on_completion(user_data, result, how); });
        if (m_in_flight == 0)
            break;
        if (auto waited = m_ring->wait(); !waited) {
            // Without io_uring_wait_cqe nothing can tell when the kernel is done with guest
            // memory; continuing could corrupt it.
            log::error("virtio-blk: cannot wait for in-flight I/O: {}", to_string(waited.error()));
            VERIFY(false);
        }
    }
}

void VirtioBlock::quiesce()
{
    // The requests completed either way; only the image's own flush failed.
    if (auto flushed = flush_and_quiesce(); !flushed)
        log::warn("virtio-blk: quiesce: {}", to_string(flushed.error()));
}

void VirtioBlock::thaw()
{
    m_quiesced = false;
    if (m_context && !m_needs_reset)
        process_queue();
}

Result<void> VirtioBlock::flush_and_quiesce()
{
    m_quiesced = true;
    drain(Completion::Deliver);
    signal_used();
    if (m_image.readonly())
        return {};
    if (::fdatasync(m_image.fd()) != 0)
        return fail_errno("virtio-blk: fdatasync on the disk image");
    return {};
}

} // namespace monarch::vmm::virtio

// SPDX-License-Identifier: Apache-2.0
// VirtioBlock: the virtio-blk device model (virtio 1.2 section 5.2) on a raw image. One request
// queue; reads and writes go straight between guest buffers and the image through io_uring,
// whose completions the event loop picks up from an eventfd, so no vCPU thread waits for disk.
#pragma once

#include "common/result.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/block/disk_image.h"
#include "vmm/virtio/block/io_ring.h"
#include "vmm/virtio/block/virtio_blk_spec.h"
#include "vmm/virtio/virtio_device.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <memory>
#include <optional>
#include <sys/uio.h>
#include <vector>

namespace monarch::vmm::virtio {

struct BlockCounters {
    uint64_t requests { 0 };
    uint64_t read_bytes { 0 };
    uint64_t written_bytes { 0 };
    uint64_t flushes { 0 };
    uint64_t io_errors { 0 };      // host I/O failed, or a request out of range / malformed
    uint64_t unsupported { 0 };    // UNSUPP answers
    uint64_t broken_chains { 0 };  // no room for the status byte, or a corrupt ring
};

class VirtioBlock final : public VirtioDevice {
public:
    static constexpr uint16_t QUEUE_SIZE = 256;
    static constexpr uint32_t MAX_SEGMENTS = QUEUE_SIZE - 2;  // seg_max: data descriptors
    static constexpr uint32_t MAX_SEGMENT_BYTES = 1U << 20;   // size_max
    static constexpr uint32_t MAX_DISCARD_SEGMENTS = 16;      // max_discard_seg, max_write_zeroes_seg
    static constexpr uint32_t MAX_DISCARD_SECTORS = 1U << 22; // 2 GiB per segment
    static constexpr uint32_t MAX_IN_FLIGHT = 128;            // requests handed to io_uring at once

    // Opens and checks the image (see DiskImage::open for the errors) and sets up io_uring.
    [[nodiscard]] static Result<std::unique_ptr<VirtioBlock>> create(boost::asio::io_context& io, machine::DiskConfig const& config);
    // Waits for I/O in flight (not completed to the guest) and fdatasync()s a writable image.
    ~VirtioBlock() override;

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Block; }
    [[nodiscard]] std::string_view name() const override { return "virtio-blk"; }
    [[nodiscard]] std::span<uint16_t const> queue_max_sizes() const override { return m_queue_sizes; }
    [[nodiscard]] uint64_t device_features() const override;
    void read_config(uint64_t offset, std::span<std::byte> data) const override;
    void write_config(uint64_t offset, std::span<std::byte const> data) override;
    [[nodiscard]] Result<void> activate(ActivateContext context) override;
    void reset() override;
    void queue_notify(uint16_t queue_index) override;
    [[nodiscard]] bool needs_reset() const override { return m_needs_reset; }
    // Snapshots: flush_and_quiesce() (every request in flight completes, its used entry is
    // written); thaw() takes requests again, starting with those that arrived meanwhile.
    void quiesce() override;
    void thaw() override;

    // For SIGTERM (libvirt sends SIGKILL 10 ms later): completes every request in flight, takes
    // no new ones, and fdatasync()s the image, so that every write the guest saw acknowledged
    // is on stable storage when this returns. On the event-loop thread.
    [[nodiscard]] Result<void> flush_and_quiesce();

    [[nodiscard]] uint64_t capacity_sectors() const { return m_image.sectors(); }
    [[nodiscard]] uint32_t in_flight() const { return m_in_flight; }
    [[nodiscard]] BlockCounters const& counters() const { return m_counters; }

private:
    enum class OpKind : uint8_t { Read, Write, Flush, Allocate };
    struct Op {
        OpKind kind { OpKind::Read };
        int mode { 0 };       // fallocate mode
        uint64_t offset { 0 };
        uint64_t length { 0 };
    };
    struct Request {
        bool active { false };
        uint16_t head { 0 };
        GuestPhysAddr status_address;
        uint32_t written { 0 };   // used length on success: data written to the guest + status
        uint32_t pending { 0 };   // ops submitted and not completed
        uint8_t status { 0 };
        bool discard { false };   // fallocate failures of a discard are not errors
        std::vector<iovec> iovecs;
        std::vector<Op> ops;
        std::unique_ptr<std::byte, void (*)(void*)> bounce { nullptr, nullptr }; // O_DIRECT
        std::vector<GuestBuffer> bounce_target; // a bounced read's guest buffers
        uint64_t bounce_length { 0 };
    };
    enum class Completion { Deliver, Discard };

    VirtioBlock(boost::asio::io_context& io, blk::DiskImage image, std::unique_ptr<blk::IoRing> ring);

    void process_queue();
    void handle_chain(DescriptorChain const& chain);
    void handle_rw(Request& request, DescriptorChain const& chain, blk::RequestHeader const& header);
    void handle_get_id(Request& request, DescriptorChain const& chain);
    void handle_segments(Request& request, DescriptorChain const& chain, blk::RequestHeader const& header);
    [[nodiscard]] bool prepare_data(Request& request, std::span<GuestBuffer const> buffers, uint64_t offset, uint64_t length, bool to_guest);
    [[nodiscard]] bool submit_op(uint32_t slot, uint32_t op_index);
    void start_ops(uint32_t slot);
    void complete(uint32_t slot, Completion how);
    void on_completion(uint64_t user_data, int result, Completion how);
    void drain(Completion how);
    void arm_wait();
    void signal_used();
    [[nodiscard]] std::optional<uint32_t> take_slot();

    boost::asio::io_context& m_io;
    blk::DiskImage m_image;
    std::unique_ptr<blk::IoRing> m_ring;
    boost::asio::posix::stream_descriptor m_ring_events;
    bool m_waiting { false };
    std::array<uint16_t, 1> m_queue_sizes { QUEUE_SIZE };

    std::optional<ActivateContext> m_context;
    bool m_needs_reset { false };
    bool m_quiesced { false };
    bool m_used_pending { false }; // used entries added since the last interrupt check
    std::vector<Request> m_requests;
    std::vector<uint32_t> m_free_slots;
    uint32_t m_in_flight { 0 };
    BlockCounters m_counters;
};

} // namespace monarch::vmm::virtio

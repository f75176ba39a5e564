// SPDX-License-Identifier: Apache-2.0
// VirtioNet: the network device (virtio 1.2 section 5.1) on a tap. One receive and one transmit
// queue; the virtio-net header travels through the tap unchanged (IFF_VNET_HDR), so checksum
// and segmentation offloads pass between guest and host kernel; mergeable receive buffers.
#pragma once

#include "common/result.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/net/tap.h"
#include "vmm/virtio/virtio_device.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

namespace monarch::vmm::virtio {

namespace net_feature {
// Section 5.1.3.
inline constexpr uint64_t CSUM = 1ULL << 0;        // the guest sends partial checksums
inline constexpr uint64_t GUEST_CSUM = 1ULL << 1;  // the guest takes partial checksums
inline constexpr uint64_t MAC = 1ULL << 5;
inline constexpr uint64_t GUEST_TSO4 = 1ULL << 7;
inline constexpr uint64_t GUEST_TSO6 = 1ULL << 8;
inline constexpr uint64_t GUEST_ECN = 1ULL << 9;
inline constexpr uint64_t GUEST_UFO = 1ULL << 10;
inline constexpr uint64_t HOST_TSO4 = 1ULL << 11;
inline constexpr uint64_t HOST_TSO6 = 1ULL << 12;
inline constexpr uint64_t HOST_ECN = 1ULL << 13;
inline constexpr uint64_t HOST_UFO = 1ULL << 14;
inline constexpr uint64_t MRG_RXBUF = 1ULL << 15;
inline constexpr uint64_t STATUS = 1ULL << 16;
} // namespace net_feature

struct NetCounters {
    uint64_t tx_frames { 0 };
    uint64_t tx_bytes { 0 };
    uint64_t tx_dropped { 0 };    // malformed or refused by the tap
    uint64_t rx_frames { 0 };
    uint64_t rx_bytes { 0 };
    uint64_t rx_dropped { 0 };    // larger than the guest's buffers (without MRG_RXBUF)
    uint64_t broken_chains { 0 };
};

class VirtioNet final : public VirtioDevice {
public:
    static constexpr uint16_t QUEUE_SIZE = 256;
    static constexpr uint16_t RECEIVE_QUEUE = 0;
    static constexpr uint16_t TRANSMIT_QUEUE = 1;
    static constexpr uint32_t HEADER_BYTES = 12;              // struct virtio_net_hdr_v1
    static constexpr uint32_t MAX_FRAME_BYTES = 65536 + 14 + 4; // a GSO frame plus Ethernet/VLAN
    static constexpr uint16_t STATUS_LINK_UP = 1;

    // Opens the tap (see net::Tap::open for the errors), sets ip/mask if given; MAC from the
    // config, else a random locally administered one.
    [[nodiscard]] static Result<std::unique_ptr<VirtioNet>> create(boost::asio::io_context& io, machine::NetConfig const& config);
    ~VirtioNet() override = default;

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Net; }
    [[nodiscard]] std::string_view name() const override { return "virtio-net"; }
    [[nodiscard]] std::span<uint16_t const> queue_max_sizes() const override { return m_queue_sizes; }
    [[nodiscard]] uint64_t device_features() const override;
    void read_config(uint64_t offset, std::span<std::byte> data) const override;
    void write_config(uint64_t, std::span<std::byte const>) override {}
    [[nodiscard]] Result<void> activate(ActivateContext context) override;
    void reset() override;
    void queue_notify(uint16_t queue_index) override;
    [[nodiscard]] bool needs_reset() const override { return m_needs_reset; }
    // Snapshots: stop reading the tap and give held receive buffers back to the ring
    // (Virtqueue::rewind), so the snapshot shows them as still available; thaw() reads again.
    void quiesce() override;
    void thaw() override;

    [[nodiscard]] std::string const& tap_name() const { return m_tap.name(); }
    [[nodiscard]] machine::MacAddress const& mac() const { return m_mac; }
    [[nodiscard]] NetCounters const& counters() const { return m_counters; }

private:
    VirtioNet(boost::asio::io_context& io, net::Tap tap, machine::MacAddress mac);

    void transmit();
    void receive();
    // Reads one frame from the tap into m_frame; false when the tap has none (EAGAIN).
    [[nodiscard]] bool read_frame();
    // Places m_frame into receive buffers; false when the guest has not posted enough.
    [[nodiscard]] bool deliver_frame();
    [[nodiscard]] bool take_chains(uint64_t bytes);
    void arm_wait();
    void broken();

    boost::asio::io_context& m_io;
    net::Tap m_tap;
    machine::MacAddress m_mac;
    boost::asio::posix::stream_descriptor m_tap_events;
    bool m_waiting { false };
    std::array<uint16_t, 2> m_queue_sizes { QUEUE_SIZE, QUEUE_SIZE };

    std::optional<ActivateContext> m_context;
    bool m_needs_reset { false };
    bool m_quiesced { false };
    bool m_mergeable { false };
    std::vector<std::byte> m_frame;             // one frame from the tap, header included
    size_t m_frame_length { 0 };                // 0: none pending
    std::deque<DescriptorChain> m_rx_chains;    // popped receive chains not yet used
    std::vector<std::byte> m_tx_buffer;
    NetCounters m_counters;
};

} // namespace monarch::vmm::virtio

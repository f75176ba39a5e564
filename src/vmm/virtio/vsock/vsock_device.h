// SPDX-License-Identifier: Apache-2.0
// virtio-vsock (virtio 1.2 section 5.10) in user space, with Unix sockets on the host as in
// Firecracker: the device moves packets between the guest's rx/tx queues and the muxer, checks
// every packet from the guest, and posts TRANSPORT_RESET events. Stream sockets only: SEQPACKET
// (VIRTIO_VSOCK_F_SEQPACKET) is not offered.
#pragma once

#include "common/result.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/virtio_device.h"
#include "vmm/virtio/vsock/muxer.h"
#include "vmm/virtio/vsock/packet.h"
#include "vmm/virtio/vsock/vsock_types.h"

#include <boost/asio/io_context.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace monarch::vmm::virtio::vsock {

// What the VMM wiring passes (from machine::VsockConfig: cid, socket).
struct VsockDeviceConfig {
    uint64_t guest_cid { 0 };  // 3 .. 0xfffffffe
    std::string uds_path;      // the host socket; "<uds_path>_<port>" for guest-initiated
    VsockLimits limits {};
};

class VsockDevice final : public VirtioDevice {
public:
    // Binds the host socket now, so that a bad path fails at VM creation. Errc::InvalidArgument
    // for a bad CID or path; Errc::Sys (EADDRINUSE...) when the socket cannot be bound.
    [[nodiscard]] static Result<std::unique_ptr<VsockDevice>> create(boost::asio::io_context& io, VsockDeviceConfig config);
    // From --vsock cid=N,socket=PATH, with the default limits (as the other devices take theirs).
    [[nodiscard]] static Result<std::unique_ptr<VsockDevice>> create(boost::asio::io_context& io, machine::VsockConfig const& config)
    {
        return create(io, VsockDeviceConfig { config.cid, config.socket });
    }
    ~VsockDevice() override;

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Vsock; }
    [[nodiscard]] std::string_view name() const override { return "virtio-vsock"; }
    [[nodiscard]] std::span<uint16_t const> queue_max_sizes() const override { return s_queue_sizes; }
    [[nodiscard]] uint64_t device_features() const override { return F_VERSION_1; }

    void read_config(uint64_t offset, std::span<std::byte> data) const override;
    void write_config(uint64_t offset, std::span<std::byte const> data) override;

    [[nodiscard]] Result<void> activate(ActivateContext context) override;
    void reset() override;
    void queue_notify(uint16_t queue_index) override;
    [[nodiscard]] bool needs_reset() const override { return m_needs_reset; }
    // Snapshots: no packet moves between the queues and the muxer while quiesced (host
    // sockets keep their data in the muxer); thaw() moves what waited. After a restore the
    // host connections are gone: restored() sends TRANSPORT_RESET (section 5.10.6.6).
    void quiesce() override { m_quiesced = true; }
    void thaw() override;
    void restored() override { (void)transport_reset(); }

    // Closes every connection and tells the driver with VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
    // (section 5.10.6.6), as after a snapshot restore. Whether an event buffer was available.
    bool transport_reset();

    [[nodiscard]] VsockCounters const& counters() const { return m_counters; }
    [[nodiscard]] size_t connection_count() const { return m_muxer->connection_count(); }
    [[nodiscard]] uint64_t guest_cid() const { return m_guest_cid; }

private:
    static constexpr std::array<uint16_t, 3> s_queue_sizes { 256, 256, 256 };

    explicit VsockDevice(uint64_t guest_cid);

    [[nodiscard]] bool active() const { return m_queues != nullptr && !m_needs_reset; }
    void process_tx();
    void process_rx();
    [[nodiscard]] Result<void> handle_tx_chain(DescriptorChain const& chain);
    [[nodiscard]] Result<void> fill_rx_chain(Virtqueue& queue, DescriptorChain const& chain);
    void refuse_packet(PacketHeader const& header, PacketFault fault);
    void queue_fault(std::string_view what, Error const& error);
    void signal_if_needed(uint16_t queue_index);

    uint64_t m_guest_cid;
    VsockCounters m_counters;
    std::unique_ptr<Muxer> m_muxer;

    // Set between activate() and reset().
    GuestMemory* m_memory { nullptr };
    std::vector<Virtqueue>* m_queues { nullptr };
    VirtioInterrupt* m_interrupt { nullptr };
    bool m_needs_reset { false };
    bool m_quiesced { false };
    bool m_in_rx { false };   // process_rx() is on the stack (the muxer may call back into it)

    std::vector<std::byte> m_packet;   // one packet, header and payload, either direction
};

} // namespace monarch::vmm::virtio::vsock

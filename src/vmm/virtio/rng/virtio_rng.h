// SPDX-License-Identifier: Apache-2.0
// VirtioRng: the entropy device (virtio 1.2 section 5.4). One request queue; every writable
// buffer the driver posts is filled from the host's getrandom().
#pragma once

#include "common/result.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/virtio_device.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>

namespace monarch::vmm::virtio {

struct RngCounters {
    uint64_t requests { 0 };
    uint64_t bytes { 0 };
    uint64_t broken_chains { 0 };
};

class VirtioRng final : public VirtioDevice {
public:
    static constexpr uint16_t QUEUE_SIZE = 256;
    // Bytes given to one chain at most: a driver asking for more gets this much (the used
    // length says how much), so one request cannot keep the event loop busy for long.
    static constexpr uint32_t MAX_BYTES_PER_REQUEST = 64 * 1024;

    // InvalidArgument unless config.source is /dev/urandom or /dev/random (both mean getrandom()).
    [[nodiscard]] static Result<std::unique_ptr<VirtioRng>> create(boost::asio::io_context& io, machine::RngConfig const& config);
    explicit VirtioRng(boost::asio::io_context& io) : m_io(io) {}

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Rng; }
    [[nodiscard]] std::string_view name() const override { return "virtio-rng"; }
    [[nodiscard]] std::span<uint16_t const> queue_max_sizes() const override { return m_queue_sizes; }
    [[nodiscard]] uint64_t device_features() const override { return F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC; }
    // No configuration space (section 5.4.4).
    void read_config(uint64_t offset, std::span<std::byte> data) const override;
    void write_config(uint64_t, std::span<std::byte const>) override {}
    [[nodiscard]] Result<void> activate(ActivateContext context) override;
    void reset() override { m_context.reset(); m_needs_reset = false; }
    void queue_notify(uint16_t queue_index) override;
    [[nodiscard]] bool needs_reset() const override { return m_needs_reset; }

    [[nodiscard]] RngCounters const& counters() const { return m_counters; }

private:
    [[nodiscard]] uint32_t fill(DescriptorChain const& chain);

    boost::asio::io_context& m_io;
    std::array<uint16_t, 1> m_queue_sizes { QUEUE_SIZE };
    std::optional<ActivateContext> m_context;
    bool m_needs_reset { false };
    RngCounters m_counters;
};

} // namespace monarch::vmm::virtio

// SPDX-License-Identifier: Apache-2.0
// VirtioConsole: the console device (virtio 1.2 section 5.3), port 0 only (no MULTIPORT): what
// the guest writes on the transmitq goes to a CharBackend; what the back end reads goes into
// the guest's receiveq buffers, held in a bounded buffer while the guest has none posted.
#pragma once

#include "common/result.h"
#include "vmm/chardev/char_backend.h"
#include "vmm/chardev/input_feeder.h"
#include "vmm/machine/vm_config.h"
#include "vmm/virtio/virtio_device.h"

#include <array>
#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>

namespace monarch::vmm::virtio {

struct ConsoleCounters {
    uint64_t bytes_out { 0 };     // from the guest to the back end
    uint64_t bytes_in { 0 };      // from the back end into guest buffers
    uint64_t broken_chains { 0 };
};

class VirtioConsole final : public VirtioDevice {
public:
    static constexpr uint16_t QUEUE_SIZE = 64;
    static constexpr uint16_t RECEIVE_QUEUE = 0;
    static constexpr uint16_t TRANSMIT_QUEUE = 1;
    // Host input held while the guest posts no receive buffers; beyond it the back end's input
    // thread waits (nothing typed or piped is dropped).
    static constexpr size_t INPUT_BUFFER_BYTES = 64 * 1024;
    static constexpr uint64_t F_EMERG_WRITE = 1ULL << 2; // VIRTIO_CONSOLE_F_EMERG_WRITE

    // config.mode in the SerialSpec syntax (stdio|file:PATH|pty|socket:PATH); "off" is
    // InvalidArgument (no device then). Creates the back end and starts its input.
    [[nodiscard]] static Result<std::unique_ptr<VirtioConsole>> create(boost::asio::io_context& io, machine::ConsoleConfig const& config);
    // With a back end made by the caller; starts its input.
    [[nodiscard]] static Result<std::unique_ptr<VirtioConsole>> create(boost::asio::io_context& io, std::unique_ptr<CharBackend> backend);
    // Stops the back end's input thread. On the event-loop thread, or after the loop stopped.
    ~VirtioConsole() override;

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Console; }
    [[nodiscard]] std::string_view name() const override { return "virtio-console"; }
    [[nodiscard]] std::span<uint16_t const> queue_max_sizes() const override { return m_queue_sizes; }
    [[nodiscard]] uint64_t device_features() const override { return F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC | F_EMERG_WRITE; }
    void read_config(uint64_t offset, std::span<std::byte> data) const override;
    void write_config(uint64_t offset, std::span<std::byte const> data) override;
    [[nodiscard]] Result<void> activate(ActivateContext context) override;
    void reset() override;
    void queue_notify(uint16_t queue_index) override;
    [[nodiscard]] bool needs_reset() const override { return m_needs_reset; }
    // Snapshots: host input stays in the pending buffer while quiesced; thaw() delivers it.
    void quiesce() override { m_quiesced = true; }
    void thaw() override;

    [[nodiscard]] CharBackend& backend() { return *m_backend; }
    [[nodiscard]] ConsoleCounters const& counters() const { return m_counters; }
    [[nodiscard]] size_t pending_input() const;

private:
    VirtioConsole(boost::asio::io_context& io, std::unique_ptr<CharBackend> backend);
    // Input thread: takes what fits in the pending buffer and asks the loop to deliver it.
    [[nodiscard]] size_t accept_input(std::span<std::byte const> bytes);
    void deliver_input();
    void transmit();
    void broken();

    boost::asio::io_context& m_io;
    std::unique_ptr<CharBackend> m_backend;
    std::shared_ptr<InputFeeder> m_feeder;
    std::shared_ptr<char> m_alive { std::make_shared<char>() }; // posted handlers check it
    std::array<uint16_t, 2> m_queue_sizes { QUEUE_SIZE, QUEUE_SIZE };

    mutable std::mutex m_input_mutex; // m_pending and m_delivery_posted (input thread vs loop)
    std::deque<std::byte> m_pending;
    bool m_delivery_posted { false };

    std::optional<ActivateContext> m_context;
    bool m_needs_reset { false };
    bool m_quiesced { false };
    ConsoleCounters m_counters;
};

} // namespace monarch::vmm::virtio

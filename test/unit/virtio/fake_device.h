// SPDX-License-Identifier: Apache-2.0
// FakeDevice: a VirtioDevice for transport tests. It records every call, and on a queue
// notification echoes like a trivial device: each chain is returned used with as many bytes as
// it has writable, and the interrupt is signalled when the queue asks for it.
#pragma once

#include "vmm/devices/irq_line.h"
#include "vmm/devices/pci/msi.h"
#include "vmm/virtio/virtio_device.h"

#include <boost/asio/io_context.hpp>

#include <array>
#include <thread>
#include <vector>

namespace monarch::test {

class FakeDevice final : public vmm::virtio::VirtioDevice {
public:
    uint64_t features { vmm::virtio::F_VERSION_1 | vmm::virtio::F_EVENT_IDX | vmm::virtio::F_INDIRECT_DESC | 0x3 };
    std::vector<uint16_t> max_sizes { 16, 8 };
    std::array<std::byte, 8> config {};
    bool fail_activate { false };
    bool break_on_notify { false };

    int activations { 0 };
    int resets { 0 };
    std::vector<uint16_t> notifications;
    uint64_t acked_features { 0 };
    size_t activated_queue_count { 0 };
    std::vector<std::pair<uint64_t, std::vector<std::byte>>> config_writes;
    std::vector<std::thread::id> call_threads; // every device call's thread
    bool broken { false };

    vmm::virtio::DeviceType device_type() const override { return vmm::virtio::DeviceType::Block; }
    std::string_view name() const override { return "fake"; }
    std::span<uint16_t const> queue_max_sizes() const override { return max_sizes; }
    uint64_t device_features() const override { return features; }

    void read_config(uint64_t offset, std::span<std::byte> data) const override
    {
        for (size_t i = 0; i < data.size(); ++i)
            data[i] = offset + i < config.size() ? config[offset + i] : std::byte { 0 };
    }
    void write_config(uint64_t offset, std::span<std::byte const> data) override
    {
        call_threads.push_back(std::this_thread::get_id());
        config_writes.emplace_back(offset, std::vector<std::byte>(data.begin(), data.end()));
        for (size_t i = 0; i < data.size() && offset + i < config.size(); ++i)
            config[offset + i] = data[i];
    }

    Result<void> activate(vmm::virtio::ActivateContext context) override
    {
        call_threads.push_back(std::this_thread::get_id());
        if (fail_activate)
            return fail(Errc::Unsupported, "fake: back end refuses to start");
        ++activations;
        acked_features = context.acked_features;
        activated_queue_count = context.queues.size();
        m_queues = &context.queues;
        m_interrupt = &context.interrupt;
        m_memory = &context.memory;
        return {};
    }
    void reset() override
    {
        call_threads.push_back(std::this_thread::get_id());
        ++resets;
        m_queues = nullptr;
        m_interrupt = nullptr;
        broken = false;
    }
    void queue_notify(uint16_t index) override
    {
        call_threads.push_back(std::this_thread::get_id());
        notifications.push_back(index);
        if (break_on_notify) {
            broken = true;
            return;
        }
        if (m_queues == nullptr)
            return;
        auto& queue = (*m_queues)[index];
        for (;;) {
            auto chain = queue.pop();
            if (!chain) {
                broken = true;
                return;
            }
            if (!chain->has_value())
                break;
            (void)queue.push_used((*chain)->head, static_cast<uint32_t>((*chain)->writable_length()));
        }
        if (queue.needs_notification())
            m_interrupt->signal_queue(index);
    }
    bool needs_reset() const override { return broken; }

    // Device-side configuration change, as a device would do it on the loop.
    void change_config(size_t offset, std::byte value)
    {
        config[offset] = value;
        if (m_interrupt != nullptr)
            m_interrupt->signal_config();
    }
    // An asynchronous completion (host I/O) that found the ring broken: the device marks itself
    // and signals the queue, as real devices do at the end of a completion batch.
    void fail_asynchronously(uint16_t index)
    {
        broken = true;
        if (m_interrupt != nullptr)
            m_interrupt->signal_queue(index);
    }
    [[nodiscard]] bool active() const { return m_queues != nullptr; }
    [[nodiscard]] std::vector<vmm::virtio::Virtqueue>& queues() { return *m_queues; }

private:
    std::vector<vmm::virtio::Virtqueue>* m_queues { nullptr };
    vmm::virtio::VirtioInterrupt* m_interrupt { nullptr };
    vmm::GuestMemory* m_memory { nullptr };
};

class FakeIrq final : public vmm::IrqLine {
public:
    void set_level(bool asserted) override
    {
        level = asserted;
        ++changes;
    }
    bool level { false };
    int changes { 0 };
};

class FakeMsiRouter final : public vmm::pci::MsiRouter {
public:
    void update(uint16_t vector, vmm::pci::MsiMessage const& message, bool masked) override
    {
        updates.push_back({ vector, message, masked });
    }
    void trigger(uint16_t vector) override { triggered.push_back(vector); }

    struct Update {
        uint16_t vector;
        vmm::pci::MsiMessage message;
        bool masked;
    };
    std::vector<Update> updates;
    std::vector<uint16_t> triggered;
};

// Runs what the transport posted, as the VMM's event-loop thread would.
inline size_t run_loop(boost::asio::io_context& loop)
{
    loop.restart();
    return loop.poll();
}

} // namespace monarch::test

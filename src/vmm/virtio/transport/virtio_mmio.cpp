// SPDX-License-Identifier: Apache-2.0
// virtio-mmio version 2 register protocol (virtio 1.2 section 4.2.2 and 4.2.3).

#include "vmm/virtio/transport/virtio_mmio.h"

#include <algorithm>
#include <cstring>

namespace monarch::vmm::virtio {

namespace {

[[nodiscard]] uint32_t load32(std::span<std::byte const> data)
{
    uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof value);
    return value;
}

void store32(std::span<std::byte> data, uint32_t value) { std::memcpy(data.data(), &value, sizeof value); }

void set_low(uint64_t& field, uint32_t value) { field = (field & 0xffff'ffff'0000'0000ULL) | value; }
void set_high(uint64_t& field, uint32_t value) { field = (field & 0xffff'ffffULL) | (uint64_t { value } << 32); }

} // namespace

VirtioMmio::VirtioMmio(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, IrqLine& irq)
    : m_core(device, memory, loop, *this)
    , m_irq(irq)
{
}

void VirtioMmio::read(uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (offset >= mmio_reg::CONFIG) {
        // Section 4.2.2.2: the device configuration may be accessed at any width.
        std::lock_guard lock { m_core.mutex() };
        m_core.read_config(offset - mmio_reg::CONFIG, data);
        return;
    }
    // Section 4.2.2.2: registers are 32 bits wide, accessed as such; anything else reads 0.
    if (data.size() != 4 || offset % 4 != 0)
        return;
    store32(data, read_register(offset));
}

uint32_t VirtioMmio::read_register(uint64_t offset)
{
    std::lock_guard lock { m_core.mutex() };
    auto const* queue = m_core.queue(m_core.selected_queue());
    switch (offset) {
    case mmio_reg::MAGIC_VALUE: return mmio_reg::MAGIC;
    case mmio_reg::VERSION: return mmio_reg::VERSION_MODERN;
    case mmio_reg::DEVICE_ID: return static_cast<uint32_t>(m_core.device().device_type());
    case mmio_reg::VENDOR_ID: return mmio_reg::VENDOR;
    case mmio_reg::DEVICE_FEATURES: return m_core.device_features_window();
    case mmio_reg::QUEUE_NUM_MAX: return queue != nullptr ? queue->max_size : 0;
    case mmio_reg::QUEUE_READY: return queue != nullptr && queue->ready ? 1 : 0;
    case mmio_reg::INTERRUPT_STATUS: return m_interrupt_status;
    case mmio_reg::STATUS: return m_core.status();
    // Section 4.2.2.1: a shared memory region that does not exist has length ~0.
    case mmio_reg::SHM_LEN_LOW:
    case mmio_reg::SHM_LEN_HIGH:
    case mmio_reg::SHM_BASE_LOW:
    case mmio_reg::SHM_BASE_HIGH: return 0xffff'ffff;
    case mmio_reg::CONFIG_GENERATION: return m_core.config_generation();
    default: return 0;
    }
}

void VirtioMmio::write(uint64_t offset, std::span<std::byte const> data)
{
    if (offset >= mmio_reg::CONFIG) {
        if (offset < VIRTIO_MMIO_WINDOW_SIZE) {
            std::lock_guard lock { m_core.mutex() };
            m_core.write_config(offset - mmio_reg::CONFIG, data);
        }
        return;
    }
    if (data.size() != 4 || offset % 4 != 0)
        return;
    uint32_t raise_bits = 0;
    {
        std::lock_guard lock { m_core.mutex() };
        raise_bits = write_register(offset, load32(data));
    }
    if (raise_bits != 0)
        raise(raise_bits);
    else if (offset == mmio_reg::INTERRUPT_ACK || offset == mmio_reg::STATUS)
        update_irq();
}

uint32_t VirtioMmio::write_register(uint64_t offset, uint32_t value)
{
    switch (offset) {
    case mmio_reg::DEVICE_FEATURES_SEL: m_core.set_device_feature_select(value); return 0;
    case mmio_reg::DRIVER_FEATURES: m_core.set_driver_features_window(value); return 0;
    case mmio_reg::DRIVER_FEATURES_SEL: m_core.set_driver_feature_select(value); return 0;
    // Selectors past 0xffff name no queue either way: saturate instead of wrapping onto one.
    case mmio_reg::QUEUE_SEL: m_core.select_queue(value > 0xffff ? 0xffff : static_cast<uint16_t>(value)); return 0;
    case mmio_reg::QUEUE_NOTIFY:
        if (value <= 0xffff)
            m_core.notify_from_vcpu(static_cast<uint16_t>(value));
        return 0;
    case mmio_reg::INTERRUPT_ACK: m_interrupt_status &= ~value; return 0;
    case mmio_reg::STATUS: {
        bool const needs_reset = m_core.write_status(static_cast<uint8_t>(value));
        if (m_core.status() == 0)
            m_interrupt_status = 0; // section 4.2.2: reset clears InterruptStatus too
        return needs_reset ? mmio_reg::INT_CONFIG : 0;
    }
    case mmio_reg::QUEUE_READY:
        if (value == 1 && !m_core.enable_selected_queue())
            return mmio_reg::INT_CONFIG;
        if (value == 0)
            m_core.disable_selected_queue(); // Linux's vm_del_vq writes 0 and reads it back
        return 0;
    default: write_queue_register(offset, value); return 0;
    }
}

void VirtioMmio::write_queue_register(uint64_t offset, uint32_t value)
{
    // Section 4.2.3.2: queue registers are written before QueueReady, and never after DRIVER_OK.
    if (!m_core.queue_writable())
        return;
    auto* queue = m_core.selected();
    switch (offset) {
    case mmio_reg::QUEUE_NUM: queue->size = value > 0xffff ? 0 : static_cast<uint16_t>(value); break;
    case mmio_reg::QUEUE_DESC_LOW: set_low(queue->descriptor_table, value); break;
    case mmio_reg::QUEUE_DESC_HIGH: set_high(queue->descriptor_table, value); break;
    case mmio_reg::QUEUE_DRIVER_LOW: set_low(queue->driver_area, value); break;
    case mmio_reg::QUEUE_DRIVER_HIGH: set_high(queue->driver_area, value); break;
    case mmio_reg::QUEUE_DEVICE_LOW: set_low(queue->device_area, value); break;
    case mmio_reg::QUEUE_DEVICE_HIGH: set_high(queue->device_area, value); break;
    default: break; // read-only or unimplemented (SHMSel, QueueReset): ignored
    }
}

void VirtioMmio::queue_interrupt(uint16_t) { raise(mmio_reg::INT_VRING); }
void VirtioMmio::config_interrupt() { raise(mmio_reg::INT_CONFIG); }

void VirtioMmio::raise(uint32_t bits)
{
    {
        std::lock_guard lock { m_core.mutex() };
        m_interrupt_status |= bits;
    }
    update_irq();
}

void VirtioMmio::update_irq()
{
    m_irq.update([this] {
        std::lock_guard lock { m_core.mutex() };
        return m_interrupt_status != 0;
    });
}

std::vector<NotifyAddress> VirtioMmio::notify_addresses() const
{
    std::vector<NotifyAddress> addresses;
    for (uint16_t index = 0; index < m_core.queue_count(); ++index)
        addresses.push_back(NotifyAddress { index, mmio_reg::QUEUE_NOTIFY, 0, 4, index });
    return addresses;
}

uint32_t VirtioMmio::interrupt_status() const
{
    std::lock_guard lock { m_core.mutex() };
    return m_interrupt_status;
}

TransportCounters VirtioMmio::counters() const
{
    std::lock_guard lock { m_core.mutex() };
    return m_core.counters();
}

} // namespace monarch::vmm::virtio

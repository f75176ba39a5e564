// SPDX-License-Identifier: Apache-2.0
// virtio-pci: struct virtio_pci_common_cfg (virtio 1.2 section 4.1.4.3), its reads and the
// register protocol of its writes. Called with the core's mutex held by VirtioPci.

#include "vmm/virtio/transport/virtio_pci.h"

#include "common/byte_access.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace monarch::vmm::virtio {

namespace {

using namespace pci_layout;

// The natural width of the field at `offset` (section 4.1.3.1), 0 when no field starts there.
// 64-bit fields may also be written as two 32-bit halves.
[[nodiscard]] size_t field_width(uint64_t offset)
{
    switch (offset) {
    case common::DEVICE_FEATURE_SELECT:
    case common::DEVICE_FEATURE:
    case common::DRIVER_FEATURE_SELECT:
    case common::DRIVER_FEATURE: return 4;
    case common::DEVICE_STATUS:
    case common::CONFIG_GENERATION: return 1;
    case common::QUEUE_DESC:
    case common::QUEUE_DRIVER:
    case common::QUEUE_DEVICE: return 8;
    default: return offset < common::SIZE && offset % 2 == 0 ? 2 : 0;
    }
}

// Writes the 32-bit half at `offset` (0 or 4 bytes into the field) or the whole 64-bit value.
void merge64(uint64_t& field, uint64_t half_offset, size_t size, uint64_t value)
{
    if (size == 8) {
        field = value;
    } else if (half_offset == 0) {
        field = (field & 0xffff'ffff'0000'0000ULL) | value;
    } else {
        field = (field & 0xffff'ffffULL) | (value << 32);
    }
}

} // namespace

uint16_t VirtioPci::checked_vector(uint16_t vector) const
{
    // Section 4.1.4.3.2 / 4.1.5.1.2: a vector the device cannot map reads back as NO_VECTOR.
    return vector < m_msix.vector_count() ? vector : NO_VECTOR;
}

void VirtioPci::fill_common(std::span<std::byte, common::SIZE> bytes) const
{
    std::span<std::byte> out { bytes };
    auto const* queue = m_core.queue(m_core.selected_queue());
    store_le<uint32_t>(out, common::DEVICE_FEATURE_SELECT, m_core.device_feature_select());
    store_le<uint32_t>(out, common::DEVICE_FEATURE, m_core.device_features_window());
    store_le<uint32_t>(out, common::DRIVER_FEATURE_SELECT, m_core.driver_feature_select());
    store_le<uint32_t>(out, common::DRIVER_FEATURE, m_core.driver_features_window());
    store_le<uint16_t>(out, common::CONFIG_MSIX_VECTOR, m_config_vector);
    store_le<uint16_t>(out, common::NUM_QUEUES, m_core.queue_count());
    store_le<uint8_t>(out, common::DEVICE_STATUS, m_core.visible_status(TransportCore::ResetVisibility::WhenDeviceStopped));
    store_le<uint8_t>(out, common::CONFIG_GENERATION, static_cast<uint8_t>(m_core.config_generation()));
    store_le<uint16_t>(out, common::QUEUE_SELECT, m_core.selected_queue());
    if (queue == nullptr) {
        // Section 4.1.4.3.2: queue_size 0 says the selected queue does not exist.
        store_le<uint16_t>(out, common::QUEUE_MSIX_VECTOR, NO_VECTOR);
        return;
    }
    store_le<uint16_t>(out, common::QUEUE_SIZE, queue->size);
    store_le<uint16_t>(out, common::QUEUE_MSIX_VECTOR, queue->msix_vector);
    store_le<uint16_t>(out, common::QUEUE_ENABLE, queue->ready ? 1 : 0);
    store_le<uint16_t>(out, common::QUEUE_NOTIFY_OFF, m_core.selected_queue());
    store_le<uint64_t>(out, common::QUEUE_DESC, queue->descriptor_table);
    store_le<uint64_t>(out, common::QUEUE_DRIVER, queue->driver_area);
    store_le<uint64_t>(out, common::QUEUE_DEVICE, queue->device_area);
}

void VirtioPci::common_read(uint64_t offset, std::span<std::byte> data)
{
    // Reads have no side effects here, so any width is served from a snapshot.
    std::array<std::byte, common::SIZE> bytes {};
    {
        std::lock_guard lock { m_core.mutex() };
        fill_common(bytes);
    }
    std::memcpy(data.data(), bytes.data() + offset, data.size());
}

bool VirtioPci::common_write(uint64_t offset, std::span<std::byte const> data)
{
    size_t const size = data.size();
    uint64_t const field = offset >= common::QUEUE_DESC && offset < common::QUEUE_NOTIF_CONFIG_DATA ? offset & ~7ULL : offset;
    size_t const width = field_width(field);
    bool const half_of_64 = width == 8 && size == 4;
    if (width == 0 || (size != width && !half_of_64) || (field != offset && !half_of_64))
        return false; // not the field's natural access: ignored
    uint64_t value = 0;
    std::memcpy(&value, data.data(), size);

    switch (offset) {
    case common::DEVICE_FEATURE_SELECT: m_core.set_device_feature_select(static_cast<uint32_t>(value)); return false;
    case common::DRIVER_FEATURE_SELECT: m_core.set_driver_feature_select(static_cast<uint32_t>(value)); return false;
    case common::DRIVER_FEATURE: m_core.set_driver_features_window(static_cast<uint32_t>(value)); return false;
    case common::CONFIG_MSIX_VECTOR: m_config_vector = checked_vector(static_cast<uint16_t>(value)); return false;
    case common::QUEUE_SELECT: m_core.select_queue(static_cast<uint16_t>(value)); return false;
    case common::DEVICE_STATUS: {
        bool const raise = m_core.write_status(static_cast<uint8_t>(value));
        if (m_core.status() == 0) {
            // Reset: ISR and the vector assignments return to their initial values too.
            m_isr = 0;
            m_config_vector = NO_VECTOR;
        }
        return raise;
    }
    default: return common_write_queue(offset, size, value);
    }
}

bool VirtioPci::common_write_queue(uint64_t offset, size_t size, uint64_t value)
{
    auto* queue = m_core.selected();
    if (queue == nullptr)
        return false;
    if (offset == common::QUEUE_MSIX_VECTOR) {
        queue->msix_vector = checked_vector(static_cast<uint16_t>(value));
        return false;
    }
    if (offset == common::QUEUE_ENABLE) {
        // Section 4.1.4.3.2: the driver writes 1; 0 is not a way to disable a queue.
        return value == 1 && !m_core.enable_selected_queue();
    }
    if (!m_core.queue_writable())
        return false;
    if (offset == common::QUEUE_SIZE) {
        queue->size = static_cast<uint16_t>(value);
        return false;
    }
    uint64_t const field = offset & ~7ULL;
    if (field == common::QUEUE_DESC)
        merge64(queue->descriptor_table, offset - field, size, value);
    else if (field == common::QUEUE_DRIVER)
        merge64(queue->driver_area, offset - field, size, value);
    else if (field == common::QUEUE_DEVICE)
        merge64(queue->device_area, offset - field, size, value);
    return false;
}

} // namespace monarch::vmm::virtio

// SPDX-License-Identifier: Apache-2.0
// virtio-pci modern: configuration space and capabilities, BAR dispatch, ISR and interrupt
// delivery (virtio 1.2 sections 4.1.2 to 4.1.5). The common configuration structure's register
// protocol is in virtio_pci_common.cpp.

#include "vmm/virtio/transport/virtio_pci.h"

#include "common/byte_access.h"
#include "common/verify.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace monarch::vmm::virtio {

namespace {

using namespace pci_layout;

// PCI class per device type (PCI Code and Assignment spec); drivers match on IDs, not class.
pci::PciIds ids_for(DeviceType type)
{
    auto const raw = static_cast<uint16_t>(type);
    pci::PciIds ids { VENDOR_ID, static_cast<uint16_t>(DEVICE_ID_BASE + raw), REVISION, 0xff, 0x00, 0, VENDOR_ID,
        static_cast<uint16_t>(SUBSYSTEM_ID_BASE + raw) };
    switch (type) {
    case DeviceType::Block: ids.class_code = 0x01; ids.subclass = 0x00; break;   // mass storage, SCSI
    case DeviceType::Net: ids.class_code = 0x02; ids.subclass = 0x00; break;     // network, Ethernet
    case DeviceType::Console: ids.class_code = 0x07; ids.subclass = 0x80; break; // communication, other
    default: break;                                                               // unclassified
    }
    return ids;
}

[[nodiscard]] bool inside(uint64_t offset, size_t size, uint64_t base, uint64_t length)
{
    return offset >= base && offset - base < length && size <= length - (offset - base);
}

} // namespace

VirtioPci::VirtioPci(VirtioDevice& device, GuestMemory& memory, boost::asio::io_context& loop, pci::MsiRouter& router, IrqLine& intx)
    : m_name(fmt::format("virtio-pci-{}", device.name()))
    , m_core(device, memory, loop, *this)
    , m_intx(intx)
    , m_msix(static_cast<uint16_t>(device.queue_max_sizes().size() + 1), router)
    , m_config(ids_for(device.device_type()), pci::InterruptPin::IntA)
{
    VERIFY(m_msix.table_size() <= MSIX_TABLE_LENGTH);
    VERIFY(m_core.queue_count() * uint64_t { NOTIFY_OFF_MULTIPLIER } <= NOTIFY_LENGTH);
    m_config.add_bar(pci::BarRequest { BAR_INDEX, BAR_SIZE, pci::BarKind::Memory64, false });
    add_capabilities();
    pci::MsixCapability msix_capability { m_config, m_msix, { BAR_INDEX, static_cast<uint32_t>(MSIX_TABLE_OFFSET) },
        { BAR_INDEX, static_cast<uint32_t>(MSIX_PBA_OFFSET) } };
    m_config.set_command_observer([this](uint16_t, uint16_t new_command) {
        std::lock_guard lock { m_core.mutex() };
        m_intx_disabled = (new_command & pci::command::INTX_DISABLE) != 0;
    });
}

void VirtioPci::add_virtio_capability(uint8_t type, uint64_t offset, uint64_t length, std::span<std::byte const> extra)
{
    // struct virtio_pci_cap after cap_vndr and cap_next: cap_len, cfg_type, bar, id,
    // padding[2], offset, length, then the type's extra fields.
    std::array<std::byte, 18> body {};
    size_t const body_length = 14 + extra.size();
    store_le<uint8_t>(std::span { body }, 0, static_cast<uint8_t>(body_length + 2));
    store_le<uint8_t>(std::span { body }, 1, type);
    store_le<uint8_t>(std::span { body }, 2, BAR_INDEX);
    store_le<uint32_t>(std::span { body }, 6, static_cast<uint32_t>(offset));
    store_le<uint32_t>(std::span { body }, 10, static_cast<uint32_t>(length));
    std::copy(extra.begin(), extra.end(), body.begin() + 14);
    m_config.add_capability(CAPABILITY_VENDOR, std::span { body }.first(body_length));
}

void VirtioPci::add_capabilities()
{
    add_virtio_capability(CAP_COMMON_CFG, COMMON_OFFSET, common::SIZE);
    std::array<std::byte, 4> multiplier {};
    store_le<uint32_t>(std::span { multiplier }, 0, NOTIFY_OFF_MULTIPLIER);
    add_virtio_capability(CAP_NOTIFY_CFG, NOTIFY_OFFSET, uint64_t { m_core.queue_count() } * NOTIFY_OFF_MULTIPLIER, multiplier);
    add_virtio_capability(CAP_ISR_CFG, ISR_OFFSET, ISR_LENGTH);
    add_virtio_capability(CAP_DEVICE_CFG, DEVICE_OFFSET, DEVICE_LENGTH);

    // VIRTIO_PCI_CAP_PCI_CFG (section 4.1.4.9): bar, offset, length and pci_cfg_data are the
    // driver's to write; an access to pci_cfg_data is forwarded to the BAR.
    std::array<std::byte, PCI_CFG_CAP_LENGTH - 2> body {};
    store_le<uint8_t>(std::span { body }, 0, PCI_CFG_CAP_LENGTH);
    store_le<uint8_t>(std::span { body }, 1, CAP_PCI_CFG);
    std::array<std::byte, PCI_CFG_CAP_LENGTH - 2> writable {};
    writable[CAP_BAR - 2] = std::byte { 0xff };
    std::fill(writable.begin() + (CAP_OFFSET - 2), writable.end(), std::byte { 0xff });
    pci::CapabilityHooks hooks;
    hooks.before_read = [this](uint16_t offset, size_t size) {
        if (offset + size > CAP_EXTRA)
            pci_cfg_access(false);
    };
    hooks.after_write = [this](uint16_t offset, size_t size) {
        if (offset + size > CAP_EXTRA)
            pci_cfg_access(true);
    };
    m_pci_cfg_capability = m_config.add_capability(CAPABILITY_VENDOR, body, writable, std::move(hooks));
}

void VirtioPci::pci_cfg_access(bool is_write)
{
    // Runs inside a config access (m_config_mutex held); BAR accesses never take that mutex.
    uint8_t const bar = m_config.read_u8(m_pci_cfg_capability + CAP_BAR);
    uint32_t const offset = m_config.read_u32(m_pci_cfg_capability + CAP_OFFSET);
    uint32_t const length = m_config.read_u32(m_pci_cfg_capability + CAP_LENGTH_FIELD);
    uint16_t const data_at = m_pci_cfg_capability + CAP_EXTRA;
    // Section 4.1.4.9.1: length 1, 2 or 4, offset aligned to it; anything else is not executed.
    if (bar != BAR_INDEX || (length != 1 && length != 2 && length != 4) || offset % length != 0)
        return;
    std::array<std::byte, 4> data {};
    if (is_write) {
        uint32_t const value = m_config.read_u32(data_at);
        std::memcpy(data.data(), &value, sizeof value);
        bar_write(bar, offset, std::span { data }.first(length));
        return;
    }
    bar_read(bar, offset, std::span { data }.first(length));
    uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof value);
    m_config.write_u32(data_at, value);
}

void VirtioPci::config_read(uint16_t offset, std::span<std::byte> data)
{
    bool const intx_asserted = m_intx.asserted();
    std::lock_guard lock { m_config_mutex };
    m_config.set_interrupt_status(intx_asserted);
    m_config.config_read(offset, data);
}

void VirtioPci::config_write(uint16_t offset, std::span<std::byte const> data)
{
    {
        std::lock_guard lock { m_config_mutex };
        m_config.config_write(offset, data);
    }
    // INTx Disable or MSI-X Enable may have changed.
    update_intx();
}

std::vector<pci::BarRequest> VirtioPci::bar_requests() const
{
    std::lock_guard lock { m_config_mutex };
    return m_config.bar_requests();
}

void VirtioPci::bar_assigned(uint8_t index, uint64_t address)
{
    std::lock_guard lock { m_config_mutex };
    m_config.set_bar_address(index, address);
}

uint64_t VirtioPci::bar_address() const
{
    std::lock_guard lock { m_config_mutex };
    return m_config.bar_address(BAR_INDEX);
}

void VirtioPci::bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (index != BAR_INDEX)
        return;
    if (inside(offset, data.size(), COMMON_OFFSET, common::SIZE)) {
        common_read(offset - COMMON_OFFSET, data);
    } else if (inside(offset, data.size(), ISR_OFFSET, ISR_LENGTH)) {
        // Section 4.1.4.5: reading ISR status clears it and deasserts INTx.
        {
            std::lock_guard lock { m_core.mutex() };
            data[0] = std::byte { m_isr };
            m_isr = 0;
        }
        update_intx();
    } else if (inside(offset, data.size(), DEVICE_OFFSET, DEVICE_LENGTH)) {
        std::lock_guard lock { m_core.mutex() };
        m_core.read_config(offset - DEVICE_OFFSET, data);
    } else if (inside(offset, data.size(), MSIX_TABLE_OFFSET, m_msix.table_size())) {
        m_msix.table_read(offset - MSIX_TABLE_OFFSET, data);
    } else if (inside(offset, data.size(), MSIX_PBA_OFFSET, m_msix.pba_size())) {
        m_msix.pba_read(offset - MSIX_PBA_OFFSET, data);
    }
}

void VirtioPci::bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data)
{
    if (index != BAR_INDEX)
        return;
    if (inside(offset, data.size(), COMMON_OFFSET, common::SIZE)) {
        bool raise_config = false;
        {
            std::lock_guard lock { m_core.mutex() };
            raise_config = common_write(offset - COMMON_OFFSET, data);
        }
        if (raise_config)
            config_interrupt();
        update_intx(); // a reset clears ISR
    } else if (inside(offset, data.size(), DEVICE_OFFSET, DEVICE_LENGTH)) {
        std::lock_guard lock { m_core.mutex() };
        m_core.write_config(offset - DEVICE_OFFSET, data);
    } else if (inside(offset, data.size(), NOTIFY_OFFSET, NOTIFY_LENGTH)) {
        // Section 4.1.4.4: the queue is the one whose notify address this is; the value
        // written (its index) is not needed.
        uint64_t const relative = offset - NOTIFY_OFFSET;
        if (relative % NOTIFY_OFF_MULTIPLIER != 0)
            return;
        std::lock_guard lock { m_core.mutex() };
        m_core.notify_from_vcpu(static_cast<uint16_t>(relative / NOTIFY_OFF_MULTIPLIER));
    } else if (inside(offset, data.size(), MSIX_TABLE_OFFSET, m_msix.table_size())) {
        m_msix.table_write(offset - MSIX_TABLE_OFFSET, data);
    } else if (inside(offset, data.size(), MSIX_PBA_OFFSET, m_msix.pba_size())) {
        m_msix.pba_write(offset - MSIX_PBA_OFFSET, data);
    }
}

std::vector<NotifyAddress> VirtioPci::notify_addresses() const
{
    std::vector<NotifyAddress> addresses;
    for (uint16_t index = 0; index < m_core.queue_count(); ++index)
        addresses.push_back(NotifyAddress { index, NOTIFY_OFFSET + uint64_t { index } * NOTIFY_OFF_MULTIPLIER, BAR_INDEX, 0, std::nullopt });
    return addresses;
}

void VirtioPci::queue_interrupt(uint16_t queue_index)
{
    uint16_t vector = NO_VECTOR;
    {
        std::lock_guard lock { m_core.mutex() };
        if (auto const* queue = m_core.queue(queue_index))
            vector = queue->msix_vector;
    }
    // Section 4.1.5.4: with MSI-X enabled the queue's vector is the notification (none when
    // NO_VECTOR); otherwise the ISR queue bit and INTx.
    if (vector != NO_VECTOR && m_msix.notify(vector) != pci::MsixDelivery::Disabled)
        return;
    if (m_msix.enabled())
        return;
    {
        std::lock_guard lock { m_core.mutex() };
        m_isr |= ISR_QUEUE;
    }
    update_intx();
}

void VirtioPci::config_interrupt()
{
    uint16_t vector = NO_VECTOR;
    {
        // Section 4.1.4.5.1: the configuration bit is set before any notification, MSI-X or not.
        std::lock_guard lock { m_core.mutex() };
        m_isr |= ISR_CONFIG;
        vector = m_config_vector;
    }
    if (vector != NO_VECTOR && m_msix.notify(vector) != pci::MsixDelivery::Disabled)
        return;
    update_intx();
}

void VirtioPci::update_intx()
{
    m_intx.update([this] {
        bool const msix_enabled = m_msix.enabled();
        std::lock_guard lock { m_core.mutex() };
        return !msix_enabled && !m_intx_disabled && m_isr != 0;
    });
}

uint8_t VirtioPci::isr() const
{
    std::lock_guard lock { m_core.mutex() };
    return m_isr;
}

TransportCounters VirtioPci::counters() const
{
    std::lock_guard lock { m_core.mutex() };
    return m_core.counters();
}

} // namespace monarch::vmm::virtio

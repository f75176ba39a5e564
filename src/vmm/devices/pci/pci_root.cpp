// SPDX-License-Identifier: Apache-2.0
// PciRoot: slots, BAR allocation and the mapping of BARs on the buses as the guest programs
// the BAR and command registers.
#include "vmm/devices/pci/pci_root.h"

#include "common/byte_access.h"
#include "common/log.h"
#include "common/verify.h"
#include "vmm/devices/pci/pci_config_access.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/pci/pci_host_bridge.h"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

namespace monarch::vmm::pci {
namespace {

// What a BAR's range on the bus forwards to: the device's bar_read/bar_write.
class BarBusDevice final : public BusDevice {
public:
    BarBusDevice(std::shared_ptr<PciDevice> device, uint8_t index) : m_device(std::move(device)), m_index(index) {}
    void read(uint64_t offset, std::span<std::byte> data) override { m_device->bar_read(m_index, offset, data); }
    void write(uint64_t offset, std::span<std::byte const> data) override { m_device->bar_write(m_index, offset, data); }

private:
    std::shared_ptr<PciDevice> m_device;
    uint8_t m_index;
};

uint32_t read_config(PciDevice& device, uint16_t offset, size_t size)
{
    std::array<std::byte, 4> data {};
    device.config_read(offset, std::span { data }.first(size));
    uint32_t value = 0;
    std::memcpy(&value, data.data(), size);
    return value;
}

void write_config(PciDevice& device, uint16_t offset, size_t size, uint32_t value)
{
    std::array<std::byte, 4> data {};
    std::memcpy(data.data(), &value, size);
    device.config_write(offset, std::span { data }.first(size));
}

bool valid_access(uint16_t offset, size_t size)
{
    return (size == 1 || size == 2 || size == 4) && (offset % 4) + size <= 4 && offset < config::ECAM_FUNCTION_SIZE;
}

uint16_t bar_register(uint8_t index) { return static_cast<uint16_t>(config::BAR0 + 4 * index); }

bool inside(uint64_t address, uint64_t size, uint64_t start, uint64_t end)
{
    return address >= start && address < end && size <= end - address;
}

} // namespace

PciRoot::PciRoot(Bus& mmio_bus, Bus& pio_bus, PciWindows const& windows)
    : m_mmio_bus(mmio_bus)
    , m_pio_bus(pio_bus)
    , m_windows(windows)
    , m_next_mmio32(windows.mmio32_start)
    , m_next_mmio64(windows.mmio64_start)
    , m_next_io(windows.io_start)
{
    m_slots[0].device = std::make_shared<PciHostBridge>();
}

Result<void> PciRoot::register_config_access()
{
    TRY_VOID(m_pio_bus.insert(PORT_CONFIG_ADDRESS, PORT_CONFIG_SIZE, std::make_shared<PciConfigIo>(*this), "pci-config-io"));
    TRY_VOID(m_mmio_bus.insert(layout::PCI_ECAM_START, layout::PCI_ECAM_SIZE, std::make_shared<PciEcam>(*this), "pci-ecam"));
    return {};
}

Result<uint8_t> PciRoot::choose_slot(std::optional<uint8_t> slot) const
{
    if (slot) {
        if (*slot == 0 || *slot >= SLOT_COUNT)
            return fail(Errc::InvalidArgument, "pci: slot must be 1..31");
        if (m_slots[*slot].device)
            return fail(Errc::Busy, "pci: slot already taken");
        return *slot;
    }
    for (uint8_t index = 1; index < SLOT_COUNT; ++index)
        if (!m_slots[index].device)
            return index;
    return fail(Errc::OutOfRange, "pci: all 31 slots are taken");
}

std::optional<uint64_t> PciRoot::allocate(BarRequest const& request)
{
    auto bump = [&](uint64_t& next, uint64_t end) -> std::optional<uint64_t> {
        uint64_t const start = align_up(next, request.size); // natural alignment (6.2.5.1)
        if (start < next || !inside(start, request.size, start, end))
            return std::nullopt;
        next = start + request.size;
        return start;
    };
    switch (request.kind) {
    case BarKind::Io:
        return bump(m_next_io, m_windows.io_end);
    case BarKind::Memory32:
        return bump(m_next_mmio32, m_windows.mmio32_end);
    case BarKind::Memory64:
        // Small 64-bit BARs go below 4 GiB, where even a guest with 32-bit page tables or an
        // identity map of the first 4 GiB reaches them; big ones, or any once the low window
        // is full, above RAM.
        if (request.size < 64 * layout::MiB)
            if (auto low = bump(m_next_mmio32, m_windows.mmio32_end))
                return low;
        return bump(m_next_mmio64, m_windows.mmio64_end);
    }
    return std::nullopt;
}

Result<void> PciRoot::allocate_bars(Slot& slot)
{
    auto const saved = std::tuple { m_next_mmio32, m_next_mmio64, m_next_io };
    for (auto& bar : slot.bars) {
        auto address = allocate(bar.request);
        if (!address) {
            std::tie(m_next_mmio32, m_next_mmio64, m_next_io) = saved;
            return fail(Errc::OutOfRange, "pci: no room left in the BAR window");
        }
        bar.address = *address;
    }
    return {};
}

Result<PciAttachment> PciRoot::attach(std::shared_ptr<PciDevice> device, std::optional<uint8_t> wanted)
{
    if (!device)
        return fail(Errc::InvalidArgument, "pci: null device");
    std::lock_guard lock { m_mutex };
    uint8_t const slot = TRY(choose_slot(wanted));
    Slot entry { device, {} };
    for (auto const& request : device->bar_requests())
        entry.bars.push_back(BarState { request, 0, std::nullopt });
    TRY_VOID(allocate_bars(entry));
    for (auto const& bar : entry.bars)
        device->bar_assigned(bar.request.index, bar.address);
    m_slots[slot] = std::move(entry);

    // What firmware does before the OS starts: route INTx and turn decoding on.
    auto const pin = static_cast<uint8_t>(read_config(*device, config::INTERRUPT_PIN, 1));
    if (pin >= 1 && pin <= 4)
        write_config(*device, config::INTERRUPT_LINE, 1, intx_gsi(slot, pin - 1));
    auto const command = read_config(*device, config::COMMAND, 2);
    write_config(*device, config::COMMAND, 2, command | command::IO_SPACE | command::MEMORY_SPACE);
    sync_slot_locked(slot);
    log::debug("pci: {} at 00:{:02x}.0", device->name(), slot);
    return PciAttachment { slot, intx_gsi(slot, 0) };
}

void PciRoot::config_read(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0xff });
    if (bus != 0 || device >= SLOT_COUNT || function != 0 || !valid_access(offset, data.size()))
        return;
    std::lock_guard lock { m_mutex };
    if (auto const& target = m_slots[device].device)
        target->config_read(offset, data);
}

void PciRoot::config_write(uint8_t bus, uint8_t device, uint8_t function, uint16_t offset, std::span<std::byte const> data)
{
    if (bus != 0 || device >= SLOT_COUNT || function != 0 || !valid_access(offset, data.size()))
        return;
    std::lock_guard lock { m_mutex };
    auto const& target = m_slots[device].device;
    if (!target)
        return;
    target->config_write(offset, data);
    // The command register and the BARs decide what is mapped where.
    bool const command = offset < config::COMMAND + 2 && config::COMMAND < offset + data.size();
    bool const bars = offset < config::BAR0 + 4 * config::BAR_COUNT && config::BAR0 < offset + data.size();
    if (command || bars)
        sync_slot_locked(device);
}

void PciRoot::sync_slot_locked(uint8_t slot)
{
    auto& entry = m_slots[slot];
    auto const command = static_cast<uint16_t>(read_config(*entry.device, config::COMMAND, 2));
    for (auto& bar : entry.bars)
        sync_bar_locked(slot, bar, command);
}

void PciRoot::sync_bar_locked(uint8_t slot, BarState& bar, uint16_t command)
{
    auto& device = *m_slots[slot].device;
    auto const& request = bar.request;
    uint64_t address = read_config(device, bar_register(request.index), 4);
    if (request.kind == BarKind::Memory64)
        address |= uint64_t { read_config(device, bar_register(request.index + 1), 4) } << 32;
    address &= request.kind == BarKind::Io ? ~uint64_t { 0x3 } : ~uint64_t { 0xf };

    bool const moved = address != bar.address;
    if (moved) {
        bar.address = address;
        device.bar_assigned(request.index, address);
    }
    bool const decode = command & (request.kind == BarKind::Io ? command::IO_SPACE : command::MEMORY_SPACE);
    bool const placeable = address != 0 && inside_window(request, address);
    bool const want = decode && placeable;
    if (bar.mapped_at && (!want || *bar.mapped_at != address))
        unmap_locked(slot, bar);
    if (!want || bar.mapped_at) {
        if (decode && !placeable && moved)
            ++m_rejected_placements;
        return;
    }
    // A guest may stack BARs on each other or on another device: refuse quietly here (the bus
    // would log each refusal) and count it. overlaps() searches in place: no copy of the ranges
    // per BAR write.
    if (bus_for(request.kind).overlaps(address, request.size)) {
        ++m_rejected_placements;
        return;
    }
    auto name = fmt::format("pci 00:{:02x}.0 {} bar{}", slot, device.name(), request.index);
    auto inserted = bus_for(request.kind).insert(address, request.size, std::make_shared<BarBusDevice>(m_slots[slot].device, request.index), name);
    if (!inserted) {
        ++m_rejected_placements;
        log::debug("pci: {} not mapped at {:#x}: {}", name, address, to_string(inserted.error()));
        return;
    }
    bar.mapped_at = address;
    if (m_observer)
        m_observer(slot, request.index, address);
}

void PciRoot::unmap_locked(uint8_t slot, BarState& bar)
{
    auto removed = bus_for(bar.request.kind).remove(*bar.mapped_at);
    VERIFY(removed.has_value()); // we inserted it and nobody else removes our ranges
    bar.mapped_at.reset();
    if (m_observer)
        m_observer(slot, bar.request.index, std::nullopt);
}

bool PciRoot::inside_window(BarRequest const& request, uint64_t address) const
{
    if (request.kind == BarKind::Io)
        return inside(address, request.size, m_windows.io_start, m_windows.io_end);
    if (inside(address, request.size, m_windows.mmio32_start, m_windows.mmio32_end))
        return true;
    return request.kind == BarKind::Memory64 && inside(address, request.size, m_windows.mmio64_start, m_windows.mmio64_end);
}

void PciRoot::set_bar_observer(BarObserver observer)
{
    std::lock_guard lock { m_mutex };
    m_observer = std::move(observer);
}

std::vector<BarMapping> PciRoot::bar_mappings() const
{
    std::lock_guard lock { m_mutex };
    std::vector<BarMapping> mappings;
    for (uint8_t slot = 0; slot < SLOT_COUNT; ++slot)
        for (auto const& bar : m_slots[slot].bars)
            mappings.push_back(BarMapping { slot, bar.request.index, bar.request.kind, bar.address, bar.request.size, bar.mapped_at.has_value() });
    return mappings;
}

uint64_t PciRoot::rejected_placements() const
{
    std::lock_guard lock { m_mutex };
    return m_rejected_placements;
}

} // namespace monarch::vmm::pci

// SPDX-License-Identifier: Apache-2.0
// PvPanic: a configuration space with one memory BAR, and one event register at its offset 0.
// Everything the guest does is validated here: the only accesses with an effect are byte
// accesses at BAR0 offset 0; the rest read 0 and are dropped (counted, logged once).
#include "vmm/devices/pci/pvpanic.h"

#include "common/log.h"

#include <algorithm>

namespace monarch::vmm::pci {

PvPanic::PvPanic(Events events)
    : m_events(std::move(events))
    , m_config(PciIds { PVPANIC_VENDOR, PVPANIC_DEVICE, PVPANIC_REVISION, PVPANIC_CLASS, PVPANIC_SUBCLASS, 0x00,
          PVPANIC_SUBSYSTEM_VENDOR, PVPANIC_SUBSYSTEM })
{
    // QEMU's pvpanic-pci has no interrupt pin and no capabilities: the guest only ever writes.
    m_config.add_bar(BarRequest { PVPANIC_BAR, PVPANIC_BAR_SIZE, BarKind::Memory32, false });
}

void PvPanic::config_read(uint16_t offset, std::span<std::byte> data)
{
    std::lock_guard lock { m_mutex };
    m_config.config_read(offset, data);
}

void PvPanic::config_write(uint16_t offset, std::span<std::byte const> data)
{
    std::lock_guard lock { m_mutex };
    m_config.config_write(offset, data);
}

std::vector<BarRequest> PvPanic::bar_requests() const
{
    std::lock_guard lock { m_mutex };
    return m_config.bar_requests();
}

void PvPanic::bar_assigned(uint8_t index, uint64_t address)
{
    std::lock_guard lock { m_mutex };
    if (index == PVPANIC_BAR)
        m_config.set_bar_address(index, address);
}

// Linux reads and writes the register with ioread8/iowrite8; QEMU's region accepts only 1-byte
// accesses too. Anything wider, elsewhere in the page, or in another BAR is not the protocol.
bool PvPanic::event_access(uint8_t index, uint64_t offset, size_t size)
{
    return index == PVPANIC_BAR && offset == 0 && size == 1;
}

void PvPanic::bar_read(uint8_t index, uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (!event_access(index, offset, data.size())) {
        if (m_odd_accesses.fetch_add(1, std::memory_order_relaxed) == 0)
            log::debug("pvpanic: read of {} bytes at BAR{} offset {:#x} ignored (only a byte at offset 0 is a register)",
                data.size(), index, offset);
        return;
    }
    data[0] = std::byte { pvpanic_event::SUPPORTED };
}

void PvPanic::bar_write(uint8_t index, uint64_t offset, std::span<std::byte const> data)
{
    if (!event_access(index, offset, data.size())) {
        if (m_odd_accesses.fetch_add(1, std::memory_order_relaxed) == 0)
            log::debug("pvpanic: write of {} bytes at BAR{} offset {:#x} ignored (only a byte at offset 0 is a register)",
                data.size(), index, offset);
        return;
    }
    auto const value = std::to_integer<uint8_t>(data[0]);
    // As QEMU does: bits we do not offer (a newer guest's PVPANIC_SHUTDOWN, garbage) are
    // dropped, the known ones still count. Linux never sets a bit the read did not offer.
    if ((value & ~pvpanic_event::SUPPORTED) != 0 && m_unknown_events.fetch_add(1, std::memory_order_relaxed) == 0)
        log::debug("pvpanic: the guest reported unknown events {:#04x}; ignoring those bits", value);
    // PANICKED wins over CRASH_LOADED when both are set: the guest says it is dead, whatever
    // it may have loaded (QEMU checks them in this order and handles only the first).
    if (value & pvpanic_event::PANICKED) {
        m_panicked.fetch_add(1, std::memory_order_relaxed);
        if (m_events.panicked)
            m_events.panicked();
    } else if (value & pvpanic_event::CRASH_LOADED) {
        m_crash_loaded.fetch_add(1, std::memory_order_relaxed);
        if (m_events.crash_loaded)
            m_events.crash_loaded();
    }
}

PvPanicCounters PvPanic::counters() const
{
    return PvPanicCounters { m_panicked.load(std::memory_order_relaxed), m_crash_loaded.load(std::memory_order_relaxed),
        m_unknown_events.load(std::memory_order_relaxed), m_odd_accesses.load(std::memory_order_relaxed) };
}

std::array<std::byte, config::SIZE> PvPanic::config_state() const
{
    std::lock_guard lock { m_mutex };
    return m_config.state();
}

Result<void> PvPanic::restore_config(std::span<std::byte const> bytes)
{
    std::lock_guard lock { m_mutex };
    TRY_VOID(m_config.restore(bytes));
    m_config.set_interrupt_status(false); // no interrupt pin: a set Interrupt bit is not ours
    return {};
}

} // namespace monarch::vmm::pci

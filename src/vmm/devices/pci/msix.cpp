// SPDX-License-Identifier: Apache-2.0
// MsixTable and MsixCapability (PCI Local Bus 3.0, 6.8.2.3 to 6.8.2.9).
#include "vmm/devices/pci/msix.h"

#include "common/byte_access.h"
#include "common/verify.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

namespace monarch::vmm::pci {
namespace {

bool aligned_access(uint64_t offset, size_t size)
{
    return (size == 4 || size == 8) && offset % size == 0;
}

uint64_t load(std::span<std::byte const> data)
{
    uint64_t value = 0;
    std::memcpy(&value, data.data(), data.size());
    return value;
}

void store(std::span<std::byte> data, uint64_t value) { std::memcpy(data.data(), &value, data.size()); }

} // namespace

MsixTable::MsixTable(uint16_t vector_count, MsiRouter& router)
    : m_router(router)
    , m_entries(vector_count)
    , m_pending((vector_count + 63) / 64, 0)
{
    VERIFY(vector_count >= 1 && vector_count <= msix::MAX_VECTORS);
}

bool MsixTable::blocked_locked(uint16_t vector) const
{
    return m_function_masked || (m_entries[vector].vector_control & msix::VECTOR_CONTROL_MASK);
}

bool MsixTable::pending_locked(uint16_t vector) const { return (m_pending[vector / 64] >> (vector % 64)) & 1; }

void MsixTable::set_pending_locked(uint16_t vector, bool value)
{
    uint64_t const bit = uint64_t { 1 } << (vector % 64);
    m_pending[vector / 64] = value ? (m_pending[vector / 64] | bit) : (m_pending[vector / 64] & ~bit);
}

void MsixTable::report_locked(uint16_t vector)
{
    m_router.update(vector, MsiMessage { (uint64_t { m_entries[vector].address_high } << 32) | m_entries[vector].address_low, m_entries[vector].data }, !m_enabled || blocked_locked(vector));
}

// 6.8.2.9: a pending message is sent as soon as neither the vector nor the function is masked.
void MsixTable::deliver_pending_locked()
{
    if (!m_enabled || m_function_masked)
        return;
    for (uint16_t vector = 0; vector < m_entries.size(); ++vector) {
        if (!pending_locked(vector) || blocked_locked(vector))
            continue;
        set_pending_locked(vector, false);
        m_router.trigger(vector);
    }
}

void MsixTable::table_read(uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    std::lock_guard lock { m_mutex };
    if (!aligned_access(offset, data.size()) || !fits(table_size(), offset, data.size())) {
        ++m_malformed_accesses;
        return;
    }
    uint64_t value = 0;
    for (size_t done = 0; done < data.size(); done += 4) {
        uint64_t const at = offset + done;
        auto const& entry = m_entries[at / msix::ENTRY_SIZE];
        std::array<uint32_t, 4> const fields { entry.address_low, entry.address_high, entry.data, entry.vector_control };
        value |= uint64_t { fields[(at % msix::ENTRY_SIZE) / 4] } << (8 * done);
    }
    store(data, value);
}

void MsixTable::table_write(uint64_t offset, std::span<std::byte const> data)
{
    std::lock_guard lock { m_mutex };
    if (!aligned_access(offset, data.size()) || !fits(table_size(), offset, data.size())) {
        ++m_malformed_accesses;
        return;
    }
    uint64_t const value = load(data);
    // A qword write is two dword writes, low address first (6.8.2: the same result).
    for (size_t done = 0; done < data.size(); done += 4)
        write_dword_locked(offset + done, static_cast<uint32_t>(value >> (8 * done)));
}

void MsixTable::write_dword_locked(uint64_t offset, uint32_t value)
{
    auto const vector = static_cast<uint16_t>(offset / msix::ENTRY_SIZE);
    auto& entry = m_entries[vector];
    Entry const before = entry;
    switch ((offset % msix::ENTRY_SIZE) / 4) {
    case 0:
        entry.address_low = value & ~0x3u; // 6.8.2.6: dword-aligned, bits 1:0 read zero
        break;
    case 1:
        entry.address_high = value;
        break;
    case 2:
        entry.data = value;
        break;
    default:
        entry.vector_control = value & msix::VECTOR_CONTROL_MASK; // other bits reserved
        break;
    }
    if (std::memcmp(&before, &entry, sizeof(Entry)) == 0)
        return;
    report_locked(vector);
    bool const unmasked = (before.vector_control & ~entry.vector_control) & msix::VECTOR_CONTROL_MASK;
    if (unmasked && m_enabled && !m_function_masked && pending_locked(vector)) {
        set_pending_locked(vector, false);
        m_router.trigger(vector);
    }
}

void MsixTable::pba_read(uint64_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    std::lock_guard lock { m_mutex };
    if (!aligned_access(offset, data.size()) || !fits(pba_size(), offset, data.size())) {
        ++m_malformed_accesses;
        return;
    }
    uint64_t const word = m_pending[offset / 8];
    store(data, data.size() == 8 ? word : (word >> (8 * (offset % 8))) & 0xffffffffu);
}

void MsixTable::pba_write(uint64_t, std::span<std::byte const>)
{
    // 6.8.2.10: the PBA is read-only; software writes have no effect.
}

void MsixTable::set_control(bool enabled, bool function_masked)
{
    std::lock_guard lock { m_mutex };
    if (enabled == m_enabled && function_masked == m_function_masked)
        return;
    std::vector<bool> was_blocked(m_entries.size());
    for (uint16_t vector = 0; vector < m_entries.size(); ++vector)
        was_blocked[vector] = !m_enabled || blocked_locked(vector);
    m_enabled = enabled;
    m_function_masked = function_masked;
    for (uint16_t vector = 0; vector < m_entries.size(); ++vector)
        if (was_blocked[vector] != (!m_enabled || blocked_locked(vector)))
            report_locked(vector);
    deliver_pending_locked();
}

bool MsixTable::enabled() const
{
    std::lock_guard lock { m_mutex };
    return m_enabled;
}

bool MsixTable::function_masked() const
{
    std::lock_guard lock { m_mutex };
    return m_function_masked;
}

MsixDelivery MsixTable::notify(uint16_t vector)
{
    std::lock_guard lock { m_mutex };
    if (vector >= m_entries.size())
        return MsixDelivery::Invalid;
    if (!m_enabled)
        return MsixDelivery::Disabled;
    if (blocked_locked(vector)) {
        set_pending_locked(vector, true);
        return MsixDelivery::Pending;
    }
    m_router.trigger(vector);
    return MsixDelivery::Delivered;
}

bool MsixTable::pending(uint16_t vector) const
{
    std::lock_guard lock { m_mutex };
    return vector < m_entries.size() && pending_locked(vector);
}

bool MsixTable::vector_masked(uint16_t vector) const
{
    std::lock_guard lock { m_mutex };
    return vector < m_entries.size() && (m_entries[vector].vector_control & msix::VECTOR_CONTROL_MASK);
}

MsiMessage MsixTable::message(uint16_t vector) const
{
    std::lock_guard lock { m_mutex };
    if (vector >= m_entries.size())
        return {};
    return MsiMessage { (uint64_t { m_entries[vector].address_high } << 32) | m_entries[vector].address_low, m_entries[vector].data };
}

uint64_t MsixTable::malformed_accesses() const
{
    std::lock_guard lock { m_mutex };
    return m_malformed_accesses;
}

MsixState MsixTable::state() const
{
    std::lock_guard lock { m_mutex };
    return MsixState { m_entries, m_pending, m_enabled, m_function_masked };
}

Result<void> MsixTable::restore(MsixState const& state)
{
    TRY_VOID(check_state(state));
    std::lock_guard lock { m_mutex };
    m_entries = state.entries;
    m_pending = state.pending;
    m_enabled = state.enabled;
    m_function_masked = state.function_masked;
    for (uint16_t vector = 0; vector < m_entries.size(); ++vector)
        report_locked(vector);
    return {};
}

Result<void> MsixTable::check_state(MsixState const& state) const
{
    // The vector count is fixed at construction: no lock needed for the sizes.
    if (state.entries.size() != m_entries.size() || state.pending.size() != m_pending.size())
        return fail(Errc::Corrupt, "MSI-X state: another vector count");
    for (auto const& entry : state.entries) {
        if ((entry.address_low & 0x3u) != 0 || (entry.vector_control & ~msix::VECTOR_CONTROL_MASK) != 0)
            return fail(Errc::Corrupt, "MSI-X state: reserved bits set in a table entry");
    }
    if (unsigned const used = m_entries.size() % 64; used != 0 && (state.pending.back() >> used) != 0)
        return fail(Errc::Corrupt, "MSI-X state: pending bits past the last vector");
    return {};
}

MsixCapability::MsixCapability(PciConfigSpace& config, MsixTable& table, MsixLocation table_at, MsixLocation pba_at)
{
    // 6.8.2.4/6.8.2.5: BIR in bits 2:0, a qword-aligned offset in bits 31:3.
    VERIFY(table_at.bar < config::BAR_COUNT && pba_at.bar < config::BAR_COUNT);
    VERIFY(table_at.offset % 8 == 0 && pba_at.offset % 8 == 0);
    std::array<std::byte, msix::CAPABILITY_LENGTH - 2> body {};
    store_le(std::span { body }, 0, static_cast<uint16_t>(table.vector_count() - 1));
    store_le(std::span { body }, 2, table_at.offset | table_at.bar);
    store_le(std::span { body }, 6, pba_at.offset | pba_at.bar);
    // Only MSI-X Enable and Function Mask (Message Control bits 15:14) are writable.
    std::array<std::byte, msix::CAPABILITY_LENGTH - 2> writable {};
    writable[1] = std::byte { 0xc0 };

    // The hook needs the capability's offset, known only once it is added.
    auto where = std::make_shared<uint8_t>(0);
    CapabilityHooks hooks;
    hooks.after_write = [&config, &table, where](uint16_t, size_t) {
        uint16_t const control = config.read_u16(*where + msix::MESSAGE_CONTROL);
        table.set_control(control & msix::CONTROL_ENABLE, control & msix::CONTROL_FUNCTION_MASK);
    };
    m_offset = config.add_capability(msix::CAPABILITY_ID, body, writable, std::move(hooks));
    *where = m_offset;
}

} // namespace monarch::vmm::pci

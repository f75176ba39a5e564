// SPDX-License-Identifier: Apache-2.0
// PciConfigSpace: register storage, write masks, BAR sizing and the capability list.
#include "vmm/devices/pci/pci_config_space.h"

#include "common/byte_access.h"
#include "common/verify.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace monarch::vmm::pci {
namespace {

// The guest-visible address bits of a BAR of `request.size` bytes (6.2.5.1: the low
// log2(size) bits read back zero, which is how software sizes the BAR).
uint64_t address_mask(BarRequest const& request)
{
    uint64_t const size_mask = ~(request.size - 1);
    switch (request.kind) {
    case BarKind::Io:
        return size_mask & bar_bits::IO_ADDRESS_MASK & 0xffffffffu;
    case BarKind::Memory32:
        return size_mask & bar_bits::MEMORY_ADDRESS_MASK & 0xffffffffu;
    case BarKind::Memory64:
        return size_mask & ~uint64_t { 0xf };
    }
    return 0;
}

uint32_t type_bits(BarRequest const& request)
{
    switch (request.kind) {
    case BarKind::Io:
        return bar_bits::IO_SPACE;
    case BarKind::Memory32:
        return request.prefetchable ? bar_bits::PREFETCHABLE : 0;
    case BarKind::Memory64:
        return bar_bits::MEMORY_TYPE_64 | (request.prefetchable ? bar_bits::PREFETCHABLE : 0);
    }
    return 0;
}

bool overlaps(uint16_t offset, size_t size, uint16_t start, size_t length)
{
    return offset < start + length && start < offset + size;
}

uint16_t bar_offset(uint8_t index) { return static_cast<uint16_t>(config::BAR0 + 4 * index); }

} // namespace

PciConfigSpace::PciConfigSpace(PciIds const& ids, InterruptPin pin)
{
    write_u16(config::VENDOR_ID, ids.vendor);
    write_u16(config::DEVICE_ID, ids.device);
    write_u8(config::REVISION_ID, ids.revision);
    write_u8(config::PROG_IF, ids.prog_if);
    write_u8(config::SUBCLASS, ids.subclass);
    write_u8(config::CLASS_CODE, ids.class_code);
    write_u8(config::HEADER_TYPE, 0); // type 0, single function
    write_u16(config::SUBSYSTEM_VENDOR_ID, ids.subsystem_vendor);
    write_u16(config::SUBSYSTEM_ID, ids.subsystem);
    write_u8(config::INTERRUPT_PIN, static_cast<uint8_t>(pin));

    set_mask(config::COMMAND, 2, command::IO_SPACE | command::MEMORY_SPACE | command::BUS_MASTER | command::INTX_DISABLE);
    set_mask(config::CACHE_LINE_SIZE, 1, 0xff);  // software's scratch register
    set_mask(config::INTERRUPT_LINE, 1, 0xff);   // written by firmware/OS, no hardware effect
    // Everything else (IDs, status, expansion ROM = none, header type) is read-only.
}

void PciConfigSpace::set_mask(uint16_t offset, size_t size, uint64_t mask)
{
    VERIFY(fits(config::SIZE, offset, size));
    for (size_t i = 0; i < size; ++i)
        m_writable[offset + i] = std::byte(mask >> (8 * i));
}

bool PciConfigSpace::valid_access(uint16_t offset, size_t size)
{
    bool const width_ok = size == 1 || size == 2 || size == 4;
    return width_ok && (offset % 4) + size <= 4;
}

void PciConfigSpace::config_read(uint16_t offset, std::span<std::byte> data)
{
    std::fill(data.begin(), data.end(), std::byte { 0 });
    if (!valid_access(offset, data.size())) {
        ++m_malformed_accesses;
        return;
    }
    if (offset >= config::SIZE)
        return;
    run_read_hooks(offset, data.size());
    std::memcpy(data.data(), m_bytes.data() + offset, data.size());
}

void PciConfigSpace::config_write(uint16_t offset, std::span<std::byte const> data)
{
    if (!valid_access(offset, data.size())) {
        ++m_malformed_accesses;
        return;
    }
    if (offset >= config::SIZE)
        return;
    bool const touches_bars = overlaps(offset, data.size(), config::BAR0, 4 * config::BAR_COUNT);
    bool const touches_command = overlaps(offset, data.size(), config::COMMAND, 2);
    auto const old_bars = bar_addresses();
    uint16_t const old_command = command();

    for (size_t i = 0; i < data.size(); ++i) {
        auto const mask = m_writable[offset + i];
        m_bytes[offset + i] = (m_bytes[offset + i] & ~mask) | (data[i] & mask);
    }
    run_write_hooks(offset, data.size());

    if (touches_command && command() != old_command && m_command_observer)
        m_command_observer(old_command, command());
    if (!touches_bars || !m_bar_observer)
        return;
    auto const new_bars = bar_addresses();
    for (uint8_t index = 0; index < config::BAR_COUNT; ++index)
        if (new_bars[index] != old_bars[index])
            m_bar_observer(index, old_bars[index], new_bars[index]);
}

void PciConfigSpace::run_read_hooks(uint16_t offset, size_t size)
{
    for (auto const& cap : m_capabilities) {
        if (!cap.hooks.before_read || !overlaps(offset, size, cap.offset, cap.length))
            continue;
        uint16_t const start = std::max<uint16_t>(offset, cap.offset);
        uint16_t const end = std::min<uint16_t>(static_cast<uint16_t>(offset + size), cap.offset + cap.length);
        cap.hooks.before_read(static_cast<uint16_t>(start - cap.offset), end - start);
    }
}

void PciConfigSpace::run_write_hooks(uint16_t offset, size_t size)
{
    for (auto const& cap : m_capabilities) {
        if (!cap.hooks.after_write || !overlaps(offset, size, cap.offset, cap.length))
            continue;
        uint16_t const start = std::max<uint16_t>(offset, cap.offset);
        uint16_t const end = std::min<uint16_t>(static_cast<uint16_t>(offset + size), cap.offset + cap.length);
        cap.hooks.after_write(static_cast<uint16_t>(start - cap.offset), end - start);
    }
}

void PciConfigSpace::add_bar(BarRequest const& request)
{
    bool const wide = request.kind == BarKind::Memory64;
    VERIFY(request.index < config::BAR_COUNT && (!wide || request.index + 1 < config::BAR_COUNT));
    VERIFY(!m_bars[request.index].present && (!wide || !m_bars[request.index + 1].present));
    VERIFY(std::has_single_bit(request.size));
    if (request.kind == BarKind::Io)
        VERIFY(request.size >= 4 && request.size <= 256); // 6.2.5.1: I/O BARs up to 256 bytes
    else
        VERIFY(request.size >= 16 && (wide || request.size <= (uint64_t { 1 } << 31)));

    m_bars[request.index] = Bar { request, true, false };
    uint64_t const mask = address_mask(request);
    write_u32(bar_offset(request.index), type_bits(request));
    set_mask(bar_offset(request.index), 4, mask & 0xffffffffu);
    if (wide) {
        m_bars[request.index + 1] = Bar { request, true, true };
        write_u32(bar_offset(request.index + 1), 0);
        set_mask(bar_offset(request.index + 1), 4, mask >> 32);
    }
}

std::vector<BarRequest> PciConfigSpace::bar_requests() const
{
    std::vector<BarRequest> requests;
    for (auto const& bar : m_bars)
        if (bar.present && !bar.upper_half)
            requests.push_back(bar.request);
    return requests;
}

std::optional<BarRequest> PciConfigSpace::bar_request(uint8_t index) const
{
    if (index >= config::BAR_COUNT || !m_bars[index].present || m_bars[index].upper_half)
        return std::nullopt;
    return m_bars[index].request;
}

uint64_t PciConfigSpace::bar_address(uint8_t index) const
{
    auto const request = bar_request(index);
    if (!request)
        return 0;
    uint64_t value = read_u32(bar_offset(index));
    if (request->kind == BarKind::Memory64)
        value |= uint64_t { read_u32(bar_offset(index + 1)) } << 32;
    return value & address_mask(*request);
}

std::array<uint64_t, config::BAR_COUNT> PciConfigSpace::bar_addresses() const
{
    std::array<uint64_t, config::BAR_COUNT> addresses {};
    for (uint8_t index = 0; index < config::BAR_COUNT; ++index)
        addresses[index] = bar_address(index);
    return addresses;
}

void PciConfigSpace::set_bar_address(uint8_t index, uint64_t address)
{
    auto const request = bar_request(index);
    VERIFY(request.has_value());
    uint64_t const value = (address & address_mask(*request)) | type_bits(*request);
    write_u32(bar_offset(index), static_cast<uint32_t>(value));
    if (request->kind == BarKind::Memory64)
        write_u32(bar_offset(index + 1), static_cast<uint32_t>(value >> 32));
}

uint8_t PciConfigSpace::add_capability(uint8_t id, std::span<std::byte const> body, std::span<std::byte const> writable, CapabilityHooks hooks)
{
    VERIFY(writable.empty() || writable.size() == body.size());
    size_t const length = 2 + body.size();
    uint16_t const offset = m_next_capability;
    VERIFY(fits(config::SIZE, offset, length));

    write_u8(offset, id);
    write_u8(offset + 1, 0); // end of list until another one follows
    std::memcpy(m_bytes.data() + offset + 2, body.data(), body.size());
    if (!writable.empty())
        std::memcpy(m_writable.data() + offset + 2, writable.data(), writable.size());

    uint16_t const link = m_capabilities.empty() ? config::CAPABILITIES_POINTER : m_capabilities.back().offset + 1;
    write_u8(link, static_cast<uint8_t>(offset));
    write_u16(config::STATUS, read_u16(config::STATUS) | status::CAPABILITIES_LIST);

    m_capabilities.push_back(Capability { static_cast<uint8_t>(offset), static_cast<uint8_t>(length), std::move(hooks) });
    m_next_capability = static_cast<uint16_t>(align_up(offset + length, 4));
    return static_cast<uint8_t>(offset);
}

Result<void> PciConfigSpace::restore(std::span<std::byte const> bytes)
{
    TRY_VOID(check_state(bytes));
    std::copy(bytes.begin(), bytes.end(), m_bytes.begin());
    return {};
}

Result<void> PciConfigSpace::check_state(std::span<std::byte const> bytes) const
{
    if (bytes.size() != m_bytes.size())
        return fail(Errc::Corrupt, "PCI config state: not 256 bytes");
    for (size_t offset = 0; offset < m_bytes.size(); ++offset) {
        auto fixed = ~m_writable[offset];
        if (offset == config::STATUS)
            fixed &= ~std::byte { status::INTERRUPT };
        if (((bytes[offset] ^ m_bytes[offset]) & fixed) != std::byte { 0 })
            return fail(Errc::Corrupt, "PCI config state: read-only bits differ (another device)");
    }
    return {};
}

void PciConfigSpace::set_interrupt_status(bool asserted)
{
    uint16_t value = read_u16(config::STATUS);
    value = asserted ? (value | status::INTERRUPT) : (value & ~status::INTERRUPT);
    write_u16(config::STATUS, value);
}

void PciConfigSpace::set_bar_observer(std::function<void(uint8_t, uint64_t, uint64_t)> observer)
{
    m_bar_observer = std::move(observer);
}

void PciConfigSpace::set_command_observer(std::function<void(uint16_t, uint16_t)> observer)
{
    m_command_observer = std::move(observer);
}

uint8_t PciConfigSpace::read_u8(uint16_t offset) const
{
    auto value = load_le<uint8_t>(m_bytes, offset);
    VERIFY(value.has_value());
    return *value;
}
uint16_t PciConfigSpace::read_u16(uint16_t offset) const
{
    auto value = load_le<uint16_t>(m_bytes, offset);
    VERIFY(value.has_value());
    return *value;
}
uint32_t PciConfigSpace::read_u32(uint16_t offset) const
{
    auto value = load_le<uint32_t>(m_bytes, offset);
    VERIFY(value.has_value());
    return *value;
}
void PciConfigSpace::write_u8(uint16_t offset, uint8_t value) { store_le(std::span { m_bytes }, offset, value); }
void PciConfigSpace::write_u16(uint16_t offset, uint16_t value) { store_le(std::span { m_bytes }, offset, value); }
void PciConfigSpace::write_u32(uint16_t offset, uint32_t value) { store_le(std::span { m_bytes }, offset, value); }

} // namespace monarch::vmm::pci

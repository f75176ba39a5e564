// SPDX-License-Identifier: Apache-2.0
// Bus: sorted, non-overlapping ranges; lookups by binary search under a shared lock.
#include "vmm/devices/bus.h"

#include "common/log.h"

#include <algorithm>
#include <mutex>

namespace monarch::vmm {
namespace {

// The first of the entries (sorted by base) that starts above `address`: the one before it, if
// any, is the only one that can hold `address`.
template<typename Entries>
auto first_above(Entries const& entries, uint64_t address)
{
    return std::upper_bound(entries.begin(), entries.end(), address,
        [](uint64_t value, auto const& entry) { return value < entry.base; });
}

} // namespace

Result<void> Bus::insert(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device, std::string_view name)
{
    if (!device)
        return fail(Errc::InvalidArgument, "bus: null device");
    if (length == 0)
        return fail(Errc::InvalidArgument, "bus: zero-length range");
    uint64_t last = 0; // inclusive, so that a range may end at 2^64
    if (__builtin_add_overflow(base, length - 1, &last))
        return fail(Errc::InvalidArgument, "bus: range wraps around the address space");

    std::unique_lock lock { m_mutex };
    auto next = first_above(m_entries, base);
    // Only the neighbours can overlap: the entry before (if it reaches base) and the one after
    // (if it starts at or before last).
    if (next != m_entries.begin()) {
        auto const& previous = *std::prev(next);
        if (previous.base + (previous.length - 1) >= base) {
            log::warn("bus: {} [{:#x}, +{:#x}) overlaps {} [{:#x}, +{:#x})", name, base, length, previous.name, previous.base, previous.length);
            return fail(Errc::Busy, "bus: range overlaps a registered device");
        }
    }
    if (next != m_entries.end() && next->base <= last) {
        log::warn("bus: {} [{:#x}, +{:#x}) overlaps {} [{:#x}, +{:#x})", name, base, length, next->name, next->base, next->length);
        return fail(Errc::Busy, "bus: range overlaps a registered device");
    }
    m_entries.insert(next, Entry { base, length, std::move(device), std::string(name) });
    return {};
}

Result<void> Bus::remove(uint64_t base)
{
    std::unique_lock lock { m_mutex };
    auto it = std::find_if(m_entries.begin(), m_entries.end(), [base](Entry const& entry) { return entry.base == base; });
    if (it == m_entries.end())
        return fail(Errc::NotFound, "bus: no device registered at this base");
    m_entries.erase(it);
    return {};
}

std::shared_ptr<BusDevice> Bus::find(uint64_t address, uint64_t size, uint64_t& offset) const
{
    if (size == 0)
        return nullptr;
    std::shared_lock lock { m_mutex };
    auto next = first_above(m_entries, address);
    if (next == m_entries.begin())
        return nullptr;
    auto const& entry = *std::prev(next);
    uint64_t const relative = address - entry.base;
    // The whole access must lie inside: relative + size <= length, written so it cannot overflow.
    if (relative >= entry.length || size > entry.length - relative)
        return nullptr;
    offset = relative;
    return entry.device; // a copy, so that the device outlives a concurrent remove()
}

bool Bus::read(uint64_t address, std::span<std::byte> data) const
{
    uint64_t offset = 0;
    auto device = find(address, data.size(), offset);
    if (!device)
        return false;
    device->read(offset, data);
    return true;
}

bool Bus::write(uint64_t address, std::span<std::byte const> data) const
{
    uint64_t offset = 0;
    auto device = find(address, data.size(), offset);
    if (!device)
        return false;
    device->write(offset, data);
    return true;
}

std::vector<BusRange> Bus::ranges() const
{
    std::shared_lock lock { m_mutex };
    std::vector<BusRange> result;
    result.reserve(m_entries.size());
    for (auto const& entry : m_entries)
        result.push_back(BusRange { entry.base, entry.length, entry.name });
    return result;
}

bool Bus::overlaps(uint64_t base, uint64_t length) const
{
    if (length == 0)
        return false;
    // Inclusive end, saturated: a range reaching past 2^64 overlaps all that lies above base.
    uint64_t last = 0;
    if (__builtin_add_overflow(base, length - 1, &last))
        last = UINT64_MAX;
    std::shared_lock lock { m_mutex };
    // Entries are sorted and disjoint: only the last one starting at or before `last` can
    // overlap without one before it overlapping too, and it does when it reaches base.
    auto next = first_above(m_entries, last);
    if (next == m_entries.begin())
        return false;
    auto const& entry = *std::prev(next);
    return entry.base + (entry.length - 1) >= base;
}

bool Bus::read_each(uint64_t address, std::span<std::byte> data, size_t width) const
{
    uint64_t offset = 0;
    auto device = find(address, width, offset);
    if (!device)
        return false;
    for (size_t at = 0; at + width <= data.size(); at += width)
        device->read(offset, data.subspan(at, width));
    return true;
}

bool Bus::write_each(uint64_t address, std::span<std::byte const> data, size_t width) const
{
    uint64_t offset = 0;
    auto device = find(address, width, offset);
    if (!device)
        return false;
    for (size_t at = 0; at + width <= data.size(); at += width)
        device->write(offset, data.subspan(at, width));
    return true;
}

} // namespace monarch::vmm

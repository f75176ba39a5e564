// SPDX-License-Identifier: Apache-2.0
// VecGuestMemory: guest RAM in std::vectors, for unit tests of loaders, tables and devices.
#pragma once

#include "vmm/memory/guest_memory.h"

#include <initializer_list>
#include <vector>

namespace monarch::test {

class VecGuestMemory final : public vmm::GuestMemory {
public:
    // One range per (base, size) pair, e.g. {{0, 64 MiB}} or the low/high split around the hole.
    VecGuestMemory(std::initializer_list<vmm::GuestRamRange> ranges)
        : m_ranges(ranges)
    {
        for (auto const& range : m_ranges)
            m_storage.emplace_back(range.size);
    }
    explicit VecGuestMemory(uint64_t size) : VecGuestMemory({ { GuestPhysAddr { 0 }, size } }) {}

    std::span<vmm::GuestRamRange const> ranges() const override { return m_ranges; }
    Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) override
    {
        auto hit = TRY(vmm::find_range(m_ranges, gpa, length));
        return std::span<std::byte>(m_storage[hit.index].data() + hit.offset, length);
    }

private:
    std::vector<vmm::GuestRamRange> m_ranges;
    std::vector<std::vector<std::byte>> m_storage;
};

} // namespace monarch::test

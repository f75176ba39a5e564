// SPDX-License-Identifier: Apache-2.0
// FakePhysicalMemory: guest-physical memory in a std::vector, plus helpers to build page
// tables in it, for unit tests of the page walker and KASLR discovery.
#pragma once

#include "dkom/access/guest_access.h"

#include <cstring>
#include <vector>

namespace monarch::dkom::test {

class FakePhysicalMemory final : public PhysicalMemory {
public:
    explicit FakePhysicalMemory(uint64_t size) : m_bytes(size) {}

    Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) override
    {
        if (gpa.raw() > m_bytes.size() || out.size() > m_bytes.size() - gpa.raw())
            return fail(Errc::OutOfRange, "outside fake RAM");
        std::memcpy(out.data(), m_bytes.data() + gpa.raw(), out.size());
        ++reads;
        return {};
    }
    Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) override
    {
        if (gpa.raw() > m_bytes.size() || data.size() > m_bytes.size() - gpa.raw())
            return fail(Errc::OutOfRange, "outside fake RAM");
        std::memcpy(m_bytes.data() + gpa.raw(), data.data(), data.size());
        return {};
    }

    void put64(uint64_t gpa, uint64_t value) { std::memcpy(m_bytes.data() + gpa, &value, 8); }
    void put_bytes(uint64_t gpa, std::string_view text) { std::memcpy(m_bytes.data() + gpa, text.data(), text.size()); }

    // Hands out zeroed 4 KiB tables from `next_table` upward.
    uint64_t new_table()
    {
        uint64_t const table = next_table;
        next_table += 0x1000;
        return table;
    }
    // Maps `gva` to `gpa` with a page of `page_size` bytes, creating tables as needed.
    void map(uint64_t root, int levels, uint64_t gva, uint64_t gpa, uint64_t page_size, uint64_t flags = 0x3)
    {
        uint64_t table = root;
        for (int level = levels; level >= 1; --level) {
            unsigned const shift = 12 + 9 * static_cast<unsigned>(level - 1);
            uint64_t const slot = table + ((gva >> shift) & 0x1ff) * 8;
            if ((uint64_t { 1 } << shift) == page_size) {
                put64(slot, gpa | flags | (level > 1 ? 0x80 : 0));
                return;
            }
            uint64_t entry = 0;
            std::memcpy(&entry, m_bytes.data() + slot, 8);
            if ((entry & 1) == 0) {
                entry = new_table() | 0x7;
                put64(slot, entry);
            }
            table = entry & 0x000f'ffff'ffff'f000;
        }
    }

    uint64_t next_table { 0x10'0000 };
    int reads { 0 };

private:
    std::vector<std::byte> m_bytes;
};

} // namespace monarch::dkom::test

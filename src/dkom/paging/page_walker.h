// SPDX-License-Identifier: Apache-2.0
// PageWalker: guest-virtual to guest-physical translation by walking the guest's own x86-64
// page tables (4- and 5-level, 4 KiB / 2 MiB / 1 GiB pages) in guest-physical memory.
#pragma once

#include "dkom/access/guest_access.h"

#include <cstdint>
#include <span>

namespace monarch::dkom {

enum class PagingLevels : uint8_t { Four = 4, Five = 5 };

// One address space: the page-table root from CR3 (PCID and flag bits are ignored) and the
// paging depth (CR4.LA57).
struct AddressSpace {
    GuestPhysAddr root;
    PagingLevels levels { PagingLevels::Four };

    static AddressSpace from_registers(Registers const& regs);
    static AddressSpace from_cr3(uint64_t cr3, PagingLevels levels);
};

struct Translation {
    GuestPhysAddr gpa;
    uint64_t page_size { 0 }; // 4 KiB, 2 MiB or 1 GiB
    bool writable { false };
    bool user { false };
};

// Whether a virtual address is canonical for the paging depth (SDM vol. 1, 3.3.7.1).
[[nodiscard]] bool is_canonical(GuestVirtAddr, PagingLevels);

class PageWalker {
public:
    explicit PageWalker(PhysicalMemory& memory) : m_memory(memory) {}

    // Errc::NotFound ("page not present") when an entry on the way is not present;
    // Errc::InvalidArgument for a non-canonical address; Errc::OutOfRange when a table
    // lies outside guest RAM; Errc::Corrupt for reserved bits set.
    [[nodiscard]] Result<Translation> translate(AddressSpace const&, GuestVirtAddr) const;

    // Reads a virtually contiguous range that may cross page boundaries.
    [[nodiscard]] Result<void> read_virtual(AddressSpace const&, GuestVirtAddr, std::span<std::byte> out) const;
    [[nodiscard]] Result<void> write_virtual(AddressSpace const&, GuestVirtAddr, std::span<std::byte const> data) const;

    template<typename T>
    [[nodiscard]] Result<T> read_virtual_obj(AddressSpace const& space, GuestVirtAddr gva) const
    {
        T value {};
        TRY_VOID(read_virtual(space, gva, std::as_writable_bytes(std::span(&value, 1))));
        return value;
    }

    [[nodiscard]] PhysicalMemory& memory() const { return m_memory; }

private:
    PhysicalMemory& m_memory;
};

} // namespace monarch::dkom

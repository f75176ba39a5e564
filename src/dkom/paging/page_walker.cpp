// SPDX-License-Identifier: Apache-2.0
// The walk follows the Intel SDM, vol. 3A, 4.5 (4-level and 5-level paging): each level
// indexes 9 bits of the address; bit 0 (P) must be set; bit 7 (PS) in a PDPTE maps a 1 GiB
// page and in a PDE a 2 MiB page; bits 51:12 hold the next table's or the page's address.
#include "dkom/paging/page_walker.h"

#include <algorithm>

namespace monarch::dkom {

namespace {

constexpr uint64_t present_bit = 1;
constexpr uint64_t writable_bit = 1 << 1;
constexpr uint64_t user_bit = 1 << 2;
constexpr uint64_t page_size_bit = 1 << 7;
constexpr uint64_t address_mask = 0x000f'ffff'ffff'f000;
constexpr uint64_t page_4k = 0x1000;

} // namespace

AddressSpace AddressSpace::from_cr3(uint64_t cr3, PagingLevels levels)
{
    return AddressSpace { GuestPhysAddr { cr3 & address_mask }, levels };
}

AddressSpace AddressSpace::from_registers(Registers const& regs)
{
    return from_cr3(regs.cr3, regs.la57() ? PagingLevels::Five : PagingLevels::Four);
}

bool is_canonical(GuestVirtAddr gva, PagingLevels levels)
{
    unsigned const bits = levels == PagingLevels::Five ? 57 : 48;
    auto const value = static_cast<int64_t>(gva.raw());
    auto const extended = static_cast<int64_t>(static_cast<uint64_t>(value) << (64 - bits)) >> (64 - bits);
    return extended == value;
}

Result<Translation> PageWalker::translate(AddressSpace const& space, GuestVirtAddr gva) const
{
    if (!is_canonical(gva, space.levels))
        return fail(Errc::InvalidArgument, "non-canonical virtual address");
    int level = static_cast<int>(space.levels);
    uint64_t table = space.root.raw();
    bool writable = true;
    bool user = true;
    while (level >= 1) {
        // Level 5 indexes bits 56:48, level 4 bits 47:39, ... level 1 bits 20:12.
        unsigned const shift = 12 + 9 * static_cast<unsigned>(level - 1);
        uint64_t const index = (gva.raw() >> shift) & 0x1ff;
        auto const entry = TRY(m_memory.read_physical_obj<uint64_t>(GuestPhysAddr { table + index * 8 }));
        if ((entry & present_bit) == 0)
            return fail(Errc::NotFound, "page not present");
        writable = writable && (entry & writable_bit) != 0;
        user = user && (entry & user_bit) != 0;
        bool const large = (level == 2 || level == 3) && (entry & page_size_bit) != 0;
        if (level == 1 || large) {
            uint64_t const size = uint64_t { 1 } << shift;
            uint64_t const base = entry & address_mask & ~(size - 1);
            // A large page's address must be aligned to its size: bits 12..shift-1 other than
            // PAT (bit 12) are reserved (SDM 4.5.4, table 4-17/4-18).
            if (large && ((entry & address_mask) & (size - 1) & ~page_4k) != 0)
                return fail(Errc::Corrupt, "reserved bits set in a large-page entry");
            return Translation { GuestPhysAddr { base + (gva.raw() & (size - 1)) }, size, writable, user };
        }
        table = entry & address_mask;
        --level;
    }
    return fail(Errc::Corrupt, "page walk ran past level 1");
}

Result<void> PageWalker::read_virtual(AddressSpace const& space, GuestVirtAddr gva, std::span<std::byte> out) const
{
    uint64_t done = 0;
    while (done < out.size()) {
        auto const address = checked_add(gva.raw(), done);
        if (!address)
            return fail(Errc::OutOfRange, "virtual range wraps");
        auto const hit = TRY(translate(space, GuestVirtAddr { *address }));
        uint64_t const in_page = hit.page_size - (*address & (hit.page_size - 1));
        uint64_t const chunk = std::min<uint64_t>(in_page, out.size() - done);
        TRY_VOID(m_memory.read_physical(hit.gpa, out.subspan(done, chunk)));
        done += chunk;
    }
    return {};
}

Result<void> PageWalker::write_virtual(AddressSpace const& space, GuestVirtAddr gva, std::span<std::byte const> data) const
{
    // Translate the whole range first so that a write either happens in full or not at all.
    uint64_t done = 0;
    while (done < data.size()) {
        auto const address = checked_add(gva.raw(), done);
        if (!address)
            return fail(Errc::OutOfRange, "virtual range wraps");
        auto const hit = TRY(translate(space, GuestVirtAddr { *address }));
        done += std::min<uint64_t>(hit.page_size - (*address & (hit.page_size - 1)), data.size() - done);
    }
    done = 0;
    while (done < data.size()) {
        uint64_t const address = gva.raw() + done;
        auto const hit = TRY(translate(space, GuestVirtAddr { address }));
        uint64_t const chunk = std::min<uint64_t>(hit.page_size - (address & (hit.page_size - 1)), data.size() - done);
        TRY_VOID(m_memory.write_physical(hit.gpa, data.subspan(done, chunk)));
        done += chunk;
    }
    return {};
}

} // namespace monarch::dkom

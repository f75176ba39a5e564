// SPDX-License-Identifier: Apache-2.0
// StrongInt: integers that must not be confused with each other (STYLE.md section 3).
#pragma once

#include <compare>
#include <cstdint>
#include <optional>

namespace monarch {

template<typename Tag, typename Rep>
class StrongInt {
public:
    using RepType = Rep;
    constexpr StrongInt() = default;
    constexpr explicit StrongInt(Rep value) : m_value(value) {}
    [[nodiscard]] constexpr Rep raw() const { return m_value; }
    constexpr auto operator<=>(StrongInt const&) const = default;

private:
    Rep m_value {};
};

using GuestPhysAddr = StrongInt<struct GuestPhysAddrTag, uint64_t>;
using GuestVirtAddr = StrongInt<struct GuestVirtAddrTag, uint64_t>; // introspection: a GVA is not a GPA
using IoPort = StrongInt<struct IoPortTag, uint16_t>;
using Gsi = StrongInt<struct GsiTag, uint32_t>;
using VcpuId = StrongInt<struct VcpuIdTag, uint32_t>;
using MemSlot = StrongInt<struct MemSlotTag, uint32_t>;

// GPA + offset is a GPA, unless it wraps.
template<typename Tag>
[[nodiscard]] constexpr std::optional<StrongInt<Tag, uint64_t>> checked_add(StrongInt<Tag, uint64_t> base, uint64_t offset)
{
    uint64_t sum = 0;
    if (__builtin_add_overflow(base.raw(), offset, &sum))
        return std::nullopt;
    return StrongInt<Tag, uint64_t>(sum);
}

[[nodiscard]] constexpr std::optional<uint64_t> checked_add(uint64_t a, uint64_t b)
{
    uint64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum))
        return std::nullopt;
    return sum;
}

} // namespace monarch

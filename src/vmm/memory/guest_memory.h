// SPDX-License-Identifier: Apache-2.0
// GuestMemory: how everything but kvm/ reaches guest RAM. Loaders, tables, device models and
// virtqueues take a GuestMemory&; the VMM provides the memfd-backed implementation and unit
// tests a vector-backed one. Every access is bounds-checked: nothing reads or writes outside
// guest RAM, whatever address the guest supplies.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

namespace monarch::vmm {

struct GuestRamRange {
    GuestPhysAddr base;
    uint64_t size { 0 };
    [[nodiscard]] uint64_t end() const { return base.raw() + size; } // exclusive
};

class GuestMemory {
public:
    virtual ~GuestMemory() = default;

    // The RAM ranges, sorted by address and non-overlapping (e820 is built from these).
    [[nodiscard]] virtual std::span<GuestRamRange const> ranges() const = 0;

    // Host view of [gpa, gpa + length) if it lies entirely inside one RAM range, else OutOfRange.
    [[nodiscard]] virtual Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) = 0;

    // Copies that may cross from one RAM range into an adjacent one are not supported on
    // purpose: guest structures never straddle the MMIO hole.
    [[nodiscard]] Result<void> read(GuestPhysAddr gpa, std::span<std::byte> out)
    {
        auto source = TRY(span(gpa, out.size()));
        if (!out.empty()) // memcpy's pointers must be valid even for a zero length
            std::memcpy(out.data(), source.data(), out.size());
        return {};
    }
    [[nodiscard]] Result<void> write(GuestPhysAddr gpa, std::span<std::byte const> in)
    {
        auto target = TRY(span(gpa, in.size()));
        if (!in.empty())
            std::memcpy(target.data(), in.data(), in.size());
        return {};
    }
    [[nodiscard]] Result<void> fill(GuestPhysAddr gpa, uint64_t length, std::byte value)
    {
        auto target = TRY(span(gpa, length));
        std::memset(target.data(), std::to_integer<int>(value), length);
        return {};
    }

    // Trivially copyable objects: guest structures (boot_params, descriptors, table headers).
    template<typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] Result<T> read_obj(GuestPhysAddr gpa)
    {
        T value;
        TRY_VOID(read(gpa, std::as_writable_bytes(std::span { &value, 1 })));
        return value;
    }
    template<typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] Result<void> write_obj(GuestPhysAddr gpa, T const& value)
    {
        return write(gpa, std::as_bytes(std::span { &value, 1 }));
    }

    // Total RAM in bytes.
    [[nodiscard]] uint64_t total_size() const
    {
        uint64_t total = 0;
        for (auto const& range : ranges())
            total += range.size;
        return total;
    }
};

// Helper for implementations: locate [gpa, gpa+length) in a sorted range list.
// Returns the index of the range and the offset inside it, or OutOfRange.
struct RangeHit {
    size_t index { 0 };
    uint64_t offset { 0 };
};
[[nodiscard]] inline Result<RangeHit> find_range(std::span<GuestRamRange const> ranges, GuestPhysAddr gpa, uint64_t length)
{
    for (size_t i = 0; i < ranges.size(); ++i) {
        auto const& range = ranges[i];
        if (gpa.raw() < range.base.raw() || gpa.raw() >= range.end())
            continue;
        uint64_t offset = gpa.raw() - range.base.raw();
        if (length > range.size - offset)
            return fail(Errc::OutOfRange, "guest memory: access crosses the end of RAM");
        return RangeHit { i, offset };
    }
    return fail(Errc::OutOfRange, "guest memory: address is not RAM");
}

} // namespace monarch::vmm

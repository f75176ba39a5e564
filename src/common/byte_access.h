// SPDX-License-Identifier: Apache-2.0
// Bounds-checked little-endian field access on byte spans: how loaders and parsers read headers
// out of untrusted files (kernel images, profiles) and fill guest structures field by field.
#pragma once

#include "common/verify.h"

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace monarch {

static_assert(std::endian::native == std::endian::little, "x86 boot structures are little-endian");

// True if [offset, offset + length) lies inside a buffer of `size` bytes, without overflow.
[[nodiscard]] constexpr bool fits(uint64_t size, uint64_t offset, uint64_t length)
{
    return offset <= size && length <= size - offset;
}

// The field at `offset`, or nullopt if it runs past the end of `bytes` (a truncated image).
template<typename T>
    requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::optional<T> load_le(std::span<std::byte const> bytes, uint64_t offset)
{
    if (!fits(bytes.size(), offset, sizeof(T)))
        return std::nullopt;
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

// Writes a field of a structure we own; the offsets are constants, so going out is our bug.
template<typename T>
    requires std::is_trivially_copyable_v<T>
void store_le(std::span<std::byte> bytes, uint64_t offset, T value)
{
    VERIFY(fits(bytes.size(), offset, sizeof(T)));
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

[[nodiscard]] constexpr uint64_t align_up(uint64_t value, uint64_t alignment)
{
    return (value + alignment - 1) & ~(alignment - 1);
}
[[nodiscard]] constexpr uint64_t align_down(uint64_t value, uint64_t alignment)
{
    return value & ~(alignment - 1);
}

} // namespace monarch

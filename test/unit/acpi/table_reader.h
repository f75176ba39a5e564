// SPDX-License-Identifier: Apache-2.0
// A small reader for the tests: little-endian fields out of guest memory and byte sums,
// written independently of the code under test.
#pragma once

#include "support/vec_guest_memory.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace monarch::test {

inline std::vector<uint8_t> read_bytes(vmm::GuestMemory& memory, uint64_t address, uint64_t length)
{
    std::vector<uint8_t> out(length);
    REQUIRE(memory.read(GuestPhysAddr { address }, std::as_writable_bytes(std::span { out })));
    return out;
}

inline uint64_t le(std::vector<uint8_t> const& bytes, size_t offset, size_t width)
{
    REQUIRE(offset + width <= bytes.size());
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i)
        value |= uint64_t(bytes[offset + i]) << (8 * i);
    return value;
}

inline std::string text(std::vector<uint8_t> const& bytes, size_t offset, size_t width)
{
    REQUIRE(offset + width <= bytes.size());
    return std::string(bytes.begin() + long(offset), bytes.begin() + long(offset + width));
}

inline uint8_t byte_sum(std::vector<uint8_t> const& bytes, size_t length)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < length; ++i)
        sum = uint8_t(sum + bytes.at(i));
    return sum;
}

} // namespace monarch::test

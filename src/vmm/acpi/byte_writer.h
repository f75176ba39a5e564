// SPDX-License-Identifier: Apache-2.0
// ByteWriter: little-endian serialisation of firmware tables into a byte vector, with the
// patch-after-the-fact helpers that lengths and checksums need.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::acpi {

class ByteWriter {
public:
    void u8(uint8_t value) { m_bytes.push_back(std::byte { value }); }
    void u16(uint16_t value) { little_endian(value, 2); }
    void u32(uint32_t value) { little_endian(value, 4); }
    void u64(uint64_t value) { little_endian(value, 8); }
    // Exactly `width` bytes of `text`, padded with `pad` (signatures, OEM IDs, bus names).
    void text(std::string_view text, size_t width, char pad = ' ');
    void bytes(std::span<std::byte const> data) { m_bytes.insert(m_bytes.end(), data.begin(), data.end()); }
    void zeros(size_t count) { m_bytes.resize(m_bytes.size() + count); }

    void patch_u8(size_t offset, uint8_t value) { m_bytes.at(offset) = std::byte { value }; }
    void patch_u16(size_t offset, uint16_t value);
    void patch_u32(size_t offset, uint32_t value);

    [[nodiscard]] size_t size() const { return m_bytes.size(); }
    [[nodiscard]] std::span<std::byte const> data() const { return m_bytes; }
    [[nodiscard]] std::vector<std::byte> take() { return std::move(m_bytes); }

private:
    void little_endian(uint64_t value, size_t width);
    std::vector<std::byte> m_bytes;
};

// The byte that makes `data` sum to zero modulo 256 (ACPI and MP spec checksums).
[[nodiscard]] uint8_t checksum_byte(std::span<std::byte const> data);

} // namespace monarch::vmm::acpi

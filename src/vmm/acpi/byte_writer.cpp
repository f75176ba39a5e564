// SPDX-License-Identifier: Apache-2.0
// ByteWriter and the table checksum.
#include "vmm/acpi/byte_writer.h"

namespace monarch::vmm::acpi {

void ByteWriter::little_endian(uint64_t value, size_t width)
{
    for (size_t i = 0; i < width; ++i)
        m_bytes.push_back(std::byte { static_cast<uint8_t>(value >> (8 * i)) });
}

void ByteWriter::text(std::string_view text, size_t width, char pad)
{
    for (size_t i = 0; i < width; ++i)
        u8(static_cast<uint8_t>(i < text.size() ? text[i] : pad));
}

void ByteWriter::patch_u16(size_t offset, uint16_t value)
{
    patch_u8(offset, static_cast<uint8_t>(value));
    patch_u8(offset + 1, static_cast<uint8_t>(value >> 8));
}

void ByteWriter::patch_u32(size_t offset, uint32_t value)
{
    patch_u16(offset, static_cast<uint16_t>(value));
    patch_u16(offset + 2, static_cast<uint16_t>(value >> 16));
}

uint8_t checksum_byte(std::span<std::byte const> data)
{
    uint8_t sum = 0;
    for (auto byte : data)
        sum = static_cast<uint8_t>(sum + std::to_integer<uint8_t>(byte));
    return static_cast<uint8_t>(0x100 - sum);
}

} // namespace monarch::vmm::acpi

// SPDX-License-Identifier: Apache-2.0
// Encoding and checking stream headers, record headers and unit additional data.
#include "crypt/stream_format.h"

#include <algorithm>
#include <cstring>
#include <sodium.h>

namespace monarch::crypt::format {
namespace {

void store_le16(std::span<std::byte> out, uint16_t value)
{
    out[0] = std::byte(value & 0xff);
    out[1] = std::byte(value >> 8);
}
void store_le32(std::span<std::byte> out, uint32_t value)
{
    for (size_t i = 0; i < 4; ++i)
        out[i] = std::byte((value >> (8 * i)) & 0xff);
}
uint16_t load_le16(std::span<std::byte const> in)
{
    return static_cast<uint16_t>(std::to_integer<unsigned>(in[0]) | std::to_integer<unsigned>(in[1]) << 8);
}
uint32_t load_le32(std::span<std::byte const> in)
{
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i)
        value |= std::to_integer<uint32_t>(in[i]) << (8 * i);
    return value;
}
bool all_zero(std::span<std::byte const> bytes)
{
    return std::all_of(bytes.begin(), bytes.end(), [](std::byte b) { return b == std::byte(0); });
}
template<size_t N>
void put(std::span<std::byte> out, size_t offset, std::array<std::byte, N> const& value)
{
    std::memcpy(out.data() + offset, value.data(), N);
}
template<size_t N>
void get(std::span<std::byte const> in, size_t offset, std::array<std::byte, N>& value)
{
    std::memcpy(value.data(), in.data() + offset, N);
}

} // namespace

void store_le64(std::span<std::byte> out, uint64_t value)
{
    for (size_t i = 0; i < 8; ++i)
        out[i] = std::byte((value >> (8 * i)) & 0xff);
}

uint64_t load_le64(std::span<std::byte const> in)
{
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i)
        value |= std::to_integer<uint64_t>(in[i]) << (8 * i);
    return value;
}

std::array<std::byte, header_size> encode_header(Header const& header)
{
    std::array<std::byte, header_size> bytes {};
    std::span<std::byte> out { bytes };
    std::memcpy(out.data(), magic.data(), magic.size());
    store_le16(out.subspan(12), version);
    out[14] = std::byte(static_cast<uint8_t>(header.cipher));
    out[15] = std::byte(static_cast<uint8_t>(header.wrap));
    // 16..23 reserved, zero
    put(out, 24, header.vm.bytes);
    store_le64(out.subspan(40), header.generation.raw());
    put(out, 48, header.stream.bytes);
    put(out, 64, header.wrapped.nonce);
    put(out, 88, header.wrapped.sealed);
    put(out, header_mac_offset, header.mac);
    return bytes;
}

Result<Header> decode_header(std::span<std::byte const, header_size> bytes)
{
    if (std::memcmp(bytes.data(), magic.data(), magic.size()) != 0)
        return fail(Errc::Corrupt, "sealed stream: bad magic (not a sealed stream)");
    if (load_le16(bytes.subspan(12)) != version)
        return fail(Errc::Corrupt, "sealed stream: unknown format version");
    auto cipher = static_cast<Cipher>(std::to_integer<uint8_t>(bytes[14]));
    if (cipher != Cipher::Aes256Gcm && cipher != Cipher::XChaCha20Poly1305)
        return fail(Errc::Corrupt, "sealed stream: unknown cipher id");
    auto wrap = static_cast<KeyWrap>(std::to_integer<uint8_t>(bytes[15]));
    if (wrap != KeyWrap::XChaCha20Poly1305)
        return fail(Errc::Corrupt, "sealed stream: unknown key-wrap id");
    if (!all_zero(bytes.subspan(16, 8)))
        return fail(Errc::Corrupt, "sealed stream: bad header (reserved bytes set)");
    Header header;
    header.cipher = cipher;
    header.wrap = wrap;
    get(bytes, 24, header.vm.bytes);
    header.generation = Generation(load_le64(bytes.subspan(40)));
    get(bytes, 48, header.stream.bytes);
    get(bytes, 64, header.wrapped.nonce);
    get(bytes, 88, header.wrapped.sealed);
    get(bytes, header_mac_offset, header.mac);
    return header;
}

std::array<std::byte, header_mac_size> header_mac(std::span<std::byte const, header_size> bytes,
    SecretBuffer const& mac_key)
{
    std::array<std::byte, header_mac_size> mac {};
    // SAFETY: std::byte and unsigned char views of the same bytes.
    crypto_generichash(reinterpret_cast<unsigned char*>(mac.data()), mac.size(),
        reinterpret_cast<unsigned char const*>(bytes.data()), header_mac_offset, mac_key.data(), mac_key.size());
    return mac;
}

std::array<std::byte, record_header_size> encode_record_header(RecordHeader const& record)
{
    std::array<std::byte, record_header_size> bytes {};
    std::span<std::byte> out { bytes };
    out[0] = std::byte(static_cast<uint8_t>(record.type));
    out[1] = std::byte(record.name_length);
    // 2..3 reserved, zero
    store_le32(out.subspan(4), record.unit_count);
    store_le64(out.subspan(8), record.record_index);
    store_le64(out.subspan(16), record.first_unit);
    store_le64(out.subspan(24), record.argument);
    return bytes;
}

Result<RecordHeader> decode_record_header(std::span<std::byte const, record_header_size> bytes)
{
    RecordHeader record;
    record.type = static_cast<RecordType>(std::to_integer<uint8_t>(bytes[0]));
    record.name_length = std::to_integer<uint8_t>(bytes[1]);
    record.unit_count = load_le32(bytes.subspan(4));
    record.record_index = load_le64(bytes.subspan(8));
    record.first_unit = load_le64(bytes.subspan(16));
    record.argument = load_le64(bytes.subspan(24));
    if (load_le16(bytes.subspan(2)) != 0)
        return fail(Errc::Corrupt, "sealed stream: bad record header (reserved bytes set)");
    switch (record.type) {
    case RecordType::MemoryPages: {
        bool aligned = record.argument % page_size == 0;
        bool fits = record.argument <= UINT64_MAX - uint64_t { record.unit_count } * page_size + 1;
        if (record.name_length != 0 || record.unit_count == 0 || record.unit_count > max_pages_per_record
            || !aligned || !fits)
            return fail(Errc::Corrupt, "sealed stream: bad memory record header");
        return record;
    }
    case RecordType::State:
        if (record.name_length == 0 || record.argument > max_state_size
            || record.unit_count != state_unit_count(record.argument))
            return fail(Errc::Corrupt, "sealed stream: bad state record header");
        return record;
    case RecordType::End:
        if (record.name_length != 0 || record.unit_count != 1 || record.argument != 0)
            return fail(Errc::Corrupt, "sealed stream: bad end record header");
        return record;
    }
    return fail(Errc::Corrupt, "sealed stream: unknown record type");
}

bool valid_state_name(std::string_view name)
{
    if (name.empty() || name.size() > max_name_length || name.front() == '.')
        return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_'
            || c == '-';
    });
}

uint32_t state_unit_count(uint64_t length)
{
    if (length == 0)
        return 1;
    return static_cast<uint32_t>((length + state_chunk_size - 1) / state_chunk_size);
}

uint64_t sealed_payload_size(RecordHeader const& record)
{
    switch (record.type) {
    case RecordType::MemoryPages: return uint64_t { record.unit_count } * (page_size + tag_size);
    case RecordType::State: return record.argument + uint64_t { record.unit_count } * tag_size;
    case RecordType::End: return end_payload_size + tag_size;
    }
    return 0;
}

UnitAd::UnitAd(Header const& header, std::span<std::byte const, record_header_size> record_header, std::string_view name)
{
    std::span<std::byte> out { m_bytes };
    put(out, 0, header.vm.bytes);
    store_le64(out.subspan(16), header.generation.raw());
    put(out, 24, header.stream.bytes);
    put(out, 40, header.mac);
    m_unit_offset = 72; // unit index, then unit GPA
    std::memcpy(out.data() + 88, record_header.data(), record_header_size);
    std::memcpy(out.data() + 88 + record_header_size, name.data(), std::min(name.size(), max_name_length));
    m_size = 88 + record_header_size + std::min(name.size(), max_name_length);
}

std::span<std::byte const> UnitAd::for_unit(uint64_t unit_index, uint64_t gpa)
{
    std::span<std::byte> out { m_bytes };
    store_le64(out.subspan(m_unit_offset), unit_index);
    store_le64(out.subspan(m_unit_offset + 8), gpa);
    return std::span<std::byte const>(m_bytes).first(m_size);
}

} // namespace monarch::crypt::format

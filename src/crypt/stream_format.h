// SPDX-License-Identifier: Apache-2.0
// The byte layout of a sealed stream (docs/vmcrypt.md, "Stream format"): the fixed header,
// record headers, the additional data of every sealed unit, and their limits. All integers
// are little-endian. Shared by StreamWriter and StreamReader so the two cannot disagree.
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "crypt/data_key.h"
#include "crypt/secret_buffer.h"
#include "crypt/types.h"
#include "crypt/unit_cipher.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace monarch::crypt::format {

inline constexpr std::string_view magic = "MONARCH-SEAL";
inline constexpr uint16_t version = 1;
inline constexpr size_t header_size = 168;
inline constexpr size_t header_mac_offset = 136;
inline constexpr size_t header_mac_size = 32;
inline constexpr size_t record_header_size = 32;
inline constexpr size_t page_size = 4096;
inline constexpr size_t state_chunk_size = 4096;
inline constexpr uint32_t max_pages_per_record = 256;    // 1 MiB of guest memory
inline constexpr uint64_t max_state_size = 64ull << 20;  // one state blob
inline constexpr size_t max_name_length = 255;
inline constexpr size_t end_payload_size = 24;
inline constexpr size_t max_ad_size = 16 + 8 + 16 + header_mac_size + 8 + 8 + record_header_size + max_name_length;

enum class RecordType : uint8_t {
    MemoryPages = 1,
    State = 2,
    End = 3,
};

struct Header {
    Cipher cipher { Cipher::XChaCha20Poly1305 };
    KeyWrap wrap { KeyWrap::XChaCha20Poly1305 };
    VmUuid vm;
    Generation generation;
    StreamId stream;
    WrappedKey wrapped;
    std::array<std::byte, header_mac_size> mac {};
};

// Encodes all fields; the MAC field is copied from `header.mac` as is.
[[nodiscard]] std::array<std::byte, header_size> encode_header(Header const& header);
// Checks magic, version, known ids and reserved bytes; does not check the MAC.
[[nodiscard]] Result<Header> decode_header(std::span<std::byte const, header_size> bytes);
// BLAKE2b-256 keyed with `mac_key` over the first header_mac_offset bytes.
[[nodiscard]] std::array<std::byte, header_mac_size> header_mac(std::span<std::byte const, header_size> bytes,
    SecretBuffer const& mac_key);

struct RecordHeader {
    RecordType type { RecordType::End };
    uint8_t name_length { 0 };  // State only
    uint32_t unit_count { 0 };  // pages, state chunks, or 1 for End
    uint64_t record_index { 0 };
    uint64_t first_unit { 0 };
    uint64_t argument { 0 };    // MemoryPages: GPA of the first page; State: blob length; End: 0
};

[[nodiscard]] std::array<std::byte, record_header_size> encode_record_header(RecordHeader const&);
// Checks the type, the reserved bytes and the per-type limits (docs/vmcrypt.md).
[[nodiscard]] Result<RecordHeader> decode_record_header(std::span<std::byte const, record_header_size> bytes);

// State names: 1..255 of [A-Za-z0-9._-], not starting with '.', so that they are safe as
// file names when extracted.
[[nodiscard]] bool valid_state_name(std::string_view name);

// The number of sealed units of a state blob of `length` bytes (at least one).
[[nodiscard]] uint32_t state_unit_count(uint64_t length);
// The size of the sealed units of a record, tags included.
[[nodiscard]] uint64_t sealed_payload_size(RecordHeader const&);

// Additional data of one unit: VM UUID || generation || stream id || header MAC ||
// unit index || unit GPA (0 unless a page) || record header || state name.
class UnitAd {
public:
    UnitAd(Header const& header, std::span<std::byte const, record_header_size> record_header, std::string_view name);
    [[nodiscard]] std::span<std::byte const> for_unit(uint64_t unit_index, uint64_t gpa);

private:
    std::array<std::byte, max_ad_size> m_bytes {};
    size_t m_size { 0 };
    size_t m_unit_offset { 0 };
};

void store_le64(std::span<std::byte> out, uint64_t value);
[[nodiscard]] uint64_t load_le64(std::span<std::byte const> in);

} // namespace monarch::crypt::format

// SPDX-License-Identifier: Apache-2.0
// The snapshot's state encoding: explicit little-endian fields, one at a time, never a struct
// copied whole (its padding would carry stale process memory into the stream). Every blob
// starts with a 4-character kind and a version; decoders refuse other kinds, unknown versions,
// short input and trailing bytes.
#pragma once

#include "common/result.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::vmm::snapshot {

class StateEncoder {
public:
    // Starts a blob of `kind` (exactly 4 ASCII characters) at `version`.
    StateEncoder(std::string_view kind, uint16_t version);

    void u8(uint8_t value) { m_bytes.push_back(std::byte { value }); }
    void u16(uint16_t value) { put(value, 2); }
    void u32(uint32_t value) { put(value, 4); }
    void u64(uint64_t value) { put(value, 8); }
    void boolean(bool value) { u8(value ? 1 : 0); }
    // A u32 length, then the bytes.
    void bytes(std::span<std::byte const> value);

    [[nodiscard]] std::vector<std::byte> const& result() const { return m_bytes; }
    [[nodiscard]] std::vector<std::byte> take() { return std::move(m_bytes); }

private:
    void put(uint64_t value, unsigned size);
    std::vector<std::byte> m_bytes;
};

class StateDecoder {
public:
    // Checks the kind and that the version is one of 1..max_version; Errc::Corrupt otherwise.
    [[nodiscard]] static Result<StateDecoder> open(std::span<std::byte const> blob, std::string_view kind, uint16_t max_version);

    [[nodiscard]] uint16_t version() const { return m_version; }
    [[nodiscard]] Result<uint8_t> u8();
    [[nodiscard]] Result<uint16_t> u16();
    [[nodiscard]] Result<uint32_t> u32();
    [[nodiscard]] Result<uint64_t> u64();
    [[nodiscard]] Result<bool> boolean(); // 0 or 1, anything else is Corrupt
    // A u32 length (at most max_length), then that many bytes.
    [[nodiscard]] Result<std::span<std::byte const>> bytes(size_t max_length);
    // Corrupt unless every byte was consumed.
    [[nodiscard]] Result<void> finish() const;

private:
    StateDecoder(std::span<std::byte const> rest, uint16_t version) : m_rest(rest), m_version(version) {}
    [[nodiscard]] Result<uint64_t> take(unsigned size);
    std::span<std::byte const> m_rest;
    uint16_t m_version { 0 };
};

} // namespace monarch::vmm::snapshot

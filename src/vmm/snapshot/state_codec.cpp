// SPDX-License-Identifier: Apache-2.0
// StateEncoder and StateDecoder.
#include "vmm/snapshot/state_codec.h"

#include "common/verify.h"

namespace monarch::vmm::snapshot {

namespace {
constexpr size_t HEADER_SIZE = 6; // kind (4) + version (2)
}

StateEncoder::StateEncoder(std::string_view kind, uint16_t version)
{
    VERIFY(kind.size() == 4);
    for (char c : kind)
        m_bytes.push_back(static_cast<std::byte>(c));
    u16(version);
}

void StateEncoder::put(uint64_t value, unsigned size)
{
    for (unsigned i = 0; i < size; ++i)
        m_bytes.push_back(static_cast<std::byte>((value >> (8 * i)) & 0xff));
}

void StateEncoder::bytes(std::span<std::byte const> value)
{
    VERIFY(value.size() <= UINT32_MAX);
    u32(static_cast<uint32_t>(value.size()));
    m_bytes.insert(m_bytes.end(), value.begin(), value.end());
}

Result<StateDecoder> StateDecoder::open(std::span<std::byte const> blob, std::string_view kind, uint16_t max_version)
{
    if (blob.size() < HEADER_SIZE)
        return fail(Errc::Corrupt, "snapshot state: truncated header");
    for (size_t i = 0; i < 4; ++i)
        if (blob[i] != static_cast<std::byte>(kind[i]))
            return fail(Errc::Corrupt, "snapshot state: not the expected kind of record");
    uint16_t const version = static_cast<uint16_t>(std::to_integer<uint16_t>(blob[4]) | (std::to_integer<uint16_t>(blob[5]) << 8));
    if (version == 0 || version > max_version)
        return fail(Errc::Corrupt, "snapshot state: unknown version");
    return StateDecoder(blob.subspan(HEADER_SIZE), version);
}

Result<uint64_t> StateDecoder::take(unsigned size)
{
    if (m_rest.size() < size)
        return fail(Errc::Corrupt, "snapshot state: truncated");
    uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i)
        value |= std::to_integer<uint64_t>(m_rest[i]) << (8 * i);
    m_rest = m_rest.subspan(size);
    return value;
}

Result<uint8_t> StateDecoder::u8() { return static_cast<uint8_t>(TRY(take(1))); }
Result<uint16_t> StateDecoder::u16() { return static_cast<uint16_t>(TRY(take(2))); }
Result<uint32_t> StateDecoder::u32() { return static_cast<uint32_t>(TRY(take(4))); }
Result<uint64_t> StateDecoder::u64() { return TRY(take(8)); }

Result<bool> StateDecoder::boolean()
{
    uint8_t const value = TRY(u8());
    if (value > 1)
        return fail(Errc::Corrupt, "snapshot state: bad boolean");
    return value == 1;
}

Result<std::span<std::byte const>> StateDecoder::bytes(size_t max_length)
{
    uint32_t const length = TRY(u32());
    if (length > max_length)
        return fail(Errc::Corrupt, "snapshot state: field too long");
    if (m_rest.size() < length)
        return fail(Errc::Corrupt, "snapshot state: truncated");
    auto value = m_rest.first(length);
    m_rest = m_rest.subspan(length);
    return value;
}

Result<void> StateDecoder::finish() const
{
    if (!m_rest.empty())
        return fail(Errc::Corrupt, "snapshot state: trailing bytes");
    return {};
}

} // namespace monarch::vmm::snapshot

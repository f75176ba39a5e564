// SPDX-License-Identifier: Apache-2.0
// Subkey derivation for one stream.
#include "crypt/stream_keys.h"

#include <cstring>
#include <sodium.h>

namespace monarch::crypt {
namespace {

// label (24 bytes, zero padded) || cipher id (1) || generation (8, LE) || stream id (16).
Result<SecretBuffer> derive(DataKey const& data, char const (&label)[24], Cipher cipher, Generation generation,
    StreamId const& stream)
{
    std::array<unsigned char, 24 + 1 + 8 + 16> input {};
    std::memcpy(input.data(), label, 24);
    input[24] = static_cast<unsigned char>(cipher);
    for (size_t i = 0; i < 8; ++i)
        input[25 + i] = static_cast<unsigned char>(generation.raw() >> (8 * i));
    std::memcpy(input.data() + 33, stream.bytes.data(), stream.bytes.size());
    auto key = TRY(SecretBuffer::create(32));
    crypto_generichash(key.data(), key.size(), input.data(), input.size(), data.secret().data(), data.secret().size());
    return key;
}

// Exactly 24 characters each; the terminator is not used.
constexpr char unit_label[24] = { 'M', 'O', 'N', 'A', 'R', 'C', 'H', '-', 'S', 'E', 'A', 'L', '/', '1', ' ',
    'u', 'n', 'i', 't', ' ', 'k', 'e', 'y', '\0' };
constexpr char mac_label[24] = { 'M', 'O', 'N', 'A', 'R', 'C', 'H', '-', 'S', 'E', 'A', 'L', '/', '1', ' ',
    'h', 'e', 'a', 'd', 'e', 'r', 'M', 'A', 'C' };

} // namespace

Result<StreamKeys> derive_stream_keys(DataKey const& data, Cipher cipher, Generation generation, StreamId const& stream)
{
    auto unit_key = TRY(derive(data, unit_label, cipher, generation, stream));
    auto mac_key = TRY(derive(data, mac_label, cipher, generation, stream));
    auto units = TRY(UnitCipher::create(cipher, std::move(unit_key)));
    return StreamKeys { std::move(units), std::move(mac_key) };
}

} // namespace monarch::crypt

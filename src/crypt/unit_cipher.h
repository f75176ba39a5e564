// SPDX-License-Identifier: Apache-2.0
// UnitCipher: one AEAD key sealing numbered units (a page, a chunk of state). The nonce is
// the unit's 64-bit index, so a key must seal each index at most once: the stream key
// schedule (stream_keys.h) gives every stream a key of its own to make that hold.
#pragma once

#include "common/result.h"
#include "crypt/secret_buffer.h"
#include "crypt/types.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace monarch::crypt {

inline constexpr size_t unit_key_size = 32;
inline constexpr size_t tag_size = 16; // both AEADs append a 16-byte tag

class UnitCipher {
public:
    // `key` is unit_key_size bytes. Errc::Unsupported when `cipher` is not available here.
    [[nodiscard]] static Result<UnitCipher> create(Cipher cipher, SecretBuffer key);

    [[nodiscard]] Cipher cipher() const { return m_cipher; }

    // Seals `plaintext` as unit `index` into `sealed` (plaintext.size() + tag_size bytes).
    // The caller guarantees that `index` is never sealed twice under this key.
    void seal(uint64_t index, std::span<std::byte const> ad, std::span<std::byte const> plaintext,
        std::span<std::byte> sealed) const;

    // Opens `sealed` (ciphertext and tag) into `plaintext` (sealed.size() - tag_size bytes).
    // Returns false when authentication fails; `plaintext` is then zeroed, never partial.
    [[nodiscard]] bool open(uint64_t index, std::span<std::byte const> ad, std::span<std::byte const> sealed,
        std::span<std::byte> plaintext) const;

private:
    UnitCipher(Cipher cipher, SecretBuffer key, SecretBuffer aes_state)
        : m_cipher(cipher), m_key(std::move(key)), m_aes_state(std::move(aes_state)) {}

    Cipher m_cipher;
    SecretBuffer m_key;
    SecretBuffer m_aes_state; // expanded AES key schedule (crypto_aead_aes256gcm_beforenm)
};

} // namespace monarch::crypt

// SPDX-License-Identifier: Apache-2.0
// The small value types of sealing: a VM's UUID, the snapshot generation, a stream's id,
// and the cipher choice (whose numeric values are part of the stream format).
#pragma once

#include "common/result.h"
#include "common/strong_int.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace monarch::crypt {

// RFC 4122 UUID, kept as its 16 bytes in network order.
struct VmUuid {
    std::array<std::byte, 16> bytes {};

    // "0b6f3c1e-2f4a-4d35-9a57-3c0f6b1d2e8f" (case-insensitive).
    [[nodiscard]] static Result<VmUuid> parse(std::string_view text);
    [[nodiscard]] std::string to_string() const;
    auto operator<=>(VmUuid const&) const = default;
};

// Increases with every snapshot of one VM; bound into every sealed unit so that a page of
// an older snapshot cannot be replayed into a newer one.
using Generation = StrongInt<struct GenerationTag, uint64_t>;

// 128 random bits chosen by each StreamWriter: they select the stream's subkeys.
struct StreamId {
    std::array<std::byte, 16> bytes {};
    [[nodiscard]] std::string to_string() const; // 32 hex digits
    auto operator<=>(StreamId const&) const = default;
};

// Values are stored in stream headers and bound into key wraps: never renumber.
enum class Cipher : uint8_t {
    Aes256Gcm = 1,         // needs AES-NI and PCLMUL (libsodium's only AES-GCM is hardware)
    XChaCha20Poly1305 = 2, // portable
};

enum class KeyWrap : uint8_t {
    XChaCha20Poly1305 = 1, // data key sealed by the owner key, random 24-byte nonce
};

[[nodiscard]] bool cipher_available(Cipher);
// AES-256-GCM where crypto_aead_aes256gcm_is_available(), else XChaCha20-Poly1305.
[[nodiscard]] Cipher preferred_cipher();
[[nodiscard]] std::string_view to_string(Cipher);
[[nodiscard]] std::string_view to_string(KeyWrap);

} // namespace monarch::crypt

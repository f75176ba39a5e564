// SPDX-License-Identifier: Apache-2.0
// UUID text form, stream-id text form and cipher availability.
#include "crypt/types.h"

#include "common/hex.h"

#include <sodium.h>
#include <span>

namespace monarch::crypt {
namespace {

std::string hex(std::span<std::byte const> bytes)
{
    static constexpr char digits[] = "0123456789abcdef";
    std::string text;
    text.reserve(bytes.size() * 2);
    for (auto byte : bytes) {
        text.push_back(digits[std::to_integer<unsigned>(byte) >> 4]);
        text.push_back(digits[std::to_integer<unsigned>(byte) & 0xf]);
    }
    return text;
}

} // namespace

Result<VmUuid> VmUuid::parse(std::string_view text)
{
    // 8-4-4-4-12 hex digits (RFC 4122 section 3).
    if (text.size() != 36)
        return fail(Errc::InvalidArgument, "uuid: expected 36 characters (8-4-4-4-12 hex digits)");
    VmUuid uuid;
    size_t out = 0;
    for (size_t i = 0; i < text.size();) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (text[i] != '-')
                return fail(Errc::InvalidArgument, "uuid: expected '-' at positions 8, 13, 18, 23");
            ++i;
            continue;
        }
        int high = hex_digit_value(text[i]);
        int low = hex_digit_value(text[i + 1]);
        if (high < 0 || low < 0)
            return fail(Errc::InvalidArgument, "uuid: not a hex digit");
        uuid.bytes[out++] = std::byte(high << 4 | low);
        i += 2;
    }
    return uuid;
}

std::string VmUuid::to_string() const
{
    auto digits = hex(bytes);
    return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" + digits.substr(12, 4) + "-"
        + digits.substr(16, 4) + "-" + digits.substr(20);
}

std::string StreamId::to_string() const { return hex(bytes); }

bool cipher_available(Cipher cipher)
{
    switch (cipher) {
    case Cipher::Aes256Gcm: return crypto_aead_aes256gcm_is_available() != 0;
    case Cipher::XChaCha20Poly1305: return true;
    }
    return false;
}

Cipher preferred_cipher()
{
    return cipher_available(Cipher::Aes256Gcm) ? Cipher::Aes256Gcm : Cipher::XChaCha20Poly1305;
}

std::string_view to_string(Cipher cipher)
{
    switch (cipher) {
    case Cipher::Aes256Gcm: return "AES-256-GCM";
    case Cipher::XChaCha20Poly1305: return "XChaCha20-Poly1305";
    }
    return "unknown cipher";
}

std::string_view to_string(KeyWrap wrap)
{
    switch (wrap) {
    case KeyWrap::XChaCha20Poly1305: return "XChaCha20-Poly1305 (owner key)";
    }
    return "unknown key wrap";
}

} // namespace monarch::crypt

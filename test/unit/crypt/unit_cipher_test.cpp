// SPDX-License-Identifier: Apache-2.0
// UnitCipher for both AEADs: round trip, and refusal of a wrong index, AD or tag.
#include "crypt/unit_cipher.h"
#include "crypt_test_support.h"
#include "support/skip.h"

#include <sodium.h>

using namespace monarch;
using namespace monarch::crypt;

namespace {

UnitCipher make_cipher(Cipher cipher)
{
    auto key = SecretBuffer::create(unit_key_size);
    REQUIRE(key.has_value());
    randombytes_buf(key->data(), key->size());
    auto unit = UnitCipher::create(cipher, std::move(*key));
    REQUIRE(unit.has_value());
    return std::move(*unit);
}

} // namespace

TEST_CASE("preferred cipher is AES-256-GCM exactly when libsodium has it", "[unit][crypt]")
{
    sealtest::init();
    bool aes = crypto_aead_aes256gcm_is_available() != 0;
    REQUIRE(cipher_available(Cipher::Aes256Gcm) == aes);
    REQUIRE(preferred_cipher() == (aes ? Cipher::Aes256Gcm : Cipher::XChaCha20Poly1305));
    REQUIRE(cipher_available(Cipher::XChaCha20Poly1305));
}

TEST_CASE("unit cipher seals and opens with both AEADs", "[unit][crypt]")
{
    sealtest::init();
    for (auto cipher : sealtest::ciphers_here()) {
        INFO(to_string(cipher));
        auto unit = make_cipher(cipher);
        auto plain = sealtest::pattern_bytes(4096, 7);
        auto ad = sealtest::pattern_bytes(40, 8);
        sealtest::Bytes sealed(plain.size() + tag_size);
        unit.seal(42, ad, plain, sealed);
        REQUIRE_FALSE(std::equal(plain.begin(), plain.end(), sealed.begin()));
        sealtest::Bytes opened(plain.size());
        REQUIRE(unit.open(42, ad, sealed, opened));
        REQUIRE(opened == plain);

        REQUIRE_FALSE(unit.open(43, ad, sealed, opened)); // wrong index
        REQUIRE(std::all_of(opened.begin(), opened.end(), [](std::byte b) { return b == std::byte(0); }));
        auto other_ad = ad;
        other_ad[3] ^= std::byte(1);
        REQUIRE_FALSE(unit.open(42, other_ad, sealed, opened));
        auto bad_tag = sealed;
        bad_tag.back() ^= std::byte(0x80);
        REQUIRE_FALSE(unit.open(42, ad, bad_tag, opened));
        // A failed open leaves no partial plaintext behind.
        REQUIRE(std::all_of(opened.begin(), opened.end(), [](std::byte b) { return b == std::byte(0); }));
    }
}

TEST_CASE("AES-256-GCM is refused where the CPU lacks it", "[unit][crypt]")
{
    sealtest::init();
    if (cipher_available(Cipher::Aes256Gcm))
        monarch::test::skip("this host has AES-NI: the refusal path cannot be exercised here");
    auto key = SecretBuffer::create(unit_key_size);
    REQUIRE(key.has_value());
    auto unit = UnitCipher::create(Cipher::Aes256Gcm, std::move(*key));
    REQUIRE_FALSE(unit.has_value());
    REQUIRE(unit.error().code == Errc::Unsupported);
}

// SPDX-License-Identifier: Apache-2.0
// The two AEADs behind UnitCipher, with the unit index as nonce.
#include "crypt/unit_cipher.h"

#include "common/verify.h"

#include <cstdint>
#include <sodium.h>

namespace monarch::crypt {
namespace {

static_assert(unit_key_size == crypto_aead_aes256gcm_KEYBYTES);
static_assert(unit_key_size == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
static_assert(tag_size == crypto_aead_aes256gcm_ABYTES);
static_assert(tag_size == crypto_aead_xchacha20poly1305_ietf_ABYTES);

// The nonce is the index, little-endian, zero-padded to the AEAD's nonce size (12 bytes
// for AES-256-GCM, 24 for XChaCha20-Poly1305). Distinct indices give distinct nonces, and
// the writer never reuses an index under one key: AES-GCM's 96-bit nonce never repeats.
struct Nonce {
    std::array<unsigned char, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> bytes {};
    explicit Nonce(uint64_t index)
    {
        for (size_t i = 0; i < 8; ++i)
            bytes[i] = static_cast<unsigned char>(index >> (8 * i));
    }
};
static_assert(crypto_aead_aes256gcm_NPUBBYTES <= crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);

// SAFETY: std::byte and unsigned char have the same size and may alias anything.
unsigned char* uchar(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
unsigned char const* uchar(std::byte const* p) { return reinterpret_cast<unsigned char const*>(p); }

} // namespace

Result<UnitCipher> UnitCipher::create(Cipher cipher, SecretBuffer key)
{
    if (key.size() != unit_key_size)
        return fail(Errc::InvalidArgument, "unit cipher: wrong key size");
    if (!cipher_available(cipher))
        return fail(Errc::Unsupported, "sealing: cipher not available on this host (AES-256-GCM needs AES-NI)");
    SecretBuffer state;
    if (cipher == Cipher::Aes256Gcm) {
        // The state is 512 bytes, so sodium_malloc's end-of-page placement keeps the
        // 16-byte alignment that crypto_aead_aes256gcm_state requires.
        state = TRY(SecretBuffer::create(sizeof(crypto_aead_aes256gcm_state)));
        VERIFY(reinterpret_cast<uintptr_t>(state.data()) % alignof(crypto_aead_aes256gcm_state) == 0);
        // SAFETY: the buffer is exactly one crypto_aead_aes256gcm_state, suitably aligned.
        crypto_aead_aes256gcm_beforenm(reinterpret_cast<crypto_aead_aes256gcm_state*>(state.data()), key.data());
    }
    return UnitCipher(cipher, std::move(key), std::move(state));
}

void UnitCipher::seal(uint64_t index, std::span<std::byte const> ad, std::span<std::byte const> plaintext,
    std::span<std::byte> sealed) const
{
    VERIFY(sealed.size() == plaintext.size() + tag_size);
    Nonce nonce { index };
    unsigned long long length = 0;
    if (m_cipher == Cipher::Aes256Gcm) {
        // SAFETY: m_aes_state holds the state set up by beforenm in create().
        auto const* state = reinterpret_cast<crypto_aead_aes256gcm_state const*>(m_aes_state.data());
        crypto_aead_aes256gcm_encrypt_afternm(uchar(sealed.data()), &length, uchar(plaintext.data()),
            plaintext.size(), uchar(ad.data()), ad.size(), nullptr, nonce.bytes.data(), state);
    } else {
        crypto_aead_xchacha20poly1305_ietf_encrypt(uchar(sealed.data()), &length, uchar(plaintext.data()),
            plaintext.size(), uchar(ad.data()), ad.size(), nullptr, nonce.bytes.data(), m_key.data());
    }
    VERIFY(length == sealed.size());
}

bool UnitCipher::open(uint64_t index, std::span<std::byte const> ad, std::span<std::byte const> sealed,
    std::span<std::byte> plaintext) const
{
    if (sealed.size() < tag_size || plaintext.size() != sealed.size() - tag_size)
        return false;
    Nonce nonce { index };
    unsigned long long length = 0;
    int status = 0;
    if (m_cipher == Cipher::Aes256Gcm) {
        // SAFETY: as in seal().
        auto const* state = reinterpret_cast<crypto_aead_aes256gcm_state const*>(m_aes_state.data());
        status = crypto_aead_aes256gcm_decrypt_afternm(uchar(plaintext.data()), &length, nullptr,
            uchar(sealed.data()), sealed.size(), uchar(ad.data()), ad.size(), nonce.bytes.data(), state);
    } else {
        status = crypto_aead_xchacha20poly1305_ietf_decrypt(uchar(plaintext.data()), &length, nullptr,
            uchar(sealed.data()), sealed.size(), uchar(ad.data()), ad.size(), nonce.bytes.data(), m_key.data());
    }
    if (status != 0 || length != plaintext.size()) {
        sodium_memzero(plaintext.data(), plaintext.size());
        return false;
    }
    return true;
}

} // namespace monarch::crypt

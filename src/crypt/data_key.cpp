// SPDX-License-Identifier: Apache-2.0
// Generating, wrapping and unwrapping data keys.
#include "crypt/data_key.h"

#include <cstring>
#include <sodium.h>

namespace monarch::crypt {
namespace {

static_assert(WrappedKey::nonce_size == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
static_assert(WrappedKey::sealed_size == data_key_size + crypto_aead_xchacha20poly1305_ietf_ABYTES);
static_assert(owner_key_size == crypto_aead_xchacha20poly1305_ietf_KEYBYTES);

constexpr char wrap_label[] = "MONARCH-WRAP"; // 12 bytes, without the terminator

// Additional data of the wrap: label, wrap id, cipher id, VM UUID (docs/vmcrypt.md).
std::array<unsigned char, 30> wrap_ad(VmUuid const& vm, Cipher cipher)
{
    std::array<unsigned char, 30> ad {};
    std::memcpy(ad.data(), wrap_label, 12);
    ad[12] = static_cast<unsigned char>(KeyWrap::XChaCha20Poly1305);
    ad[13] = static_cast<unsigned char>(cipher);
    std::memcpy(ad.data() + 14, vm.bytes.data(), vm.bytes.size());
    return ad;
}

// SAFETY: std::byte and unsigned char have the same size and may alias anything.
unsigned char* uchar(std::byte* p) { return reinterpret_cast<unsigned char*>(p); }
unsigned char const* uchar(std::byte const* p) { return reinterpret_cast<unsigned char const*>(p); }

} // namespace

Result<DataKey> DataKey::generate()
{
    auto key = TRY(SecretBuffer::create(data_key_size));
    randombytes_buf(key.data(), key.size());
    return DataKey(std::move(key));
}

Result<WrappedKey> wrap_data_key(OwnerKey const& owner, DataKey const& data, VmUuid const& vm, Cipher cipher)
{
    WrappedKey wrapped;
    // A random 192-bit nonce per wrap: XChaCha20's nonce is long enough that random
    // choice never repeats in practice (libsodium docs, "XChaCha20-Poly1305").
    randombytes_buf(wrapped.nonce.data(), wrapped.nonce.size());
    auto ad = wrap_ad(vm, cipher);
    unsigned long long sealed_length = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(uchar(wrapped.sealed.data()), &sealed_length,
        data.secret().data(), data.secret().size(), ad.data(), ad.size(), nullptr,
        uchar(wrapped.nonce.data()), owner.secret().data());
    if (sealed_length != wrapped.sealed.size())
        return fail(Errc::Corrupt, "key wrap: unexpected sealed length");
    return wrapped;
}

Result<DataKey> unwrap_data_key(OwnerKey const& owner, WrappedKey const& wrapped, VmUuid const& vm, Cipher cipher)
{
    auto key = TRY(SecretBuffer::create(data_key_size));
    auto ad = wrap_ad(vm, cipher);
    unsigned long long key_length = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(key.data(), &key_length, nullptr,
            uchar(wrapped.sealed.data()), wrapped.sealed.size(), ad.data(), ad.size(),
            uchar(wrapped.nonce.data()), owner.secret().data()) != 0
        || key_length != data_key_size)
        return fail(Errc::Corrupt, "wrong owner key or damaged key wrap");
    return DataKey(std::move(key));
}

Result<SealingKeys> SealingKeys::create(OwnerKey const& owner, VmUuid const& vm, Cipher cipher)
{
    if (!cipher_available(cipher))
        return fail(Errc::Unsupported, "sealing: cipher not available on this host (AES-256-GCM needs AES-NI)");
    auto data = TRY(DataKey::generate());
    auto wrapped = TRY(wrap_data_key(owner, data, vm, cipher));
    return SealingKeys { std::move(data), wrapped, vm, cipher };
}

} // namespace monarch::crypt

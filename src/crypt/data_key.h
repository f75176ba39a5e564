// SPDX-License-Identifier: Apache-2.0
// The per-VM data key: random, kept only in SecretBuffers, stored only wrapped by the
// owner key (XChaCha20-Poly1305, random nonce, the VM's UUID and the cipher as additional data).
#pragma once

#include "common/result.h"
#include "crypt/owner_key.h"
#include "crypt/secret_buffer.h"
#include "crypt/types.h"

#include <array>
#include <cstddef>

namespace monarch::crypt {

inline constexpr size_t data_key_size = 32;

struct WrappedKey;

class DataKey {
public:
    [[nodiscard]] static Result<DataKey> generate();
    [[nodiscard]] SecretBuffer const& secret() const { return m_key; }

private:
    friend Result<DataKey> unwrap_data_key(OwnerKey const&, WrappedKey const&, VmUuid const&, Cipher);
    explicit DataKey(SecretBuffer key) : m_key(std::move(key)) {}
    SecretBuffer m_key;
};

// Not secret: safe to store beside the sealed data (it is in every stream header).
struct WrappedKey {
    static constexpr size_t nonce_size = 24;  // crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
    static constexpr size_t sealed_size = 48; // the 32-byte key and a 16-byte tag
    std::array<std::byte, nonce_size> nonce {};
    std::array<std::byte, sealed_size> sealed {};
};

// The wrap is bound to `vm` and `cipher`: unwrapping with another UUID or cipher fails
// just as a wrong owner key does.
[[nodiscard]] Result<WrappedKey> wrap_data_key(OwnerKey const&, DataKey const&, VmUuid const& vm, Cipher cipher);
// Errc::Corrupt "wrong owner key or damaged key wrap" when authentication fails.
[[nodiscard]] Result<DataKey> unwrap_data_key(OwnerKey const&, WrappedKey const&, VmUuid const& vm, Cipher cipher);

// What a VMM holds while it can seal: the data key, its wrap, and what the wrap binds.
struct SealingKeys {
    DataKey data;
    WrappedKey wrapped;
    VmUuid vm;
    Cipher cipher;

    // A fresh data key for `vm`, wrapped by `owner`. Errc::Unsupported if `cipher` is not
    // available on this host.
    [[nodiscard]] static Result<SealingKeys> create(OwnerKey const& owner, VmUuid const& vm, Cipher cipher);
};

} // namespace monarch::crypt

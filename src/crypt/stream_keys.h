// SPDX-License-Identifier: Apache-2.0
// The key schedule of one sealed stream: from the VM's data key, the cipher, the snapshot
// generation and the writer's random stream id, a unit key and a header-MAC key.
#pragma once

#include "common/result.h"
#include "crypt/data_key.h"
#include "crypt/secret_buffer.h"
#include "crypt/types.h"
#include "crypt/unit_cipher.h"

namespace monarch::crypt {

inline constexpr size_t header_mac_key_size = 32;

struct StreamKeys {
    UnitCipher units;          // seals pages, state chunks and the end record
    SecretBuffer header_mac;   // keys the BLAKE2b MAC over the stream header
};

// Each subkey is keyed BLAKE2b-256 (crypto_generichash, a PRF) under the data key over
// label || cipher id || generation || stream id. crypto_kdf is the same construction but
// takes only a 64-bit subkey id, too small for generation plus a 128-bit stream id.
// Because the stream id is 128 random bits per writer, two streams share a unit key only
// if their ids collide (probability about n^2 / 2^129 for n streams), which is what lets
// the unit index alone serve as nonce (unit_cipher.h).
[[nodiscard]] Result<StreamKeys> derive_stream_keys(DataKey const&, Cipher, Generation, StreamId const&);

} // namespace monarch::crypt

// SPDX-License-Identifier: Apache-2.0
// The VM owner's key: 32 bytes that wrap every per-VM data key. It reaches the process
// only through a key file with strict permissions or an inherited file descriptor, never
// through an argument or the environment.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"
#include "crypt/secret_buffer.h"

#include <cstddef>
#include <string>

namespace monarch::crypt {

inline constexpr size_t owner_key_size = 32;

class OwnerKey {
public:
    // A key file holds the key as 32 raw bytes, or as 64 hex digits with an optional
    // trailing newline. It must be a regular file owned by the caller (effective uid) with
    // no group or other permission bits (chmod 600); anything else is refused.
    [[nodiscard]] static Result<OwnerKey> from_file(std::string const& path);
    // Reads exactly 32 raw bytes from an inherited descriptor (a pipe, a memfd, a file),
    // then closes it.
    [[nodiscard]] static Result<OwnerKey> from_fd(UniqueFd fd);
    // A fresh random key in memory (for tests and for generate_owner_key_file).
    [[nodiscard]] static Result<OwnerKey> generate();

    [[nodiscard]] SecretBuffer const& secret() const { return m_key; }

private:
    explicit OwnerKey(SecretBuffer key) : m_key(std::move(key)) {}
    SecretBuffer m_key;
};

// Creates `path` (O_CREAT|O_EXCL: never overwrites) with mode 0600 holding a fresh random
// key as 32 raw bytes.
[[nodiscard]] Result<void> generate_owner_key_file(std::string const& path);

} // namespace monarch::crypt

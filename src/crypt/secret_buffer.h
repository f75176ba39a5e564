// SPDX-License-Identifier: Apache-2.0
// SecretBuffer: the only place key material lives. Memory from sodium_malloc (guard pages,
// mlock'ed where the limit allows), wiped and freed on destruction; move-only, never formatted.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <span>

namespace monarch::crypt {

class SecretBuffer {
public:
    // A buffer of `size` bytes (size > 0), contents unspecified until written.
    [[nodiscard]] static Result<SecretBuffer> create(size_t size);

    SecretBuffer() = default;
    SecretBuffer(SecretBuffer&& other) noexcept;
    SecretBuffer& operator=(SecretBuffer&& other) noexcept;
    SecretBuffer(SecretBuffer const&) = delete;
    SecretBuffer& operator=(SecretBuffer const&) = delete;
    ~SecretBuffer();

    [[nodiscard]] size_t size() const { return m_size; }
    [[nodiscard]] bool empty() const { return m_size == 0; }
    [[nodiscard]] std::span<std::byte> bytes() { return { m_data, m_size }; }
    [[nodiscard]] std::span<std::byte const> bytes() const { return { m_data, m_size }; }
    [[nodiscard]] unsigned char* data() { return reinterpret_cast<unsigned char*>(m_data); }
    [[nodiscard]] unsigned char const* data() const { return reinterpret_cast<unsigned char const*>(m_data); }

    // Overwrites the contents with zeros (sodium_memzero, which the compiler cannot elide).
    // The destructor calls this before sodium_free.
    void wipe();

private:
    SecretBuffer(std::byte* data, size_t size) : m_data(data), m_size(size) {}
    void release();

    std::byte* m_data { nullptr };
    size_t m_size { 0 };
};

} // namespace monarch::crypt

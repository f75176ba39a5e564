// SPDX-License-Identifier: Apache-2.0
// SecretBuffer on libsodium's guarded heap.
#include "crypt/secret_buffer.h"

#include <sodium.h>
#include <utility>

namespace monarch::crypt {

Result<SecretBuffer> SecretBuffer::create(size_t size)
{
    if (size == 0)
        return fail(Errc::InvalidArgument, "secret buffer: zero size");
    // sodium_malloc puts the region between guard pages and tries to mlock it, so that
    // key material is never swapped out (libsodium docs, "Guarded heap allocations").
    void* memory = sodium_malloc(size);
    if (!memory)
        return fail_errno("sodium_malloc");
    return SecretBuffer(static_cast<std::byte*>(memory), size);
}

SecretBuffer::SecretBuffer(SecretBuffer&& other) noexcept
    : m_data(std::exchange(other.m_data, nullptr))
    , m_size(std::exchange(other.m_size, 0))
{
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& other) noexcept
{
    if (this != &other) {
        release();
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

SecretBuffer::~SecretBuffer() { release(); }

void SecretBuffer::wipe()
{
    if (m_data)
        sodium_memzero(m_data, m_size);
}

void SecretBuffer::release()
{
    if (!m_data)
        return;
    wipe();
    sodium_free(m_data);
    m_data = nullptr;
    m_size = 0;
}

} // namespace monarch::crypt

// SPDX-License-Identifier: Apache-2.0
#include "common/mapping.h"

#include <sys/mman.h>

namespace monarch {

Mapping& Mapping::operator=(Mapping&& other) noexcept
{
    if (this != &other) {
        reset();
        m_base = std::exchange(other.m_base, nullptr);
        m_length = std::exchange(other.m_length, 0);
    }
    return *this;
}

Result<Mapping> Mapping::map(int fd, size_t length, off_t offset, int protection, int flags)
{
    if (length == 0)
        return fail(Errc::InvalidArgument, "mmap: zero length");
    // SAFETY: a fresh mapping chosen by the kernel; it aliases nothing of ours.
    void* base = ::mmap(nullptr, length, protection, flags, fd, offset);
    if (base == MAP_FAILED)
        return fail_errno("mmap");
    return Mapping { base, length };
}

Result<Mapping> Mapping::map_shared(int fd, size_t length, off_t offset)
{
    return map(fd, length, offset, PROT_READ | PROT_WRITE, MAP_SHARED);
}

Result<Mapping> Mapping::map_shared_readonly(int fd, size_t length, off_t offset)
{
    return map(fd, length, offset, PROT_READ, MAP_SHARED);
}

Result<Mapping> Mapping::map_anonymous(size_t length)
{
    return map(-1, length, 0, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
}

void Mapping::reset()
{
    if (m_base)
        ::munmap(m_base, m_length);
    m_base = nullptr;
    m_length = 0;
}

} // namespace monarch

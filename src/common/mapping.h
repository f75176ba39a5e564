// SPDX-License-Identifier: Apache-2.0
// Mapping: owns one mmap()ed range and unmaps it on destruction.
#pragma once

#include "common/result.h"

#include <cstddef>
#include <span>
#include <utility>

namespace monarch {

class Mapping {
public:
    Mapping() = default;
    Mapping(Mapping&& other) noexcept
        : m_base(std::exchange(other.m_base, nullptr))
        , m_length(std::exchange(other.m_length, 0))
    {
    }
    Mapping& operator=(Mapping&& other) noexcept;
    Mapping(Mapping const&) = delete;
    Mapping& operator=(Mapping const&) = delete;
    ~Mapping() { reset(); }

    // MAP_SHARED of `length` bytes of `fd` from `offset`, read-write.
    static Result<Mapping> map_shared(int fd, size_t length, off_t offset = 0);
    // MAP_SHARED, read-only.
    static Result<Mapping> map_shared_readonly(int fd, size_t length, off_t offset = 0);
    // Anonymous private memory.
    static Result<Mapping> map_anonymous(size_t length);

    [[nodiscard]] std::span<std::byte> bytes() const { return { static_cast<std::byte*>(m_base), m_length }; }
    [[nodiscard]] void* data() const { return m_base; }
    [[nodiscard]] size_t size() const { return m_length; }
    [[nodiscard]] explicit operator bool() const { return m_base != nullptr; }
    void reset();

private:
    Mapping(void* base, size_t length) : m_base(base), m_length(length) {}
    static Result<Mapping> map(int fd, size_t length, off_t offset, int protection, int flags);

    void* m_base { nullptr };
    size_t m_length { 0 };
};

} // namespace monarch

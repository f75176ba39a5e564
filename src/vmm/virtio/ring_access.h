// SPDX-License-Identifier: Apache-2.0
// Ordered access to the 16-bit ring fields the driver and device share (avail->idx, used->idx,
// used_event, avail_event, flags). The driver runs on other CPUs at the same time, so these are
// single atomic loads/stores with acquire/release ordering (virtio 1.2 section 2.7.13 and
// 2.7.7: the device reads avail idx before the ring entries it covers, and writes used
// elements before the used idx that publishes them).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace monarch::vmm::virtio::ring {

// `field` is a 2-byte span from GuestMemory::span of a 2-aligned guest address.
[[nodiscard]] inline uint16_t load_acquire_u16(std::span<std::byte const> field)
{
    auto address = reinterpret_cast<std::uintptr_t>(field.data());
    if (field.size() >= sizeof(uint16_t) && address % alignof(uint16_t) == 0) {
        // SAFETY: the span covers two bytes of mapped guest RAM at a 2-aligned host address;
        // atomic_ref needs exactly that, and a concurrent guest write is what atomics are for.
        auto* word = reinterpret_cast<uint16_t*>(const_cast<std::byte*>(field.data()));
        return std::atomic_ref<uint16_t>(*word).load(std::memory_order_acquire);
    }
    uint16_t value = 0;
    std::memcpy(&value, field.data(), std::min(field.size(), sizeof value));
    std::atomic_thread_fence(std::memory_order_acquire);
    return value;
}

inline void store_release_u16(std::span<std::byte> field, uint16_t value)
{
    auto address = reinterpret_cast<std::uintptr_t>(field.data());
    if (field.size() >= sizeof(uint16_t) && address % alignof(uint16_t) == 0) {
        // SAFETY: as in load_acquire_u16.
        auto* word = reinterpret_cast<uint16_t*>(field.data());
        std::atomic_ref<uint16_t>(*word).store(value, std::memory_order_release);
        return;
    }
    std::atomic_thread_fence(std::memory_order_release);
    std::memcpy(field.data(), &value, std::min(field.size(), sizeof value));
}

} // namespace monarch::vmm::virtio::ring

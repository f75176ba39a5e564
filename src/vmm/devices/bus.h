// SPDX-License-Identifier: Apache-2.0
// Bus: maps address ranges (port I/O or MMIO) to BusDevice objects. One Bus per address space.
// Registration happens while setting up (under a mutex); dispatch runs concurrently on vCPU
// threads under a shared lock and calls the device after releasing it.
#pragma once

#include "common/result.h"
#include "vmm/devices/bus_device.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::vmm {

// One registered range, as listed by Bus::ranges().
struct BusRange {
    uint64_t base { 0 };
    uint64_t length { 0 };
    std::string name;
};

class Bus {
public:
    // Errc::InvalidArgument on a null device, zero length or base + length overflowing;
    // Errc::Busy when [base, base + length) overlaps a registered range (both names are logged).
    [[nodiscard]] Result<void> insert(uint64_t base, uint64_t length, std::shared_ptr<BusDevice> device, std::string_view name);
    // Errc::NotFound when no range starts at base.
    [[nodiscard]] Result<void> remove(uint64_t base);

    // Dispatch to the device whose range holds the whole access [address, address + size);
    // the device sees the offset from its base. false: nothing there (also for an access that
    // straddles the end of a range, or an empty one); the caller fills 0xff (PIO) or 0 (MMIO).
    bool read(uint64_t address, std::span<std::byte> data) const;
    bool write(uint64_t address, std::span<std::byte const> data) const;

    // A string instruction (rep ins/outs): data.size() / width accesses of `width` bytes to
    // the same address, resolved once rather than per element. false: nothing there.
    bool read_each(uint64_t address, std::span<std::byte> data, size_t width) const;
    bool write_each(uint64_t address, std::span<std::byte const> data, size_t width) const;

    [[nodiscard]] std::vector<BusRange> ranges() const;
    // Whether [base, base + length) overlaps a registered range: what insert() would refuse as
    // Busy, asked without copying the ranges and without insert()'s log line (PciRoot asks on
    // every BAR the guest moves). A zero length overlaps nothing.
    [[nodiscard]] bool overlaps(uint64_t base, uint64_t length) const;

private:
    struct Entry {
        uint64_t base;
        uint64_t length;
        std::shared_ptr<BusDevice> device;
        std::string name;
    };
    // The device holding [address, address + size) and the offset into it; null if none.
    [[nodiscard]] std::shared_ptr<BusDevice> find(uint64_t address, uint64_t size, uint64_t& offset) const;

    mutable std::shared_mutex m_mutex;
    std::vector<Entry> m_entries; // sorted by base, never overlapping
};

} // namespace monarch::vmm

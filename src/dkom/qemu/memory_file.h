// SPDX-License-Identifier: Apache-2.0
// QemuMemoryFile: guest RAM of a QEMU VM started with a shared memory-backend-file
// (-object memory-backend-file,id=mem,size=S,mem-path=FILE,share=on -machine memory-backend=mem),
// mapped here with MAP_SHARED, and the guest-physical layout of that RAM.
#pragma once

#include "common/mapping.h"
#include "dkom/access/guest_access.h"

#include <string>

namespace monarch::dkom {

class QemuMemoryFile final : public PhysicalMemory {
public:
    // Maps the whole file. On the x86 "pc" and "q35" machines, RAM up to the machine's
    // below-4G limit (q35: 2 GiB or 2.75 GiB per size; pc: 3.5 GiB) is mapped at GPA 0 and
    // up, with the file's offset equal to the GPA (hw/i386/pc_piix.c, pc_q35.c). Larger RAM
    // is split around the PCI hole; that layout is not supported yet (Errc::Unsupported).
    static Result<QemuMemoryFile> open(std::string const& path);

    Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) override;
    Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) override;
    [[nodiscard]] uint64_t ram_size() const { return m_mapping.size(); }

    static constexpr uint64_t max_single_range = 0xb000'0000; // 2.75 GiB, q35's smallest split point

private:
    explicit QemuMemoryFile(Mapping mapping) : m_mapping(std::move(mapping)) {}
    [[nodiscard]] Result<std::span<std::byte>> span(GuestPhysAddr gpa, uint64_t length) const;

    Mapping m_mapping;
};

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// The ELF64 kernel loader: validates an x86-64 ELF executable, copies its PT_LOAD segments to
// their physical addresses and finds the PVH entry point in its Xen ELF notes.
#pragma once

#include "common/result.h"
#include "vmm/boot/boot_loader.h"

#include <cstddef>
#include <span>
#include <vector>

namespace monarch::vmm::boot {

// Xen's public/elfnote.h: the note whose descriptor is the 32-bit PVH entry point.
inline constexpr uint32_t XEN_ELFNOTE_PHYS32_ENTRY = 18;

// One PT_LOAD segment, validated against the file (not yet against guest RAM).
struct ElfSegment {
    uint64_t file_offset { 0 };
    uint64_t file_size { 0 };
    GuestPhysAddr paddr;
    uint64_t memory_size { 0 };
};

struct ElfImage {
    std::vector<ElfSegment> segments;
    GuestPhysAddr pvh_entry;
    uint64_t end { 0 }; // first byte above every segment
};

// "\x7fELF" at the start of the file: the image claims to be ELF (it may still be refused).
[[nodiscard]] bool has_elf_magic(std::span<std::byte const> image);

// Validates the headers, the program header table, every PT_LOAD and PT_NOTE, and the PVH
// entry note. Touches no guest memory.
[[nodiscard]] Result<ElfImage> parse_elf(std::span<std::byte const> image);

// Checks every segment against guest RAM, then copies the file bytes and zeroes the rest of
// each segment (bss). Appends one "kernel" region per segment to `loaded`.
[[nodiscard]] Result<void> load_elf_segments(GuestMemory& memory, std::span<std::byte const> image,
    ElfImage const& elf, std::vector<LoadedRegion>& loaded);

} // namespace monarch::vmm::boot

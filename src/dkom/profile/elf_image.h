// SPDX-License-Identifier: Apache-2.0
// A bounds-checked view of an ELF64 little-endian x86-64 file (a vmlinux): its sections by
// name and the translation of a link-time virtual address to a file offset (PT_LOAD).
#pragma once

#include "common/result.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace monarch::dkom {

struct ElfSection {
    std::string_view name;
    uint64_t address { 0 };
    uint64_t offset { 0 };
    uint64_t size { 0 };
    uint32_t type { 0 };
};

struct ElfSegment {
    uint64_t offset { 0 };
    uint64_t address { 0 };
    uint64_t file_size { 0 };
};

class ElfImage {
public:
    [[nodiscard]] static bool has_elf_magic(std::span<std::byte const> bytes);
    // Checks the header, every section and program header against the file's size.
    [[nodiscard]] static Result<ElfImage> parse(std::span<std::byte const> bytes);

    [[nodiscard]] std::optional<ElfSection> section(std::string_view name) const;
    [[nodiscard]] std::span<std::byte const> section_bytes(ElfSection const&) const;
    // The file offset holding the byte at link-time address `address`, and how many bytes of
    // the same PT_LOAD segment follow it in the file.
    [[nodiscard]] std::optional<std::pair<uint64_t, uint64_t>> file_offset(uint64_t address) const;
    [[nodiscard]] std::span<std::byte const> bytes() const { return m_bytes; }

private:
    std::span<std::byte const> m_bytes;
    std::vector<ElfSection> m_sections;
    std::vector<ElfSegment> m_segments;
};

} // namespace monarch::dkom

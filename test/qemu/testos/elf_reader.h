// SPDX-License-Identifier: Apache-2.0
// A minimal ELF64 reader for the tests of testos.elf: program headers, notes, and symbols from
// .symtab. Bounds-checked; returns nothing for anything malformed.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace monarch::test {

struct ElfSegment {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, file_size, memory_size;
};

struct ElfNote {
    std::string name;
    uint32_t type;
    std::vector<uint8_t> desc;
};

struct ElfSymbol {
    uint64_t value, size;
};

class ElfImage {
public:
    static std::optional<ElfImage> load(std::string const& path);

    [[nodiscard]] uint16_t machine() const { return m_machine; }
    [[nodiscard]] uint16_t type() const { return m_type; }
    [[nodiscard]] std::vector<ElfSegment> const& segments() const { return m_segments; }
    [[nodiscard]] std::vector<ElfNote> notes() const;
    [[nodiscard]] std::optional<ElfSymbol> symbol(std::string const& name) const;
    // The file bytes that a loader puts at [vaddr, vaddr + length), if all come from the file.
    [[nodiscard]] std::optional<std::span<uint8_t const>> bytes_at(uint64_t vaddr, uint64_t length) const;

private:
    std::vector<uint8_t> m_file;
    uint16_t m_machine { 0 }, m_type { 0 };
    std::vector<ElfSegment> m_segments;
    uint64_t m_symtab_offset { 0 }, m_symtab_size { 0 }, m_strtab_offset { 0 }, m_strtab_size { 0 };
};

} // namespace monarch::test

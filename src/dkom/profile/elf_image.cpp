// SPDX-License-Identifier: Apache-2.0
// ELF64 header, section header and program header parsing (System V gABI, "ELF-64 Object
// File Format"), each table checked to lie inside the file before it is read.
#include "dkom/profile/elf_image.h"

#include "common/byte_access.h"

#include <cstring>
#include <elf.h>

namespace monarch::dkom {

namespace {

bool table_fits(std::span<std::byte const> bytes, uint64_t offset, uint64_t count, uint64_t entry_size)
{
    uint64_t total = 0;
    if (__builtin_mul_overflow(count, entry_size, &total))
        return false;
    return offset <= bytes.size() && total <= bytes.size() - offset;
}

} // namespace

bool ElfImage::has_elf_magic(std::span<std::byte const> bytes)
{
    return bytes.size() >= SELFMAG && std::memcmp(bytes.data(), ELFMAG, SELFMAG) == 0;
}

Result<ElfImage> ElfImage::parse(std::span<std::byte const> bytes)
{
    auto header = load_le<Elf64_Ehdr>(bytes, 0);
    if (!header || !has_elf_magic(bytes))
        return fail(Errc::BadImage, "ELF: no ELF header");
    if (header->e_ident[EI_CLASS] != ELFCLASS64 || header->e_ident[EI_DATA] != ELFDATA2LSB || header->e_machine != EM_X86_64)
        return fail(Errc::Unsupported, "ELF: not a 64-bit little-endian x86-64 file");
    if (header->e_shentsize != sizeof(Elf64_Shdr) || !table_fits(bytes, header->e_shoff, header->e_shnum, sizeof(Elf64_Shdr)))
        return fail(Errc::BadImage, "ELF: section headers outside the file");
    if (header->e_phnum != 0
        && (header->e_phentsize != sizeof(Elf64_Phdr) || !table_fits(bytes, header->e_phoff, header->e_phnum, sizeof(Elf64_Phdr))))
        return fail(Errc::BadImage, "ELF: program headers outside the file");
    ElfImage image;
    image.m_bytes = bytes;
    for (uint16_t i = 0; i < header->e_phnum; ++i) {
        auto phdr = *load_le<Elf64_Phdr>(bytes, header->e_phoff + uint64_t { i } * sizeof(Elf64_Phdr));
        if (phdr.p_type != PT_LOAD)
            continue;
        if (!table_fits(bytes, phdr.p_offset, phdr.p_filesz, 1))
            return fail(Errc::BadImage, "ELF: a PT_LOAD segment lies outside the file");
        image.m_segments.push_back({ phdr.p_offset, phdr.p_vaddr, phdr.p_filesz });
    }
    if (header->e_shnum == 0)
        return image;
    if (header->e_shstrndx >= header->e_shnum)
        return fail(Errc::BadImage, "ELF: section name table index out of range");
    auto strtab = *load_le<Elf64_Shdr>(bytes, header->e_shoff + uint64_t { header->e_shstrndx } * sizeof(Elf64_Shdr));
    if (!table_fits(bytes, strtab.sh_offset, strtab.sh_size, 1))
        return fail(Errc::BadImage, "ELF: section name table outside the file");
    // SAFETY: viewing in-bounds bytes of the name table as characters.
    std::string_view names { reinterpret_cast<char const*>(bytes.data() + strtab.sh_offset), strtab.sh_size };
    for (uint16_t i = 0; i < header->e_shnum; ++i) {
        auto shdr = *load_le<Elf64_Shdr>(bytes, header->e_shoff + uint64_t { i } * sizeof(Elf64_Shdr));
        if (shdr.sh_name >= names.size())
            return fail(Errc::BadImage, "ELF: section name outside the name table");
        auto name = names.substr(shdr.sh_name);
        name = name.substr(0, name.find('\0'));
        if (shdr.sh_type != SHT_NOBITS && !table_fits(bytes, shdr.sh_offset, shdr.sh_size, 1))
            return fail(Errc::BadImage, "ELF: a section lies outside the file");
        image.m_sections.push_back({ name, shdr.sh_addr, shdr.sh_offset, shdr.sh_size, shdr.sh_type });
    }
    return image;
}

std::optional<ElfSection> ElfImage::section(std::string_view name) const
{
    for (auto const& section : m_sections) {
        if (section.name == name)
            return section;
    }
    return std::nullopt;
}

std::span<std::byte const> ElfImage::section_bytes(ElfSection const& section) const
{
    if (section.type == SHT_NOBITS)
        return {};
    return m_bytes.subspan(section.offset, section.size); // checked in parse()
}

std::optional<std::pair<uint64_t, uint64_t>> ElfImage::file_offset(uint64_t address) const
{
    for (auto const& segment : m_segments) {
        if (address >= segment.address && address - segment.address < segment.file_size) {
            uint64_t delta = address - segment.address;
            return std::pair { segment.offset + delta, segment.file_size - delta };
        }
    }
    return std::nullopt;
}

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// ELF64 little-endian parsing for the testos image tests (System V gABI, "ELF header",
// "Program header", "Note section", "Symbol table").
#include "elf_reader.h"

#include <cstring>
#include <fstream>
#include <iterator>

namespace monarch::test {
namespace {

template<typename T>
std::optional<T> read_at(std::vector<uint8_t> const& file, uint64_t offset)
{
    if (offset > file.size() || sizeof(T) > file.size() - offset)
        return std::nullopt;
    T value;
    std::memcpy(&value, file.data() + offset, sizeof(T));
    return value;
}

constexpr uint32_t PT_NOTE = 4;
constexpr uint32_t SHT_SYMTAB = 2;

} // namespace

std::optional<ElfImage> ElfImage::load(std::string const& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return std::nullopt;
    ElfImage image;
    image.m_file.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    auto const& f = image.m_file;
    if (f.size() < 64 || std::memcmp(f.data(), "\x7f" "ELF", 4) != 0 || f[4] != 2 || f[5] != 1)
        return std::nullopt; // not ELF64 little endian
    image.m_type = *read_at<uint16_t>(f, 16);
    image.m_machine = *read_at<uint16_t>(f, 18);
    uint64_t phoff = *read_at<uint64_t>(f, 32), shoff = *read_at<uint64_t>(f, 40);
    uint16_t phentsize = *read_at<uint16_t>(f, 54), phnum = *read_at<uint16_t>(f, 56);
    uint16_t shentsize = *read_at<uint16_t>(f, 58), shnum = *read_at<uint16_t>(f, 60);
    for (uint16_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + uint64_t { i } * phentsize;
        auto type = read_at<uint32_t>(f, at), flags = read_at<uint32_t>(f, at + 4);
        auto offset = read_at<uint64_t>(f, at + 8), vaddr = read_at<uint64_t>(f, at + 16), paddr = read_at<uint64_t>(f, at + 24);
        auto filesz = read_at<uint64_t>(f, at + 32), memsz = read_at<uint64_t>(f, at + 40);
        if (!type || !flags || !offset || !vaddr || !paddr || !filesz || !memsz)
            return std::nullopt;
        image.m_segments.push_back({ *type, *flags, *offset, *vaddr, *paddr, *filesz, *memsz });
    }
    for (uint16_t i = 0; i < shnum; i++) {
        uint64_t at = shoff + uint64_t { i } * shentsize;
        auto type = read_at<uint32_t>(f, at + 4), link = read_at<uint32_t>(f, at + 40);
        auto offset = read_at<uint64_t>(f, at + 24), size = read_at<uint64_t>(f, at + 32);
        if (!type || !link || !offset || !size || *type != SHT_SYMTAB)
            continue;
        uint64_t link_at = shoff + uint64_t { *link } * shentsize;
        auto str_offset = read_at<uint64_t>(f, link_at + 24), str_size = read_at<uint64_t>(f, link_at + 32);
        if (!str_offset || !str_size)
            return std::nullopt;
        image.m_symtab_offset = *offset;
        image.m_symtab_size = *size;
        image.m_strtab_offset = *str_offset;
        image.m_strtab_size = *str_size;
    }
    return image;
}

std::vector<ElfNote> ElfImage::notes() const
{
    std::vector<ElfNote> notes;
    for (auto const& s : m_segments) {
        if (s.type != PT_NOTE)
            continue;
        for (uint64_t at = s.offset; at + 12 <= s.offset + s.file_size;) {
            auto namesz = read_at<uint32_t>(m_file, at), descsz = read_at<uint32_t>(m_file, at + 4);
            auto type = read_at<uint32_t>(m_file, at + 8);
            uint64_t name_at = at + 12, desc_at = name_at + ((uint64_t { *namesz } + 3) & ~3ull);
            uint64_t end = desc_at + ((uint64_t { *descsz } + 3) & ~3ull);
            if (!namesz || !descsz || end > m_file.size() || end > s.offset + s.file_size)
                break;
            std::string name(reinterpret_cast<char const*>(m_file.data() + name_at), *namesz);
            name = name.substr(0, name.find('\0'));
            notes.push_back({ name, *type, std::vector<uint8_t>(m_file.begin() + desc_at, m_file.begin() + desc_at + *descsz) });
            at = end;
        }
    }
    return notes;
}

std::optional<ElfSymbol> ElfImage::symbol(std::string const& name) const
{
    for (uint64_t at = m_symtab_offset; at + 24 <= m_symtab_offset + m_symtab_size; at += 24) {
        auto name_index = read_at<uint32_t>(m_file, at);
        auto value = read_at<uint64_t>(m_file, at + 8), size = read_at<uint64_t>(m_file, at + 16);
        if (!name_index || !value || !size || *name_index >= m_strtab_size)
            return std::nullopt;
        uint64_t str = m_strtab_offset + *name_index;
        if (str + name.size() + 1 <= m_file.size() && std::memcmp(m_file.data() + str, name.c_str(), name.size() + 1) == 0)
            return ElfSymbol { *value, *size };
    }
    return std::nullopt;
}

std::optional<std::span<uint8_t const>> ElfImage::bytes_at(uint64_t vaddr, uint64_t length) const
{
    for (auto const& s : m_segments) {
        if (s.type != 1 || vaddr < s.vaddr || vaddr - s.vaddr > s.file_size || length > s.file_size - (vaddr - s.vaddr))
            continue;
        uint64_t offset = s.offset + (vaddr - s.vaddr);
        if (offset + length > m_file.size())
            return std::nullopt;
        return std::span<uint8_t const>(m_file.data() + offset, length);
    }
    return std::nullopt;
}

} // namespace monarch::test

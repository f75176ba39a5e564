// SPDX-License-Identifier: Apache-2.0
// ELF64 parsing and loading for PVH kernels (System V gABI "ELF Header", "Program Header",
// "Note Section"; Xen public/elfnote.h). Every offset and size comes from an untrusted file and
// is bounds-checked before use; a malformed image is refused with BadImage, never read past.
#include "vmm/boot/elf_loader.h"

#include "common/byte_access.h"
#include "vmm/memory/layout.h"

#include <algorithm>
#include <cstring>
#include <optional>

namespace monarch::vmm::boot {

namespace {

// gABI e_ident and ELF64 header offsets.
constexpr uint64_t EI_CLASS = 4;
constexpr uint64_t EI_DATA = 5;
constexpr uint64_t EI_VERSION = 6;
constexpr uint8_t ELFCLASS64 = 2;
constexpr uint8_t ELFDATA2LSB = 1;
constexpr uint8_t EV_CURRENT = 1;
constexpr uint16_t ET_EXEC = 2;
constexpr uint16_t EM_X86_64 = 62;
constexpr uint64_t ELF64_HEADER_SIZE = 64;
constexpr uint64_t E_TYPE = 16, E_MACHINE = 18, E_VERSION = 20, E_PHOFF = 32, E_PHENTSIZE = 54, E_PHNUM = 56;

// ELF64 program header.
constexpr uint64_t ELF64_PHDR_SIZE = 56;
constexpr uint64_t P_TYPE = 0, P_OFFSET = 8, P_PADDR = 24, P_FILESZ = 32, P_MEMSZ = 40, P_ALIGN = 48;
constexpr uint32_t PT_LOAD = 1;
constexpr uint32_t PT_NOTE = 4;

// A note: namesz, descsz, type (4 bytes each), then name and descriptor, each padded.
constexpr uint64_t NOTE_HEADER_SIZE = 12;

struct ProgramHeader {
    uint32_t type;
    uint64_t offset;
    uint64_t paddr;
    uint64_t file_size;
    uint64_t memory_size;
    uint64_t align;
};

Result<void> check_ident(std::span<std::byte const> image)
{
    if (image.size() < ELF64_HEADER_SIZE)
        return fail(Errc::BadImage, "ELF: file shorter than the ELF64 header");
    auto byte_at = [&](uint64_t offset) { return std::to_integer<uint8_t>(image[offset]); };
    if (byte_at(EI_CLASS) != ELFCLASS64)
        return fail(Errc::BadImage, "ELF: not a 64-bit ELF (EI_CLASS)");
    if (byte_at(EI_DATA) != ELFDATA2LSB)
        return fail(Errc::BadImage, "ELF: not little-endian (EI_DATA)");
    if (byte_at(EI_VERSION) != EV_CURRENT || load_le<uint32_t>(image, E_VERSION) != EV_CURRENT)
        return fail(Errc::BadImage, "ELF: unknown ELF version");
    if (load_le<uint16_t>(image, E_MACHINE) != EM_X86_64)
        return fail(Errc::BadImage, "ELF: not an x86-64 image (e_machine)");
    if (load_le<uint16_t>(image, E_TYPE) != ET_EXEC)
        return fail(Errc::BadImage, "ELF: not an executable (e_type is not ET_EXEC)");
    return {};
}

// The program header table, each entry inside the file.
Result<std::vector<ProgramHeader>> read_program_headers(std::span<std::byte const> image)
{
    uint64_t table = *load_le<uint64_t>(image, E_PHOFF);
    uint16_t entry_size = *load_le<uint16_t>(image, E_PHENTSIZE);
    uint16_t count = *load_le<uint16_t>(image, E_PHNUM);
    if (count == 0)
        return fail(Errc::BadImage, "ELF: no program headers");
    if (entry_size != ELF64_PHDR_SIZE)
        return fail(Errc::BadImage, "ELF: unexpected program header size (e_phentsize)");
    if (!fits(image.size(), table, uint64_t { count } * ELF64_PHDR_SIZE))
        return fail(Errc::BadImage, "ELF: program header table outside the file");
    std::vector<ProgramHeader> headers;
    headers.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        auto entry = image.subspan(table + i * ELF64_PHDR_SIZE, ELF64_PHDR_SIZE);
        headers.push_back({ *load_le<uint32_t>(entry, P_TYPE), *load_le<uint64_t>(entry, P_OFFSET),
            *load_le<uint64_t>(entry, P_PADDR), *load_le<uint64_t>(entry, P_FILESZ),
            *load_le<uint64_t>(entry, P_MEMSZ), *load_le<uint64_t>(entry, P_ALIGN) });
    }
    return headers;
}

Result<ElfSegment> check_load_segment(std::span<std::byte const> image, ProgramHeader const& header)
{
    if (!fits(image.size(), header.offset, header.file_size))
        return fail(Errc::BadImage, "ELF: segment extends beyond the end of the file");
    if (header.file_size > header.memory_size)
        return fail(Errc::BadImage, "ELF: segment file size exceeds its memory size");
    if (!checked_add(header.paddr, header.memory_size))
        return fail(Errc::BadImage, "ELF: segment address overflows");
    // Below 1 MiB live the boot structures, page tables and firmware tables the VMM writes.
    if (header.paddr < layout::HIGH_RAM_START)
        return fail(Errc::BadImage, "ELF: segment below 1 MiB overlaps the boot structures");
    return ElfSegment { header.offset, header.file_size, GuestPhysAddr { header.paddr }, header.memory_size };
}

// Walks the notes of one PT_NOTE segment; returns the PVH entry if this segment has it.
Result<std::optional<uint64_t>> find_pvh_note(std::span<std::byte const> image, ProgramHeader const& header)
{
    if (!fits(image.size(), header.offset, header.file_size))
        return fail(Errc::BadImage, "ELF: note segment extends beyond the end of the file");
    auto notes = image.subspan(header.offset, header.file_size);
    // Notes are 4-byte aligned (what Linux and Xen emit); a segment aligned to 8 uses 8 (gABI).
    uint64_t alignment = header.align == 8 ? 8 : 4;
    uint64_t position = 0;
    while (position < notes.size()) {
        if (!fits(notes.size(), position, NOTE_HEADER_SIZE))
            return fail(Errc::BadImage, "ELF: truncated note header");
        uint64_t name_size = *load_le<uint32_t>(notes, position);
        uint64_t desc_size = *load_le<uint32_t>(notes, position + 4);
        uint32_t type = *load_le<uint32_t>(notes, position + 8);
        uint64_t name_offset = position + NOTE_HEADER_SIZE;
        uint64_t desc_offset = name_offset + align_up(name_size, alignment); // < 2^34: no overflow
        if (!fits(notes.size(), name_offset, name_size) || !fits(notes.size(), desc_offset, desc_size))
            return fail(Errc::BadImage, "ELF: note sizes run past the note segment");
        bool is_xen = name_size == 4 && std::memcmp(notes.data() + name_offset, "Xen", 4) == 0;
        if (is_xen && type == XEN_ELFNOTE_PHYS32_ENTRY) {
            if (desc_size == 4)
                return std::optional<uint64_t> { *load_le<uint32_t>(notes, desc_offset) };
            if (desc_size == 8)
                return std::optional<uint64_t> { *load_le<uint64_t>(notes, desc_offset) };
            return fail(Errc::BadImage, "ELF: PVH entry note descriptor is neither 4 nor 8 bytes");
        }
        position = desc_offset + align_up(desc_size, alignment);
    }
    return std::optional<uint64_t> {};
}

} // namespace

bool has_elf_magic(std::span<std::byte const> image)
{
    return image.size() >= 4 && std::memcmp(image.data(), "\x7f" "ELF", 4) == 0;
}

Result<ElfImage> parse_elf(std::span<std::byte const> image)
{
    TRY_VOID(check_ident(image));
    auto headers = TRY(read_program_headers(image));
    ElfImage elf;
    std::optional<uint64_t> entry;
    for (auto const& header : headers) {
        if (header.type == PT_LOAD && header.memory_size != 0) {
            auto segment = TRY(check_load_segment(image, header));
            elf.end = std::max(elf.end, segment.paddr.raw() + segment.memory_size);
            elf.segments.push_back(segment);
        } else if (header.type == PT_NOTE && !entry) {
            entry = TRY(find_pvh_note(image, header));
        }
    }
    if (elf.segments.empty())
        return fail(Errc::BadImage, "ELF: no loadable segment");
    if (!entry)
        return fail(Errc::BadImage, "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    // The PVH entry runs in 32-bit protected mode with paging off: it must be a loaded address.
    auto inside = [&](ElfSegment const& segment) {
        return *entry >= segment.paddr.raw() && *entry - segment.paddr.raw() < segment.memory_size;
    };
    if (std::ranges::none_of(elf.segments, inside))
        return fail(Errc::BadImage, "ELF: PVH entry point is outside the loaded segments");
    if (*entry > UINT32_MAX)
        return fail(Errc::BadImage, "ELF: PVH entry point above 4 GiB");
    elf.pvh_entry = GuestPhysAddr { *entry };
    return elf;
}

Result<void> load_elf_segments(GuestMemory& memory, std::span<std::byte const> image, ElfImage const& elf,
    std::vector<LoadedRegion>& loaded)
{
    // Check all destinations first, so that a refused image leaves guest memory untouched.
    for (auto const& segment : elf.segments) {
        if (!memory.span(segment.paddr, segment.memory_size))
            return fail(Errc::BadImage, "ELF: segment outside guest RAM");
    }
    for (auto const& segment : elf.segments) {
        auto target = TRY(memory.span(segment.paddr, segment.memory_size));
        auto source = image.subspan(segment.file_offset, segment.file_size);
        std::memcpy(target.data(), source.data(), source.size());
        std::memset(target.data() + source.size(), 0, segment.memory_size - segment.file_size);
        loaded.push_back({ segment.paddr, segment.memory_size, "kernel" });
    }
    return {};
}

} // namespace monarch::vmm::boot

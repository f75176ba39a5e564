// SPDX-License-Identifier: Apache-2.0
// Hand-built kernel images for the loader tests: a small ELF64 with chosen segments and notes,
// and a bzImage with a synthetic setup header. Offsets are spelled out from the specifications
// (gABI ELF64; boot.rst), independently of the loader's own constants.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

namespace monarch::test {

using Bytes = std::vector<std::byte>;

template<typename T>
void poke(Bytes& bytes, uint64_t offset, T value)
{
    if (bytes.size() < offset + sizeof(T))
        bytes.resize(offset + sizeof(T));
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
}

template<typename T>
T peek(std::span<std::byte const> bytes, uint64_t offset)
{
    T value {};
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

inline Bytes pattern(size_t size, uint8_t seed)
{
    Bytes bytes(size);
    for (size_t i = 0; i < size; ++i)
        bytes[i] = std::byte(static_cast<uint8_t>(seed + i * 7));
    return bytes;
}

// One ELF note: namesz, descsz, type, then name and descriptor, each padded to 4 bytes.
inline Bytes elf_note(std::string const& name_with_nul, uint32_t type, Bytes const& desc)
{
    Bytes note;
    poke<uint32_t>(note, 0, static_cast<uint32_t>(name_with_nul.size()));
    poke<uint32_t>(note, 4, static_cast<uint32_t>(desc.size()));
    poke<uint32_t>(note, 8, type);
    for (char c : name_with_nul)
        note.push_back(std::byte(c));
    note.resize((note.size() + 3) & ~size_t { 3 });
    note.insert(note.end(), desc.begin(), desc.end());
    note.resize((note.size() + 3) & ~size_t { 3 });
    return note;
}

inline Bytes pvh_note32(uint32_t entry)
{
    Bytes desc;
    poke<uint32_t>(desc, 0, entry);
    return elf_note(std::string("Xen\0", 4), 18, desc);
}

struct TestSegment {
    uint32_t type { 1 }; // PT_LOAD
    uint64_t paddr { 0 };
    Bytes data;
    uint64_t memsz { 0 };
    uint64_t align { 4 };
};

// ELF64 header (64 bytes), program headers right after it (56 bytes each), then the data of
// each segment, 16-byte aligned.
inline Bytes build_elf(std::vector<TestSegment> const& segments)
{
    Bytes image(64);
    std::memcpy(image.data(), "\x7f" "ELF", 4);
    poke<uint8_t>(image, 4, 2);   // ELFCLASS64
    poke<uint8_t>(image, 5, 1);   // ELFDATA2LSB
    poke<uint8_t>(image, 6, 1);   // EV_CURRENT
    poke<uint16_t>(image, 16, 2); // ET_EXEC
    poke<uint16_t>(image, 18, 62); // EM_X86_64
    poke<uint32_t>(image, 20, 1);
    poke<uint64_t>(image, 32, 64); // e_phoff
    poke<uint16_t>(image, 52, 64);
    poke<uint16_t>(image, 54, 56);
    poke<uint16_t>(image, 56, static_cast<uint16_t>(segments.size()));
    uint64_t data_offset = (64 + 56 * segments.size() + 15) & ~uint64_t { 15 };
    image.resize(data_offset);
    for (size_t i = 0; i < segments.size(); ++i) {
        auto const& segment = segments[i];
        uint64_t header = 64 + 56 * i;
        poke<uint32_t>(image, header + 0, segment.type);
        poke<uint64_t>(image, header + 8, image.size());
        poke<uint64_t>(image, header + 16, segment.paddr | 0xffffffff80000000ull); // p_vaddr: unused
        poke<uint64_t>(image, header + 24, segment.paddr);
        poke<uint64_t>(image, header + 32, segment.data.size());
        poke<uint64_t>(image, header + 40, segment.memsz);
        poke<uint64_t>(image, header + 48, segment.align);
        image.insert(image.end(), segment.data.begin(), segment.data.end());
        image.resize((image.size() + 15) & ~size_t { 15 });
    }
    return image;
}

// The program header i's field at `field` (p_offset 8, p_paddr 24, p_filesz 32, p_memsz 40).
inline uint64_t phdr_field(uint64_t index, uint64_t field) { return 64 + 56 * index + field; }

struct SetupFields {
    uint8_t setup_sects { 4 };
    uint16_t version { 0x020f };
    uint8_t loadflags { 0x01 };      // LOADED_HIGH
    uint16_t xloadflags { 0x0003 };  // XLF_KERNEL_64 | XLF_CAN_BE_LOADED_ABOVE_4G
    uint32_t initrd_addr_max { 0x7fffffff };
    uint32_t cmdline_size { 2047 };
    uint64_t pref_address { 0x1000000 };
    uint32_t init_size { 0x800000 };
    uint32_t kernel_alignment { 0x200000 };
    uint8_t relocatable { 1 };
    size_t payload_size { 0x3000 };
};

// Setup sectors, then the protected-mode payload (a byte pattern), header fields per boot.rst.
inline Bytes build_bzimage(SetupFields const& fields)
{
    uint64_t setup_size = (uint64_t { fields.setup_sects == 0 ? 4u : fields.setup_sects } + 1) * 512;
    Bytes image(setup_size);
    poke<uint8_t>(image, 0x1f1, fields.setup_sects);
    poke<uint16_t>(image, 0x1f2, 1);               // root_flags
    poke<uint32_t>(image, 0x1f4, static_cast<uint32_t>(fields.payload_size / 16)); // syssize
    poke<uint16_t>(image, 0x1fa, 0xfffd);          // vid_mode: "ask", must be overwritten
    poke<uint16_t>(image, 0x1fe, 0xaa55);          // boot_flag
    poke<uint8_t>(image, 0x200, 0xeb);             // jmp short
    poke<uint8_t>(image, 0x201, 0x6a);             // header ends at 0x26c
    std::memcpy(image.data() + 0x202, "HdrS", 4);
    poke<uint16_t>(image, 0x206, fields.version);
    poke<uint16_t>(image, 0x20e, 0x3c0);           // kernel_version string pointer
    poke<uint8_t>(image, 0x211, fields.loadflags);
    poke<uint32_t>(image, 0x214, 0x100000);        // code32_start
    poke<uint32_t>(image, 0x22c, fields.initrd_addr_max);
    poke<uint32_t>(image, 0x230, fields.kernel_alignment);
    poke<uint8_t>(image, 0x234, fields.relocatable);
    poke<uint8_t>(image, 0x235, 21);               // min_alignment
    poke<uint16_t>(image, 0x236, fields.xloadflags);
    poke<uint32_t>(image, 0x238, fields.cmdline_size);
    poke<uint64_t>(image, 0x258, fields.pref_address);
    poke<uint32_t>(image, 0x260, fields.init_size);
    poke<uint32_t>(image, 0x264, 0x190);           // handover_offset
    poke<uint32_t>(image, 0x268, 0x12345);         // kernel_info_offset
    auto payload = pattern(fields.payload_size, 0x5a);
    image.insert(image.end(), payload.begin(), payload.end());
    return image;
}

} // namespace monarch::test

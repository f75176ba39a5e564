// SPDX-License-Identifier: Apache-2.0
#include "vmm_process.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <elf.h>
#include <fcntl.h>
#include <sstream>
#include <stdexcept>
#include <unistd.h>

namespace monarch::test {

std::string vmm_path() { return MONARCH_BINARY_DIR "/src/vmm/monarch-vmm"; }

std::optional<std::string> built_testos()
{
    std::string path = MONARCH_BINARY_DIR "/guests/testos/testos.elf";
    if (::access(path.c_str(), R_OK) == 0)
        return path;
    return std::nullopt;
}

ProcessResult run_vmm(std::vector<std::string> const& args, std::chrono::milliseconds timeout)
{
    std::vector<std::string> argv { vmm_path() };
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, { .timeout = timeout });
}

std::string scratch_directory()
{
    // Heap-allocated and never freed: the atexit handler below runs after static destructors.
    static std::string const* directory = [] {
        char pattern[] = "/tmp/monarch-vmm-test-XXXXXX";
        char* made = ::mkdtemp(pattern);
        if (!made)
            return new std::string("/tmp");
        // Each test case is its own process: remove its directory when it ends.
        std::atexit([] { std::error_code ignored; std::filesystem::remove_all(*directory, ignored); });
        return new std::string(made);
    }();
    return *directory;
}

std::string scratch_file(std::string const& name, std::vector<uint8_t> const& bytes)
{
    std::string path = scratch_directory() + "/" + name;
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        (void)!::write(fd, bytes.data(), bytes.size());
        ::close(fd);
    }
    return path;
}

std::vector<uint8_t> minimal_pvh_guest(uint8_t status)
{
    // Layout: ELF header, two program headers (PT_LOAD of the whole file at 1 MiB, PT_NOTE),
    // the Xen note (XEN_ELFNOTE_PHYS32_ENTRY = 18), then the code at CODE_OFFSET.
    constexpr uint64_t LOAD_ADDRESS = 0x100000;
    constexpr size_t NOTE_OFFSET = sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr);
    constexpr size_t NOTE_SIZE = sizeof(Elf64_Nhdr) + 4 + 4;
    constexpr size_t CODE_OFFSET = 200;
    // mov al, status; out 0xf4, al; hlt; jmp $-1 (in case the exit is not taken)
    std::vector<uint8_t> code { 0xb0, status, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd };
    std::vector<uint8_t> image(CODE_OFFSET + code.size());

    Elf64_Ehdr header {};
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = EM_X86_64;
    header.e_version = EV_CURRENT;
    header.e_entry = LOAD_ADDRESS + CODE_OFFSET;
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    header.e_phnum = 2;
    std::memcpy(image.data(), &header, sizeof header);

    Elf64_Phdr load {};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_X;
    load.p_offset = 0;
    load.p_vaddr = load.p_paddr = LOAD_ADDRESS;
    load.p_filesz = load.p_memsz = image.size();
    load.p_align = 0x1000;
    Elf64_Phdr note {};
    note.p_type = PT_NOTE;
    note.p_offset = NOTE_OFFSET;
    note.p_filesz = NOTE_SIZE;
    note.p_align = 4;
    std::memcpy(image.data() + sizeof(Elf64_Ehdr), &load, sizeof load);
    std::memcpy(image.data() + sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr), &note, sizeof note);

    Elf64_Nhdr note_header { 4, 4, 18 };
    uint32_t entry = static_cast<uint32_t>(LOAD_ADDRESS + CODE_OFFSET);
    std::memcpy(image.data() + NOTE_OFFSET, &note_header, sizeof note_header);
    std::memcpy(image.data() + NOTE_OFFSET + sizeof note_header, "Xen", 4);
    std::memcpy(image.data() + NOTE_OFFSET + sizeof note_header + 4, &entry, 4);
    std::memcpy(image.data() + CODE_OFFSET, code.data(), code.size());
    return image;
}

std::vector<std::string> error_lines(std::string const& output)
{
    std::vector<std::string> lines;
    std::istringstream stream(output);
    std::string line;
    while (std::getline(stream, line))
        if (line.starts_with("monarch-vmm: error: "))
            lines.push_back(line);
    return lines;
}

} // namespace monarch::test

// SPDX-License-Identifier: Apache-2.0
// The ELF64/PVH path of load_kernel on hand-built images: what is loaded where, the
// hvm_start_info it writes, and every kind of malformed image refused without touching RAM.
#include "image_builders.h"
#include "support/vec_guest_memory.h"
#include "vmm/boot/boot_loader.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <algorithm>

using namespace monarch;
using namespace monarch::vmm;
using test::Bytes;
using test::peek;
using test::poke;
using layout::MiB;

namespace {

constexpr uint64_t TEXT = 1 * MiB;
constexpr uint64_t DATA = 2 * MiB;
constexpr uint32_t ENTRY = TEXT + 0x40;

// Two PT_LOADs (the second with bss) and a PT_NOTE holding a foreign note, then the PVH one.
Bytes valid_elf(Bytes notes = {})
{
    if (notes.empty()) {
        notes = test::elf_note(std::string("GNU\0", 4), 3, test::pattern(20, 1));
        auto pvh = test::pvh_note32(ENTRY);
        notes.insert(notes.end(), pvh.begin(), pvh.end());
    }
    return test::build_elf({
        { 1, TEXT, test::pattern(0x180, 3), 0x180, 0x200000 },
        { 1, DATA, test::pattern(0x100, 9), 0x2000, 0x200000 },
        { 4, 0, notes, notes.size(), 4 },
    });
}

Error load_error(Bytes const& image, test::VecGuestMemory& memory)
{
    auto result = boot::load_kernel(memory, { image, {}, "", std::nullopt });
    REQUIRE_FALSE(result);
    return result.error();
}

Error load_error(Bytes const& image)
{
    test::VecGuestMemory memory(4 * MiB);
    return load_error(image, memory);
}

struct StartInfo {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};

} // namespace

TEST_CASE("ELF: a PVH kernel is loaded with its bss zeroed and hvm_start_info written", "[unit][boot]")
{
    test::VecGuestMemory memory(64 * MiB);
    REQUIRE(memory.fill(GuestPhysAddr { DATA }, 0x2000, std::byte { 0xaa }));
    auto image = valid_elf();
    auto setup = boot::load_kernel(memory, { image, {}, "console=ttyS0 earlyprintk=serial", GuestPhysAddr { 0xe0000 } });
    REQUIRE(setup);
    CHECK(setup->protocol == boot::BootProtocol::Pvh);
    CHECK(setup->entry == GuestPhysAddr { ENTRY });
    CHECK(setup->boot_info == GuestPhysAddr { layout::PVH_START_INFO_START });

    // Segment contents from the file, the rest of the second segment zero.
    Bytes text(0x180), data(0x2000);
    REQUIRE(memory.read(GuestPhysAddr { TEXT }, text));
    REQUIRE(memory.read(GuestPhysAddr { DATA }, data));
    CHECK(text == test::pattern(0x180, 3));
    CHECK(std::equal(data.begin(), data.begin() + 0x100, test::pattern(0x100, 9).begin()));
    CHECK(std::all_of(data.begin() + 0x100, data.end(), [](std::byte b) { return b == std::byte { 0 }; }));

    // Xen's start_info.h, version 1.
    auto info = memory.read_obj<StartInfo>(setup->boot_info).value();
    CHECK(info.magic == 0x336ec578);
    CHECK(info.version == 1);
    CHECK(info.nr_modules == 0);
    CHECK(info.rsdp_paddr == 0xe0000);
    CHECK(info.cmdline_paddr == layout::CMDLINE_START);
    std::string cmdline(33, '?');
    REQUIRE(memory.read(GuestPhysAddr { info.cmdline_paddr }, std::as_writable_bytes(std::span { cmdline })));
    CHECK(cmdline == std::string("console=ttyS0 earlyprintk=serial\0", 33));

    // The memory map is build_e820's, entry for entry.
    auto e820 = boot::build_e820(memory);
    REQUIRE(info.memmap_entries == e820.size());
    for (size_t i = 0; i < e820.size(); ++i) {
        uint64_t at = info.memmap_paddr + 24 * i;
        CHECK(memory.read_obj<uint64_t>(GuestPhysAddr { at }).value() == e820[i].addr);
        CHECK(memory.read_obj<uint64_t>(GuestPhysAddr { at + 8 }).value() == e820[i].size);
        CHECK(memory.read_obj<uint32_t>(GuestPhysAddr { at + 16 }).value() == e820[i].type);
    }
    auto count = [&](std::string_view what) {
        return std::ranges::count(setup->loaded, what, &boot::LoadedRegion::what);
    };
    CHECK(count("kernel") == 2);
    CHECK(count("start_info") == 1);
    CHECK(count("memmap") == 1);
    CHECK(count("cmdline") == 1);
}

TEST_CASE("ELF: the initrd becomes one page-aligned PVH module above the kernel", "[unit][boot]")
{
    test::VecGuestMemory memory(64 * MiB);
    auto image = valid_elf();
    auto initrd = test::pattern(10000, 77);
    auto setup = boot::load_kernel(memory, { image, initrd, "", std::nullopt });
    REQUIRE(setup);
    auto info = memory.read_obj<StartInfo>(setup->boot_info).value();
    REQUIRE(info.nr_modules == 1);
    uint64_t paddr = memory.read_obj<uint64_t>(GuestPhysAddr { info.modlist_paddr }).value();
    uint64_t size = memory.read_obj<uint64_t>(GuestPhysAddr { info.modlist_paddr + 8 }).value();
    CHECK(memory.read_obj<uint64_t>(GuestPhysAddr { info.modlist_paddr + 16 }).value() == 0);
    CHECK(size == initrd.size());
    CHECK(paddr % 4096 == 0);
    CHECK(paddr >= DATA + 0x2000);
    CHECK(paddr + size <= 64 * MiB);
    CHECK(paddr + size > 64 * MiB - 4096); // as high as possible
    Bytes copy(size);
    REQUIRE(memory.read(GuestPhysAddr { paddr }, copy));
    CHECK(copy == initrd);
}

TEST_CASE("ELF: an 8-byte PVH entry descriptor is accepted", "[unit][boot]")
{
    Bytes desc;
    poke<uint64_t>(desc, 0, ENTRY + 4);
    test::VecGuestMemory memory(64 * MiB);
    auto image = valid_elf(test::elf_note(std::string("Xen\0", 4), 18, desc));
    auto setup = boot::load_kernel(memory, { image, {}, "", std::nullopt });
    REQUIRE(setup);
    CHECK(setup->entry == GuestPhysAddr { ENTRY + 4 });
}

TEST_CASE("ELF: malformed headers are refused as BadImage", "[unit][boot]")
{
    auto image = valid_elf();
    SECTION("truncated ELF header")
    {
        image.resize(40);
    }
    SECTION("truncated program header table")
    {
        image.resize(64 + 56 + 20);
    }
    SECTION("32-bit class")
    {
        poke<uint8_t>(image, 4, 1);
    }
    SECTION("big-endian data")
    {
        poke<uint8_t>(image, 5, 2);
    }
    SECTION("i386 machine")
    {
        poke<uint16_t>(image, 18, 3);
    }
    SECTION("program header size other than 56")
    {
        poke<uint16_t>(image, 54, 32);
    }
    SECTION("program header table offset past the end")
    {
        poke<uint64_t>(image, 32, ~0ull - 8);
    }
    SECTION("segment beyond the end of the file")
    {
        poke<uint64_t>(image, test::phdr_field(0, 32), image.size());
        poke<uint64_t>(image, test::phdr_field(0, 40), image.size());
    }
    SECTION("segment file offset that overflows")
    {
        poke<uint64_t>(image, test::phdr_field(0, 8), ~0ull - 0x10);
    }
    SECTION("p_filesz larger than p_memsz")
    {
        poke<uint64_t>(image, test::phdr_field(0, 40), 0x100);
    }
    SECTION("segment address that wraps")
    {
        poke<uint64_t>(image, test::phdr_field(1, 24), ~0ull - 0x100);
    }
    SECTION("segment below 1 MiB, over the boot structures")
    {
        poke<uint64_t>(image, test::phdr_field(0, 24), 0x7000);
    }
    CHECK(load_error(image).code == Errc::BadImage);
}

TEST_CASE("ELF: a segment outside guest RAM is refused and nothing is written", "[unit][boot]")
{
    test::VecGuestMemory memory(64 * MiB);
    auto image = valid_elf();
    poke<uint64_t>(image, test::phdr_field(1, 24), 64 * MiB - 0x1000); // runs past the end of RAM
    auto error = load_error(image, memory);
    CHECK(error.code == Errc::BadImage);
    CHECK(error.context == "ELF: segment outside guest RAM");
    Bytes text(0x180);
    REQUIRE(memory.read(GuestPhysAddr { TEXT }, text));
    CHECK(std::all_of(text.begin(), text.end(), [](std::byte b) { return b == std::byte { 0 }; }));
}

TEST_CASE("ELF: an image without the PVH note is refused", "[unit][boot]")
{
    auto image = valid_elf(test::elf_note(std::string("Xen\0", 4), 17, test::pattern(4, 0)));
    auto error = load_error(image);
    CHECK(error.code == Errc::BadImage);
    CHECK(error.context == "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
    // The same note type under another owner's name is not Xen's.
    Bytes desc;
    poke<uint32_t>(desc, 0, ENTRY);
    CHECK(load_error(valid_elf(test::elf_note(std::string("Xem\0", 4), 18, desc))).context
        == "ELF: no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
}

TEST_CASE("ELF: malformed notes are refused as BadImage", "[unit][boot]")
{
    auto notes = test::pvh_note32(ENTRY);
    SECTION("name size past the segment")
    {
        poke<uint32_t>(notes, 0, 0xfffffff0);
    }
    SECTION("descriptor size past the segment")
    {
        poke<uint32_t>(notes, 4, 0x1000);
    }
    SECTION("descriptor neither 4 nor 8 bytes")
    {
        notes = test::elf_note(std::string("Xen\0", 4), 18, test::pattern(2, 0));
    }
    SECTION("truncated note header")
    {
        notes.resize(8); // namesz and descsz, no type
    }
    SECTION("entry outside every loaded segment")
    {
        notes = test::pvh_note32(32 * MiB);
    }
    CHECK(load_error(valid_elf(notes)).code == Errc::BadImage);
}

TEST_CASE("ELF: every truncation of a valid image is refused, none crashes", "[unit][boot]")
{
    auto image = valid_elf();
    test::VecGuestMemory memory(4 * MiB);
    for (size_t length = 0; length < image.size(); ++length) {
        Bytes cut(image.begin(), image.begin() + static_cast<ptrdiff_t>(length));
        auto result = boot::load_kernel(memory, { cut, {}, "", std::nullopt });
        INFO("length " << length);
        // Only the tail padding after the last segment's bytes is not needed.
        if (result)
            CHECK(length >= image.size() - 16);
        else
            CHECK(result.error().code == Errc::BadImage);
    }
}

TEST_CASE("ELF: a command line longer than the VMM's 64 KiB area is refused", "[unit][boot]")
{
    test::VecGuestMemory memory(64 * MiB);
    auto image = valid_elf();
    std::string cmdline(layout::CMDLINE_MAX_SIZE, 'x'); // no room left for the NUL
    auto result = boot::load_kernel(memory, { image, {}, cmdline, std::nullopt });
    REQUIRE_FALSE(result);
    CHECK(result.error().code == Errc::InvalidArgument);
    cmdline.pop_back();
    CHECK(boot::load_kernel(memory, { image, {}, cmdline, std::nullopt }));
}

TEST_CASE("load_kernel refuses an image that is neither ELF nor bzImage", "[unit][boot]")
{
    auto error = load_error(test::pattern(4096, 1));
    CHECK(error.code == Errc::BadImage);
    CHECK(error.context == "kernel image is neither an ELF64 nor a bzImage");
    CHECK(load_error(Bytes {}).context == "kernel image is neither an ELF64 nor a bzImage");
}

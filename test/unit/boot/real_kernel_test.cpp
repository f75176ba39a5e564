// SPDX-License-Identifier: Apache-2.0
// The loaders on Debian's real cloud kernel, as cached by scripts/fetch-linux-kernel: the
// bzImage (vmlinuz) through the 64-bit protocol and the ELF (vmlinux) through PVH. Skips when the
// cache is absent: unit tests never download.
#include "support/skip.h"
#include "support/subprocess.h"
#include "support/vec_guest_memory.h"
#include "vmm/boot/boot_loader.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/elf_loader.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <sstream>

using namespace monarch;
using namespace monarch::vmm;
using layout::MiB;

namespace {

// The same place scripts/fetch-linux-kernel caches to.
std::filesystem::path kernel_file(char const* name)
{
    std::filesystem::path root;
    if (char const* cache = std::getenv("MONARCH_CACHE_DIR"))
        root = cache;
    else if (char const* xdg = std::getenv("XDG_CACHE_HOME"))
        root = std::filesystem::path(xdg) / "monarch";
    else if (char const* home = std::getenv("HOME"))
        root = std::filesystem::path(home) / ".cache" / "monarch";
    auto path = root / "linux" / name;
    if (root.empty() || !std::filesystem::exists(path))
        test::skip("no cached kernel at " + path.string() + " (run scripts/fetch-linux-kernel)");
    return path;
}

// binutils' readelf as an independent reader of the PVH note: the descriptor bytes printed after
// the note of type 0x12 (XEN_ELFNOTE_PHYS32_ENTRY), read as a little-endian number.
std::optional<uint64_t> readelf_pvh_entry(std::string const& output)
{
    auto type = output.find("(0x00000012)");
    if (type == std::string::npos)
        return std::nullopt;
    auto data = output.find("description data:", type);
    if (data == std::string::npos)
        return std::nullopt;
    std::istringstream bytes(output.substr(data + 17, output.find('\n', data) - data - 17));
    uint64_t value = 0;
    unsigned shift = 0;
    for (std::string hex; bytes >> hex && shift < 64; shift += 8)
        value |= std::stoull(hex, nullptr, 16) << shift;
    return value;
}

} // namespace

TEST_CASE("real kernel: Debian's vmlinuz loads through the 64-bit boot protocol", "[unit][boot]")
{
    auto image = boot::read_image_file(kernel_file("vmlinuz").string(), boot::ImageKind::Kernel);
    REQUIRE(image);
    auto header = boot::parse_setup_header(*image);
    REQUIRE(header);
    CHECK(header->version >= 0x0206);
    CHECK((header->xloadflags & boot::XLF_KERNEL_64) != 0);
    CHECK((header->loadflags & boot::LOADED_HIGH) != 0);
    CHECK(header->cmdline_size >= 255);
    CHECK(header->init_size > 0);

    test::VecGuestMemory memory(256 * MiB);
    std::vector<std::byte> initrd(1 * MiB, std::byte { 0x42 });
    auto setup = boot::load_kernel(memory, { *image, initrd, "console=ttyS0", std::nullopt });
    REQUIRE(setup);
    CHECK(setup->protocol == boot::BootProtocol::Linux64);
    CHECK(setup->entry == GuestPhysAddr { layout::HIGH_RAM_START + 0x200 });
    auto version = memory.read_obj<uint16_t>(GuestPhysAddr { layout::ZERO_PAGE_START + 0x206 });
    CHECK(version.value() == header->version);
    auto ramdisk = memory.read_obj<uint32_t>(GuestPhysAddr { layout::ZERO_PAGE_START + 0x218 }).value();
    CHECK(ramdisk >= header->pref_address + header->init_size);
}

TEST_CASE("real kernel: Debian's vmlinux has a PVH entry and loads through PVH", "[unit][boot]")
{
    auto image = boot::read_image_file(kernel_file("vmlinux").string(), boot::ImageKind::Kernel);
    REQUIRE(image);
    auto elf = boot::parse_elf(*image);
    REQUIRE(elf);
    CHECK(elf->pvh_entry.raw() >= layout::HIGH_RAM_START);
    CHECK(elf->pvh_entry.raw() < elf->end);

    test::VecGuestMemory memory(256 * MiB);
    auto setup = boot::load_kernel(memory, { *image, {}, "console=ttyS0", std::nullopt });
    REQUIRE(setup);
    CHECK(setup->protocol == boot::BootProtocol::Pvh);
    CHECK(setup->entry == elf->pvh_entry);
    // PVH entry code starts with real instructions, not zeroes: the text segment was copied.
    auto first_bytes = memory.read_obj<uint64_t>(setup->entry).value();
    CHECK(first_bytes != 0);
}

TEST_CASE("real kernel: the PVH entry agrees with readelf's reading of the note", "[unit][boot]")
{
    auto path = kernel_file("vmlinux");
    test::require_program("readelf");
    auto listing = test::run_process({ "readelf", "--notes", path.string() });
    INFO(test::describe(listing));
    REQUIRE(listing.exited);
    REQUIRE(listing.exit_code == 0);
    auto expected = readelf_pvh_entry(listing.output);
    REQUIRE(expected);
    auto image = boot::read_image_file(path.string(), boot::ImageKind::Kernel);
    REQUIRE(image);
    auto elf = boot::parse_elf(*image);
    REQUIRE(elf);
    CHECK(elf->pvh_entry.raw() == *expected);
}

// SPDX-License-Identifier: Apache-2.0
// The bzImage path of load_kernel with a synthetic setup header: the zero page as boot.rst and
// zero-page.rst describe it, initrd placement, and the images and inputs it must refuse.
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
using layout::MiB;

namespace {

Bytes zero_page(test::VecGuestMemory& memory, GuestPhysAddr at)
{
    Bytes page(4096);
    REQUIRE(memory.read(at, page));
    return page;
}

Error load_error(Bytes const& image, std::span<std::byte const> initrd = {}, std::string_view cmdline = "",
    uint64_t ram = 64 * MiB)
{
    test::VecGuestMemory memory(ram);
    auto result = boot::load_kernel(memory, { image, initrd, cmdline, std::nullopt });
    REQUIRE_FALSE(result);
    return result.error();
}

} // namespace

TEST_CASE("bzImage: kernel at 1 MiB, boot_params filled as the boot protocol says", "[unit][boot]")
{
    test::SetupFields fields;
    auto image = test::build_bzimage(fields);
    test::VecGuestMemory memory(64 * MiB);
    auto setup = boot::load_kernel(memory, { image, {}, "root=/dev/vda ro", GuestPhysAddr { 0xe0000 } });
    REQUIRE(setup);
    CHECK(setup->protocol == boot::BootProtocol::Linux64);
    CHECK(setup->entry == GuestPhysAddr { 0x100000 + 0x200 });
    CHECK(setup->boot_info == GuestPhysAddr { layout::ZERO_PAGE_START });

    // The protected-mode kernel: everything after (setup_sects + 1) sectors.
    Bytes kernel(fields.payload_size);
    REQUIRE(memory.read(GuestPhysAddr { 0x100000 }, kernel));
    CHECK(std::equal(kernel.begin(), kernel.end(), image.begin() + 5 * 512));

    auto page = zero_page(memory, setup->boot_info);
    // The header is copied from 0x1f1 to 0x202 + the byte at 0x201; the loader's own fields differ.
    auto written_by_loader = [](uint64_t offset) {
        return (offset >= 0x1fa && offset < 0x1fc) || offset == 0x210 || (offset >= 0x218 && offset < 0x220)
            || (offset >= 0x228 && offset < 0x22c);
    };
    for (uint64_t offset = 0x1f1; offset < 0x26c; ++offset) {
        if (!written_by_loader(offset)) {
            INFO("offset " << offset);
            CHECK(page[offset] == image[offset]);
        }
    }
    CHECK(peek<uint16_t>(page, 0x1fa) == 0xffff);            // vid_mode: normal
    CHECK(peek<uint8_t>(page, 0x210) == 0xff);               // type_of_loader: undefined
    CHECK(peek<uint32_t>(page, 0x228) == layout::CMDLINE_START);
    CHECK(peek<uint32_t>(page, 0x218) == 0);                 // no initrd
    CHECK(peek<uint32_t>(page, 0x21c) == 0);
    CHECK(peek<uint64_t>(page, 0x070) == 0xe0000);           // acpi_rsdp_addr (2.14+)
    CHECK(peek<uint32_t>(page, 0x26c) == 0);                 // nothing past the header's end

    std::string cmdline(17, '?');
    REQUIRE(memory.read(GuestPhysAddr { layout::CMDLINE_START }, std::as_writable_bytes(std::span { cmdline })));
    CHECK(cmdline == std::string("root=/dev/vda ro\0", 17));

    // e820_entries at 0x1e8, e820_table at 0x2d0 (20-byte packed entries) equal build_e820.
    auto e820 = boot::build_e820(memory);
    REQUIRE(peek<uint8_t>(page, 0x1e8) == e820.size());
    for (size_t i = 0; i < e820.size(); ++i) {
        CHECK(peek<uint64_t>(page, 0x2d0 + 20 * i) == e820[i].addr);
        CHECK(peek<uint64_t>(page, 0x2d0 + 20 * i + 8) == e820[i].size);
        CHECK(peek<uint32_t>(page, 0x2d0 + 20 * i + 16) == e820[i].type);
    }
}

TEST_CASE("bzImage: setup_sects 0 means 4", "[unit][boot]")
{
    test::SetupFields fields;
    fields.setup_sects = 0;
    auto image = test::build_bzimage(fields);
    test::VecGuestMemory memory(64 * MiB);
    REQUIRE(boot::load_kernel(memory, { image, {}, "", std::nullopt }));
    CHECK(memory.read_obj<uint64_t>(GuestPhysAddr { 0x100000 }).value() == peek<uint64_t>(image, 5 * 512));
}

TEST_CASE("bzImage: the initrd goes page-aligned, as high as possible under initrd_addr_max", "[unit][boot]")
{
    test::SetupFields fields;
    uint64_t ram = 64 * MiB;
    uint64_t limit = ram; // the end of RAM, or initrd_addr_max + 1 when lower
    SECTION("limited by the end of RAM") {}
    SECTION("limited by initrd_addr_max")
    {
        fields.initrd_addr_max = 48 * MiB - 0x801; // inclusive, and not page-aligned
        limit = 48 * MiB - 0x800;
    }
    auto image = test::build_bzimage(fields);
    auto initrd = test::pattern(3 * MiB + 123, 11);
    test::VecGuestMemory memory(ram);
    auto setup = boot::load_kernel(memory, { image, initrd, "", std::nullopt });
    REQUIRE(setup);
    auto page = zero_page(memory, setup->boot_info);
    uint64_t address = peek<uint32_t>(page, 0x218);
    CHECK(peek<uint32_t>(page, 0x21c) == initrd.size());
    CHECK(address % 4096 == 0);
    CHECK(address + initrd.size() <= limit);
    CHECK(address + initrd.size() > limit - 4096);
    CHECK(address >= fields.pref_address + fields.init_size); // clear of the decompressor's window
    Bytes copy(initrd.size());
    REQUIRE(memory.read(GuestPhysAddr { address }, copy));
    CHECK(copy == initrd);
}

TEST_CASE("bzImage: an initrd that does not fit is refused", "[unit][boot]")
{
    test::SetupFields fields; // kernel window: 16 MiB + 8 MiB
    auto image = test::build_bzimage(fields);
    SECTION("not enough RAM above the kernel")
    {
        auto error = load_error(image, test::pattern(10 * MiB, 1), "", 32 * MiB);
        CHECK(error.code == Errc::OutOfRange);
        CHECK(error.context == "initrd does not fit below initrd_addr_max");
    }
    SECTION("initrd_addr_max below the kernel's end")
    {
        fields.initrd_addr_max = 20 * MiB;
        auto error = load_error(test::build_bzimage(fields), test::pattern(4096, 1));
        CHECK(error.code == Errc::OutOfRange);
    }
}

TEST_CASE("bzImage: headers the loader cannot honour are refused", "[unit][boot]")
{
    test::SetupFields fields;
    SECTION("protocol older than 2.06")
    {
        fields.version = 0x0205;
        auto error = load_error(test::build_bzimage(fields));
        CHECK(error.code == Errc::BadImage);
        CHECK(error.context == "bzImage: boot protocol older than 2.06 is not supported");
    }
    SECTION("no 64-bit entry (XLF_KERNEL_64 clear)")
    {
        fields.xloadflags = 0x0002;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("protocol 2.06 to 2.11 has no xloadflags, so no known 64-bit entry")
    {
        fields.version = 0x020b;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("LOADED_HIGH clear (zImage)")
    {
        fields.loadflags = 0;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("no protected-mode kernel after the setup sectors")
    {
        fields.payload_size = 0;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("relocatable with a kernel_alignment that is not a power of two")
    {
        fields.kernel_alignment = 0x300000;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("non-relocatable kernel that wants to run below 1 MiB")
    {
        fields.relocatable = 0;
        fields.pref_address = 0x10000;
        CHECK(load_error(test::build_bzimage(fields)).code == Errc::BadImage);
    }
    SECTION("init_size runs past the end of RAM")
    {
        fields.init_size = 0x3000000;
        CHECK(load_error(test::build_bzimage(fields), {}, "", 32 * MiB).code == Errc::OutOfRange);
    }
}

TEST_CASE("bzImage: a truncated or corrupted header is refused", "[unit][boot]")
{
    auto image = test::build_bzimage({});
    SECTION("file ends inside the header") { image.resize(0x240); }
    SECTION("boot_flag is not 0xAA55") { test::poke<uint16_t>(image, 0x1fe, 0x1234); }
    SECTION("header length byte beyond boot_params' header area") { test::poke<uint8_t>(image, 0x201, 0xff); }
    CHECK(load_error(image).code == Errc::BadImage);
}

TEST_CASE("bzImage: the command line must fit cmdline_size", "[unit][boot]")
{
    test::SetupFields fields;
    fields.cmdline_size = 16;
    auto image = test::build_bzimage(fields);
    auto error = load_error(image, {}, "console=ttyS0 ro"  "x"); // 17 bytes
    CHECK(error.code == Errc::InvalidArgument);
    test::VecGuestMemory memory(64 * MiB);
    CHECK(boot::load_kernel(memory, { image, {}, "console=ttyS0 ro", std::nullopt })); // exactly 16
    CHECK(load_error(image, {}, std::string_view("a\0b", 3)).code == Errc::InvalidArgument);
}

TEST_CASE("bzImage: a non-relocatable kernel's window starts at pref_address", "[unit][boot]")
{
    test::SetupFields fields;
    fields.relocatable = 0;
    fields.pref_address = 0x1000000;
    fields.init_size = 0x1000000; // the window ends at 32 MiB
    auto image = test::build_bzimage(fields);
    CHECK(load_error(image, {}, "", 31 * MiB).code == Errc::OutOfRange);
    test::VecGuestMemory memory(40 * MiB);
    auto initrd = test::pattern(6 * MiB, 5);
    auto setup = boot::load_kernel(memory, { image, initrd, "", std::nullopt });
    REQUIRE(setup);
    CHECK(memory.read_obj<uint32_t>(GuestPhysAddr { layout::ZERO_PAGE_START + 0x218 }).value() >= 32 * MiB);
}

TEST_CASE("bzImage: acpi_rsdp_addr is only written for protocol 2.14 and later", "[unit][boot]")
{
    test::SetupFields fields;
    fields.version = 0x020d;
    auto image = test::build_bzimage(fields);
    test::VecGuestMemory memory(64 * MiB);
    auto setup = boot::load_kernel(memory, { image, {}, "", GuestPhysAddr { 0xe0000 } });
    REQUIRE(setup);
    CHECK(peek<uint64_t>(zero_page(memory, setup->boot_info), 0x070) == 0);
}

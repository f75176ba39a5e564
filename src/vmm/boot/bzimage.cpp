// SPDX-License-Identifier: Apache-2.0
// bzImage loading (Documentation/arch/x86/boot.rst: the real-mode kernel header, "64-bit BOOT
// PROTOCOL"; zero-page.rst for boot_params). Every header field comes from an untrusted file.
#include "vmm/boot/bzimage.h"

#include "vmm/boot/boot_data.h"
#include "vmm/boot/boot_layout.h"
#include "common/byte_access.h"
#include "vmm/boot/e820.h"
#include "vmm/memory/layout.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace monarch::vmm::boot {

namespace {

// Setup header offsets, in the file and in boot_params alike (boot.rst).
constexpr uint64_t HDR_START = 0x1f1;            // setup_sects: the first byte copied
constexpr uint64_t HDR_LIMIT = 0x290;            // boot_params.edd_mbr_sig_buffer follows the header
constexpr uint64_t SETUP_SECTS = 0x1f1, VID_MODE = 0x1fa, BOOT_FLAG = 0x1fe, JUMP_LENGTH = 0x201;
constexpr uint64_t VERSION = 0x206, TYPE_OF_LOADER = 0x210, LOADFLAGS = 0x211;
constexpr uint64_t RAMDISK_IMAGE = 0x218, RAMDISK_SIZE = 0x21c, CMD_LINE_PTR = 0x228;
constexpr uint64_t INITRD_ADDR_MAX = 0x22c, KERNEL_ALIGNMENT = 0x230, RELOCATABLE_KERNEL = 0x234;
constexpr uint64_t XLOADFLAGS = 0x236, CMDLINE_SIZE = 0x238, PREF_ADDRESS = 0x258, INIT_SIZE = 0x260;
// zero-page.rst: fields outside the setup header.
constexpr uint64_t ACPI_RSDP_ADDR = 0x070, E820_ENTRIES = 0x1e8, E820_TABLE = 0x2d0;
constexpr uint64_t E820_ENTRY_SIZE = 20;         // struct boot_e820_entry is packed
constexpr uint64_t ZERO_PAGE_SIZE = 4096;

constexpr uint16_t BOOT_FLAG_VALUE = 0xaa55;
constexpr uint32_t HDRS_MAGIC = 0x53726448;      // "HdrS"
constexpr uint16_t MIN_VERSION = 0x0206;         // cmdline_size exists from 2.06
constexpr uint16_t XLOADFLAGS_VERSION = 0x020c;  // xloadflags exists from 2.12
constexpr uint16_t ACPI_RSDP_VERSION = 0x020e;   // boot_params.acpi_rsdp_addr honoured from 2.14
constexpr uint8_t LOADER_UNDEFINED = 0xff;       // type_of_loader: "undefined" (no assigned ID)
constexpr uint16_t VID_MODE_NORMAL = 0xffff;     // vid_mode: "normal" (no mode switch)
constexpr uint64_t SECTOR_SIZE = 512;

template<typename T>
T field(std::span<std::byte const> image, uint64_t offset)
{
    return *load_le<T>(image, offset); // the caller checked the whole header is inside the file
}

// Where the kernel runs and how much it needs before it reads the memory map (boot.rst,
// init_size): [runtime_start, runtime_start + init_size). Returns the end of that window.
Result<uint64_t> kernel_window_end(SetupHeader const& header, uint64_t load_address, uint64_t payload_size)
{
    uint64_t runtime_start = header.pref_address;
    // A kernel that cannot move runs at pref_address: below 1 MiB it would overwrite the boot
    // structures, page tables and firmware tables.
    if (!header.relocatable && runtime_start < load_address)
        return fail(Errc::BadImage, "bzImage: non-relocatable kernel with pref_address below 1 MiB");
    if (header.relocatable) {
        uint64_t address = std::max(load_address, header.pref_address);
        runtime_start = align_up(address, header.kernel_alignment);
        if (runtime_start < address)
            return fail(Errc::BadImage, "bzImage: pref_address overflows when aligned");
    }
    auto window_end = checked_add(runtime_start, header.init_size);
    if (!window_end)
        return fail(Errc::BadImage, "bzImage: pref_address + init_size overflows");
    return std::max(*window_end, load_address + payload_size);
}

void put_e820(std::span<std::byte> zero_page, std::vector<E820Entry> const& map)
{
    store_le<uint8_t>(zero_page, E820_ENTRIES, static_cast<uint8_t>(map.size()));
    for (uint64_t i = 0; i < map.size(); ++i) {
        uint64_t base = E820_TABLE + i * E820_ENTRY_SIZE;
        store_le(zero_page, base, map[i].addr);
        store_le(zero_page, base + 8, map[i].size);
        store_le(zero_page, base + 16, map[i].type);
    }
}

struct ZeroPageInputs {
    std::optional<LoadedRegion> initrd;
    std::optional<GuestPhysAddr> rsdp;
};

// boot_params: the image's setup header, then what boot.rst says a boot loader fills in.
Result<std::array<std::byte, ZERO_PAGE_SIZE>> build_zero_page(GuestMemory const& memory,
    std::span<std::byte const> image, SetupHeader const& header, ZeroPageInputs const& inputs)
{
    std::array<std::byte, ZERO_PAGE_SIZE> zero_page {};
    std::memcpy(zero_page.data() + HDR_START, image.data() + HDR_START, header.header_end - HDR_START);
    std::span<std::byte> page { zero_page };
    store_le(page, VID_MODE, VID_MODE_NORMAL);
    store_le(page, TYPE_OF_LOADER, LOADER_UNDEFINED);
    store_le(page, CMD_LINE_PTR, static_cast<uint32_t>(layout::CMDLINE_START));
    if (inputs.initrd) {
        // place_initrd kept it below initrd_addr_max, which is a 32-bit field: fits ramdisk_image.
        store_le(page, RAMDISK_IMAGE, static_cast<uint32_t>(inputs.initrd->base.raw()));
        store_le(page, RAMDISK_SIZE, static_cast<uint32_t>(inputs.initrd->size));
    }
    if (inputs.rsdp && header.version >= ACPI_RSDP_VERSION)
        store_le(page, ACPI_RSDP_ADDR, inputs.rsdp->raw());
    auto map = build_e820(memory);
    if (map.size() > ZERO_PAGE_E820_MAX_ENTRIES)
        return fail(Errc::OutOfRange, "bzImage: more e820 entries than boot_params holds");
    put_e820(page, map);
    return zero_page;
}

} // namespace

bool has_bzimage_magic(std::span<std::byte const> image)
{
    return load_le<uint32_t>(image, BZIMAGE_HEADER_MAGIC_OFFSET) == HDRS_MAGIC;
}

Result<SetupHeader> parse_setup_header(std::span<std::byte const> image)
{
    if (!has_bzimage_magic(image))
        return fail(Errc::BadImage, "bzImage: no \"HdrS\" setup header");
    // Every field read below lies in [0, HDR_LIMIT); the setup sectors alone are longer.
    if (image.size() < HDR_LIMIT)
        return fail(Errc::BadImage, "bzImage: file shorter than its setup header");
    SetupHeader header;
    header.version = field<uint16_t>(image, VERSION);
    if (header.version < MIN_VERSION)
        return fail(Errc::BadImage, "bzImage: boot protocol older than 2.06 is not supported");
    if (field<uint16_t>(image, BOOT_FLAG) != BOOT_FLAG_VALUE)
        return fail(Errc::BadImage, "bzImage: boot_flag is not 0xAA55");
    header.loadflags = field<uint8_t>(image, LOADFLAGS);
    if (!(header.loadflags & LOADED_HIGH))
        return fail(Errc::BadImage, "bzImage: LOADED_HIGH clear (a zImage, loaded at 64 KiB)");
    if (header.version >= XLOADFLAGS_VERSION)
        header.xloadflags = field<uint16_t>(image, XLOADFLAGS);
    if (!(header.xloadflags & XLF_KERNEL_64))
        return fail(Errc::BadImage, "bzImage: no 64-bit entry point (XLF_KERNEL_64 clear)");
    // The header runs to 0x202 + the jump's displacement; from 2.12 on it holds init_size.
    header.header_end = 0x202 + field<uint8_t>(image, JUMP_LENGTH);
    if (header.header_end > HDR_LIMIT || header.header_end < INIT_SIZE + 4)
        return fail(Errc::BadImage, "bzImage: setup header length (byte at 0x201) is out of range");
    header.setup_sects = field<uint8_t>(image, SETUP_SECTS);
    if (header.setup_sects == 0)
        header.setup_sects = 4; // boot.rst: "If this field is 0, the real value is 4."
    header.kernel_offset = (uint64_t { header.setup_sects } + 1) * SECTOR_SIZE;
    if (image.size() <= header.kernel_offset)
        return fail(Errc::BadImage, "bzImage: no protected-mode kernel after the setup sectors");
    header.initrd_addr_max = field<uint32_t>(image, INITRD_ADDR_MAX);
    header.kernel_alignment = field<uint32_t>(image, KERNEL_ALIGNMENT);
    header.relocatable = field<uint8_t>(image, RELOCATABLE_KERNEL) != 0;
    if (header.relocatable && !std::has_single_bit(header.kernel_alignment))
        return fail(Errc::BadImage, "bzImage: kernel_alignment is not a power of two");
    header.cmdline_size = field<uint32_t>(image, CMDLINE_SIZE);
    header.pref_address = field<uint64_t>(image, PREF_ADDRESS);
    header.init_size = field<uint32_t>(image, INIT_SIZE);
    return header;
}

Result<BootSetup> load_bzimage(GuestMemory& memory, BootConfig const& config)
{
    auto header = TRY(parse_setup_header(config.kernel));
    auto payload = config.kernel.subspan(header.kernel_offset);
    uint64_t load_address = layout::HIGH_RAM_START;
    uint64_t kernel_end = TRY(kernel_window_end(header, load_address, payload.size()));
    // The decompressor uses all of [load address, kernel_end) before it reads the e820 map.
    if (!memory.span(GuestPhysAddr { load_address }, kernel_end - load_address))
        return fail(Errc::OutOfRange, "bzImage: init_size from the load address is not guest RAM");

    BootSetup setup { BootProtocol::Linux64, GuestPhysAddr { load_address + LINUX64_ENTRY_OFFSET },
        GuestPhysAddr { layout::ZERO_PAGE_START }, {} };
    TRY(write_cmdline(memory, config.cmdline, header.cmdline_size, setup.loaded));
    ZeroPageInputs inputs { std::nullopt, config.rsdp };
    if (!config.initrd.empty()) {
        uint64_t limit = uint64_t { header.initrd_addr_max } + 1; // initrd_addr_max is inclusive
        inputs.initrd = TRY(load_initrd(memory, config.initrd, kernel_end, limit,
            "initrd does not fit below initrd_addr_max", setup.loaded));
    }
    auto zero_page = TRY(build_zero_page(memory, config.kernel, header, inputs));
    TRY_VOID(memory.write(GuestPhysAddr { load_address }, payload));
    setup.loaded.push_back({ GuestPhysAddr { load_address }, payload.size(), "kernel" });
    TRY_VOID(memory.write(setup.boot_info, zero_page));
    setup.loaded.push_back({ setup.boot_info, zero_page.size(), "boot_params" });
    return setup;
}

} // namespace monarch::vmm::boot

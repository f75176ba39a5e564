// SPDX-License-Identifier: Apache-2.0
// load_kernel: format detection and the PVH path (ELF + hvm_start_info); the bzImage path is in
// bzimage.cpp, the command line and initrd placement in boot_data.cpp.
#include "vmm/boot/boot_loader.h"

#include "vmm/boot/boot_data.h"
#include "vmm/boot/bzimage.h"
#include "vmm/boot/elf_loader.h"
#include "vmm/boot/pvh.h"
#include "vmm/memory/layout.h"

namespace monarch::vmm::boot {

namespace {

// PVH (Xen's arch-x86/hvm/start_info.h): the kernel is entered in 32-bit protected mode at the
// note's address with %ebx = hvm_start_info; everything it needs is reached from there.
Result<BootSetup> load_pvh(GuestMemory& memory, BootConfig const& config)
{
    auto elf = TRY(parse_elf(config.kernel));
    BootSetup setup { BootProtocol::Pvh, elf.pvh_entry, GuestPhysAddr {}, {} };
    TRY_VOID(load_elf_segments(memory, config.kernel, elf, setup.loaded));
    // A PVH kernel states no command-line limit: only the VMM's area bounds it.
    PvhBootData data;
    data.cmdline = TRY(write_cmdline(memory, config.cmdline, layout::CMDLINE_MAX_SIZE - 1, setup.loaded));
    data.rsdp = config.rsdp;
    if (!config.initrd.empty()) {
        // Xen keeps PVH modules below 4 GiB; place_initrd also keeps it below the MMIO hole.
        data.initrd = TRY(load_initrd(memory, config.initrd, elf.end, layout::RAM_ABOVE_4G_START,
            "initrd does not fit in the RAM above the kernel", setup.loaded));
    }
    setup.boot_info = TRY(write_pvh_start_info(memory, data, setup.loaded));
    return setup;
}

} // namespace

std::string_view to_string(BootProtocol protocol)
{
    switch (protocol) {
    case BootProtocol::Pvh: return "PVH";
    case BootProtocol::Linux64: return "Linux 64-bit";
    }
    return "unknown";
}

Result<BootSetup> load_kernel(GuestMemory& memory, BootConfig const& config)
{
    if (has_elf_magic(config.kernel))
        return load_pvh(memory, config);
    if (has_bzimage_magic(config.kernel))
        return load_bzimage(memory, config);
    return fail(Errc::BadImage, "kernel image is neither an ELF64 nor a bzImage");
}

} // namespace monarch::vmm::boot

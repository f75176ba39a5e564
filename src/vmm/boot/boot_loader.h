// SPDX-License-Identifier: Apache-2.0
// Kernel loading: detects the image format (ELF64 with a PVH entry note, or a bzImage), loads
// the kernel, command line and initrd into guest RAM and writes the boot information the entry
// expects (hvm_start_info for PVH, the boot_params zero page for the Linux 64-bit protocol).
#pragma once

#include "common/result.h"
#include "common/strong_int.h"
#include "vmm/boot/e820.h"
#include "vmm/memory/guest_memory.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace monarch::vmm::boot {

enum class BootProtocol {
    Pvh,     // 32-bit protected mode, paging off, %ebx = hvm_start_info (Xen's PVH boot ABI)
    Linux64, // 64-bit long mode, identity-mapped, %rsi = boot_params (Linux x86 boot protocol)
};

// "PVH" or "Linux 64-bit", for logs.
[[nodiscard]] std::string_view to_string(BootProtocol protocol);

// One piece of guest RAM the loader wrote. `what` is a static literal: "kernel", "initrd",
// "cmdline", "boot_params", "start_info", "memmap", "modlist".
struct LoadedRegion {
    GuestPhysAddr base;
    uint64_t size { 0 };
    std::string_view what;
};

struct BootConfig {
    std::span<std::byte const> kernel;  // the whole file
    std::span<std::byte const> initrd;  // may be empty
    std::string_view cmdline;
    std::optional<GuestPhysAddr> rsdp;  // ACPI RSDP written by the firmware-table code, if any
};

struct BootSetup {
    BootProtocol protocol { BootProtocol::Pvh };
    // PVH: the 32-bit entry from XEN_ELFNOTE_PHYS32_ENTRY; Linux64: load address + 0x200.
    GuestPhysAddr entry;
    // PVH: hvm_start_info (goes in %ebx); Linux64: the boot_params zero page (goes in %rsi).
    GuestPhysAddr boot_info;
    std::vector<LoadedRegion> loaded; // everything the loader wrote
};

// Detects the format, validates it, loads it and writes the boot information. Malformed images
// fail with Errc::BadImage; an initrd that does not fit with Errc::OutOfRange; a command line
// longer than the kernel accepts with Errc::InvalidArgument.
[[nodiscard]] Result<BootSetup> load_kernel(GuestMemory& memory, BootConfig const& config);

enum class ImageKind { Kernel, Initrd };

// Reads a whole image file. Errc::Sys ("open kernel", "read initrd" ...) with errno, or
// Errc::BadImage when the file is empty.
[[nodiscard]] Result<std::vector<std::byte>> read_image_file(std::string const& path, ImageKind kind);

} // namespace monarch::vmm::boot

// SPDX-License-Identifier: Apache-2.0
// The bzImage loader for the Linux x86 64-bit boot protocol (Documentation/arch/x86/boot.rst):
// reads the setup header, loads the protected-mode kernel at 1 MiB and builds the zero page.
#pragma once

#include "common/result.h"
#include "vmm/boot/boot_loader.h"

#include <cstdint>
#include <span>

namespace monarch::vmm::boot {

// The setup header fields the loader uses, validated (boot.rst, "THE REAL-MODE KERNEL HEADER").
struct SetupHeader {
    uint8_t setup_sects { 0 };      // 0 already replaced by 4
    uint16_t version { 0 };         // 0x020f = 2.15
    uint8_t loadflags { 0 };
    uint16_t xloadflags { 0 };
    uint32_t initrd_addr_max { 0 }; // highest address the initrd may occupy (inclusive)
    uint32_t kernel_alignment { 0 };
    bool relocatable { false };
    uint32_t cmdline_size { 0 };    // longest command line, without the NUL
    uint64_t pref_address { 0 };
    uint32_t init_size { 0 };
    uint64_t header_end { 0 };      // 0x202 + the byte at 0x201: the end of the header to copy
    uint64_t kernel_offset { 0 };   // (setup_sects + 1) * 512: where the protected-mode code starts
};

inline constexpr uint64_t BZIMAGE_HEADER_MAGIC_OFFSET = 0x202; // "HdrS"
inline constexpr uint8_t LOADED_HIGH = 1 << 0;                 // loadflags
inline constexpr uint16_t XLF_KERNEL_64 = 1 << 0;              // xloadflags: 64-bit entry at +0x200
inline constexpr uint64_t LINUX64_ENTRY_OFFSET = 0x200;

// "HdrS" at 0x202: the image claims to be a bzImage (it may still be refused).
[[nodiscard]] bool has_bzimage_magic(std::span<std::byte const> image);

// Reads and checks the setup header: protocol 2.12 or later (xloadflags), LOADED_HIGH,
// XLF_KERNEL_64, a protected-mode kernel inside the file.
[[nodiscard]] Result<SetupHeader> parse_setup_header(std::span<std::byte const> image);

// Loads the kernel at HIGH_RAM_START, the command line and the initrd, and writes boot_params
// at ZERO_PAGE_START. Entry: load address + 0x200 in long mode with %rsi = the zero page.
[[nodiscard]] Result<BootSetup> load_bzimage(GuestMemory& memory, BootConfig const& config);

} // namespace monarch::vmm::boot

// SPDX-License-Identifier: Apache-2.0
// A guest built the way VmBuilder builds one, without KVM: GuestMemoryMmap, the firmware tables
// (acpi::write_firmware_tables) and the kernel, initrd and command line (boot::load_kernel), with
// the supplied regions recorded as Vmm records them. Plus the secret scan of the VMCrypt tests.
#pragma once

#include "../crypt/crypt_test_support.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/boot/boot_loader.h"
#include "vmm/memory/guest_memory_mmap.h"
#include "vmm/vmcrypt/clear_regions.h"
#include "vmm/vmcrypt/vm_sealing.h"

#include <catch2/catch.hpp>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

namespace monarch::vmm::vmcrypt::test {

using crypt::sealtest::Bytes;

inline constexpr uint64_t GUEST_MEMORY = 64ull << 20;
inline constexpr std::string_view CMDLINE = "console=ttyS0 testos.run=hello";

struct BuiltGuest {
    std::optional<GuestMemoryMmap> memory;
    acpi::FirmwareTables tables;
    boot::BootSetup setup;
    Bytes kernel;
    Bytes initrd;
    std::vector<boot::LoadedRegion> supplied;
};

inline BuiltGuest build_guest(uint64_t memory_size = GUEST_MEMORY)
{
    BuiltGuest guest;
    auto memory = GuestMemoryMmap::create(memory_size, 0);
    REQUIRE(memory.has_value());
    guest.memory.emplace(std::move(*memory));
    auto tables = acpi::write_firmware_tables(*guest.memory, acpi::FirmwareConfig { 1, {} });
    REQUIRE(tables.has_value());
    guest.tables = *tables;
    auto kernel = boot::read_image_file(MONARCH_TESTOS_ELF, boot::ImageKind::Kernel);
    REQUIRE(kernel.has_value());
    guest.kernel = std::move(*kernel);
    guest.initrd = crypt::sealtest::pattern_bytes(300 * 1024 + 123, 77);
    boot::BootConfig config { guest.kernel, guest.initrd, CMDLINE, guest.tables.rsdp };
    auto setup = boot::load_kernel(*guest.memory, config);
    REQUIRE(setup.has_value());
    guest.setup = *setup;
    guest.supplied = supplied_regions(guest.tables.regions, guest.setup.loaded);
    return guest;
}

inline VmSealing make_sealing(crypt::OwnerKey owner)
{
    auto sealing = VmSealing::create_default(std::move(owner));
    REQUIRE(sealing.has_value());
    return std::move(*sealing);
}

// True when any 16-byte run of `secret` occurs in `haystack` (which covers the whole secret).
inline bool contains_any_run(std::span<std::byte const> haystack, std::span<std::byte const> secret)
{
    constexpr size_t run = 16;
    for (size_t start = 0; start + run <= secret.size(); ++start) {
        if (::memmem(haystack.data(), haystack.size(), secret.data() + start, run) != nullptr)
            return true;
    }
    return false;
}

} // namespace monarch::vmm::vmcrypt::test

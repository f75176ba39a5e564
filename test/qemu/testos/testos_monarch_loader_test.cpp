// SPDX-License-Identifier: Apache-2.0
// testos.elf through monarch-vmm's own kernel loader (src/vmm/boot): it must be taken as a PVH
// image with the entry testos advertises, its segments (the task table included) must land at
// their physical addresses, and the start_info must carry the command line testos parses.
#include "elf_reader.h"
#include "support/vec_guest_memory.h"

#include "testos/task_table.h"
#include "vmm/boot/boot_loader.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

using namespace monarch;
using namespace monarch::test;

TEST_CASE("monarch-vmm's loader boots testos.elf through PVH", "[unit][testos]")
{
    auto file = vmm::boot::read_image_file(TESTOS_ELF, vmm::boot::ImageKind::Kernel);
    REQUIRE(file.has_value());
    auto image = ElfImage::load(TESTOS_ELF);
    REQUIRE(image.has_value());
    VecGuestMemory memory(64ull << 20);
    std::string const cmdline = "testos.run=smp testos.hz=250";
    auto setup = vmm::boot::load_kernel(memory, { .kernel = *file, .cmdline = cmdline });
    INFO((setup ? std::string("loaded") : std::string(to_string(setup.error()))));
    REQUIRE(setup.has_value());
    REQUIRE(setup->protocol == vmm::boot::BootProtocol::Pvh);
    REQUIRE(setup->entry.raw() == image->symbol("pvh_start32")->value);

    // hvm_start_info: magic, then the command line where cmdline_paddr (offset 24) says.
    auto magic = memory.read_obj<uint32_t>(setup->boot_info);
    REQUIRE(magic.has_value());
    REQUIRE(*magic == 0x336ec578u);
    auto cmdline_paddr = memory.read_obj<uint64_t>(GuestPhysAddr { setup->boot_info.raw() + 24 });
    REQUIRE(cmdline_paddr.has_value());
    std::string loaded_cmdline(cmdline.size(), '\0');
    REQUIRE(memory.read(GuestPhysAddr { *cmdline_paddr }, std::as_writable_bytes(std::span { loaded_cmdline })).has_value());
    REQUIRE(loaded_cmdline == cmdline);

    auto symbol = image->symbol(TESTOS_TASK_TABLE_SYMBOL);
    REQUIRE(symbol.has_value());
    auto table = memory.read_obj<testos_task_table>(GuestPhysAddr { symbol->value });
    REQUIRE(table.has_value());
    REQUIRE(table->magic == TESTOS_TASK_TABLE_MAGIC);
    REQUIRE(table->entry_size == sizeof(testos_task));
}

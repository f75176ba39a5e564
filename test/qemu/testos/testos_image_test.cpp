// SPDX-License-Identifier: Apache-2.0
// testos.elf as a loader and an introspecting VMM see it: an ELF64 x86-64 executable loaded
// at 1 MiB and above (physical = virtual), a Xen PVH entry note pointing into its code, and the
// symbol testos_task_table whose initial bytes follow testos/task_table.h.
#include "elf_reader.h"
#include "support/skip.h"
#include "support/subprocess.h"

#include "testos/task_table.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <regex>
#include <sstream>

using namespace monarch::test;

namespace {

constexpr uint32_t PT_LOAD = 1;
constexpr uint32_t PF_X = 1;
constexpr uint32_t XEN_ELFNOTE_PHYS32_ENTRY = 18;

ElfImage load_testos()
{
    auto image = ElfImage::load(TESTOS_ELF);
    INFO(TESTOS_ELF);
    REQUIRE(image.has_value());
    return *image;
}

} // namespace

TEST_CASE("testos.elf is an x86-64 executable loaded at 1 MiB, physical = virtual", "[unit][testos]")
{
    auto image = load_testos();
    REQUIRE(image.type() == 2);     // ET_EXEC
    REQUIRE(image.machine() == 62); // EM_X86_64
    int loads = 0;
    for (auto const& s : image.segments()) {
        if (s.type != PT_LOAD)
            continue;
        loads++;
        REQUIRE(s.paddr == s.vaddr);
        REQUIRE(s.paddr >= 0x100000);
        REQUIRE(s.paddr + s.memory_size <= 0x4000000); // fits the 64 MiB the tests give it
    }
    REQUIRE(loads > 0);
}

TEST_CASE("testos.elf has a PVH entry note that points at pvh_start32 in executable code", "[unit][testos]")
{
    auto image = load_testos();
    std::optional<uint64_t> entry;
    for (auto const& note : image.notes()) {
        if (note.name == "Xen" && note.type == XEN_ELFNOTE_PHYS32_ENTRY && (note.desc.size() == 4 || note.desc.size() == 8)) {
            uint64_t value = 0;
            std::memcpy(&value, note.desc.data(), note.desc.size());
            entry = value;
        }
    }
    REQUIRE(entry.has_value());
    auto symbol = image.symbol("pvh_start32");
    REQUIRE(symbol.has_value());
    REQUIRE(*entry == symbol->value);
    bool in_code = false;
    for (auto const& s : image.segments())
        in_code = in_code || (s.type == PT_LOAD && (s.flags & PF_X) && *entry >= s.paddr && *entry < s.paddr + s.file_size);
    REQUIRE(in_code);
    REQUIRE(*entry < (1ull << 32));
}

TEST_CASE("testos.elf's task table symbol has the documented header", "[unit][testos]")
{
    auto image = load_testos();
    auto symbol = image.symbol(TESTOS_TASK_TABLE_SYMBOL);
    REQUIRE(symbol.has_value());
    REQUIRE(symbol->size == sizeof(testos_task_table));
    REQUIRE(symbol->value % 4096 == 0); // its own pages: mapped into ring 3
    auto bytes = image.bytes_at(symbol->value, sizeof(testos_task_table));
    REQUIRE(bytes.has_value());
    testos_task_table table;
    std::memcpy(&table, bytes->data(), sizeof(table));
    REQUIRE(table.magic == TESTOS_TASK_TABLE_MAGIC);
    REQUIRE(std::memcmp(&table.magic, "TSKTABLE", 8) == 0);
    REQUIRE(table.version == TESTOS_TASK_TABLE_VERSION);
    REQUIRE(table.header_size == offsetof(testos_task_table, tasks));
    REQUIRE(table.entry_count == TESTOS_MAX_TASKS);
    REQUIRE(table.entry_size == sizeof(testos_task));
    for (auto const& task : table.tasks)
        REQUIRE(task.state == TESTOS_TASK_FREE);
}

// ENVIRONMENT.md: on the PVM hosts ring 0 is emulated, and the emulator fails on xrstor,
// cmpxchg16b and a 32-bit iret; ring 3 cannot use syscall. testos must contain none of them,
// nor any SSE/AVX/x87 instruction (no extended state is ever set up).
TEST_CASE("testos.elf uses no instruction the PVM hosts cannot run", "[unit][testos]")
{
    require_program("objdump");
    auto result = run_process({ "objdump", "-d", "--no-show-raw-insn", "-j", ".text", "-j", ".user_text", TESTOS_ELF });
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 0);
    std::regex instruction(R"(^\s+[0-9a-f]+:\s+(\S+)\s*(.*)$)");
    std::regex forbidden_mnemonic(R"(^(xsave|xrstor|fxsave|fxrstor|cmpxchg16b|syscall|sysret|iret$|iretl|iretw|f[a-z]+|.*ps$|.*pd$))");
    std::istringstream lines(result.output);
    int instructions = 0;
    for (std::string line; std::getline(lines, line);) {
        std::smatch m;
        if (!std::regex_match(line, m, instruction))
            continue;
        instructions++;
        INFO(line);
        REQUIRE_FALSE(std::regex_search(m[1].str(), forbidden_mnemonic));
        REQUIRE(m[2].str().find("%xmm") == std::string::npos);
        REQUIRE(m[2].str().find("%ymm") == std::string::npos);
        REQUIRE(m[2].str().find("%st") == std::string::npos);
    }
    REQUIRE(instructions > 1000);
}

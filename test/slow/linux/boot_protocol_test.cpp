// SPDX-License-Identifier: Apache-2.0
// The Linux boot path on monarch-vmm (issue 2, item 9): Debian's kernel, as a bzImage (64-bit
// boot protocol) and as the uncompressed vmlinux (PVH), prints the command line we passed and
// an e820 map equal to the one boot::build_e820 builds for the same memory size.
#include "linux_run.h"

#include "support/skip.h"
#include "vmm/boot/e820.h"
#include "vmm/memory/guest_memory_mmap.h"

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <algorithm>
#include <regex>

using namespace monarch;
using namespace monarch::test;

namespace {

constexpr uint64_t MEMORY = 512ULL << 20;

std::string type_name(uint32_t type)
{
    switch (type) {
    case vmm::boot::E820_RAM: return "usable";
    case vmm::boot::E820_RESERVED: return "reserved";
    case vmm::boot::E820_ACPI: return "ACPI data";
    default: return fmt::format("type {}", type);
    }
}

// Linux's PVH entry adds its own entry for the legacy ISA range [0xa0000, 0x100000) to the map
// it was given (init_pvh_bootparams(), arch/x86/platform/pvh/enlighten.c); the bzImage path
// takes our map as it is.
enum class Entry { BootProtocol, Pvh };

// What Linux prints for our map: e820__update_table() merges overlapping and adjacent entries
// of one type, then each line is "BIOS-e820: [mem 0x%016llx-0x%016llx] <type>" with an
// inclusive end.
std::vector<std::string> expected_e820_lines(Entry entry_point)
{
    auto memory = vmm::GuestMemoryMmap::create(MEMORY, 0);
    REQUIRE(memory);
    auto entries = vmm::boot::build_e820(*memory);
    if (entry_point == Entry::Pvh)
        entries.push_back({ 0xa0000, 0x60000, vmm::boot::E820_RESERVED });
    std::ranges::sort(entries, {}, &vmm::boot::E820Entry::addr);
    std::vector<vmm::boot::E820Entry> merged;
    for (auto const& entry : entries) {
        if (!merged.empty() && merged.back().type == entry.type && merged.back().addr + merged.back().size >= entry.addr)
            merged.back().size = std::max(merged.back().addr + merged.back().size, entry.addr + entry.size) - merged.back().addr;
        else
            merged.push_back(entry);
    }
    std::vector<std::string> lines;
    for (auto const& entry : merged)
        lines.push_back(fmt::format("BIOS-e820: [mem 0x{:016x}-0x{:016x}] {}", entry.addr, entry.addr + entry.size - 1, type_name(entry.type)));
    return lines;
}

std::vector<std::string> printed_e820_lines(std::string const& console)
{
    std::vector<std::string> lines;
    std::regex pattern(R"(BIOS-e820: \[mem 0x[0-9a-f]{16}-0x[0-9a-f]{16}\] [^\r\n]+)");
    for (auto it = std::sregex_iterator(console.begin(), console.end(), pattern); it != std::sregex_iterator(); ++it)
        lines.push_back(it->str());
    return lines;
}

// The map is complete once a line follows the last BIOS-e820 line.
bool map_printed(std::string const& console)
{
    auto const last = console.rfind("BIOS-e820:");
    if (last == std::string::npos)
        return false;
    // Not npos + 1 (= 0) when the last line is still arriving: it would find any newline.
    auto const end_of_last = console.find('\n', last);
    return end_of_last != std::string::npos && console.find('\n', end_of_last + 1) != std::string::npos;
}

void check_boot_protocol(std::string const& image, Entry entry_point)
{
    std::string cmdline = "earlyprintk=serial console=ttyS0 monarch.check=4711 reboot=k panic=-1";
    auto run = run_until({ "--kernel", image, "--memory", "512M", "--cmdline", cmdline }, map_printed, std::chrono::seconds(170));
    INFO(run.console);
    REQUIRE(run.satisfied);
    CHECK(run.console.find("Command line: " + cmdline) != std::string::npos);
    CHECK(printed_e820_lines(run.console) == expected_e820_lines(entry_point));
}

} // namespace

TEST_CASE("vmlinux through PVH gets our command line and e820 map", "[slow][kvm][linux]")
{
    require_kvm();
    check_boot_protocol(linux_kernel_directory() + "/vmlinux", Entry::Pvh);
}

TEST_CASE("the bzImage through the 64-bit boot protocol gets our command line and e820 map", "[slow][kvm][linux]")
{
    require_kvm();
    check_boot_protocol(linux_kernel_directory() + "/vmlinuz", Entry::BootProtocol);
}

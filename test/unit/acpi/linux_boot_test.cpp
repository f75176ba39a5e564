// SPDX-License-Identifier: Apache-2.0
// Debian's kernel reads Monarch's tables. QEMU's microvm machine with acpi=off builds no ACPI
// tables of its own; ours are loaded where write_firmware_tables puts them (loader devices at
// 0x9fc00 and 0xe0000), and the kernel, which runs until it finds no root file system, must
// find the RSDP by its BIOS-area scan, accept every table, bring up the vCPUs from the MADT,
// report S5 from the DSDT's \_S5 and enumerate the DSDT's devices through PnP ACPI. With PCI,
// microvm's PCIe host (whose ECAM and 32-bit window sit where Monarch's do) is found through
// Monarch's MCFG and \_SB.PCI0 alone, microvm having no port 0xCF8.
#include "support/skip.h"
#include "support/subprocess.h"
#include "support/vec_guest_memory.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/devices/pci/pci_firmware.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace monarch;
namespace layout = monarch::vmm::layout;

namespace {

std::string fetch_kernel_directory()
{
    auto fetched = test::run_process({ MONARCH_SOURCE_DIR "/scripts/fetch-linux-kernel" }, { .timeout = std::chrono::minutes(10) });
    if (!fetched.exited || fetched.exit_code != 0)
        test::skip("the Debian cloud kernel is not available (scripts/fetch-linux-kernel failed)");
    auto output = fetched.output;
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r'))
        output.pop_back();
    auto directory = output.substr(output.find_last_of('\n') + 1);
    if (!std::filesystem::exists(directory + "/vmlinuz"))
        test::skip("scripts/fetch-linux-kernel printed no kernel directory");
    return directory;
}

void save(test::VecGuestMemory& memory, uint64_t base, uint64_t size, std::filesystem::path const& file)
{
    auto bytes = memory.span(GuestPhysAddr { base }, size);
    REQUIRE(bytes);
    std::ofstream out(file, std::ios::binary);
    // SAFETY: ostream::write takes char bytes; std::byte and char have the same representation.
    out.write(reinterpret_cast<char const*>(bytes->data()), static_cast<std::streamsize>(bytes->size()));
    REQUIRE(out.good());
}

std::string loader_device(std::filesystem::path const& file, uint64_t address)
{
    return "loader,file=" + file.string() + ",addr=" + std::to_string(address) + ",force-raw=on";
}

} // namespace

TEST_CASE("Linux accepts the ACPI tables and starts every vCPU from them", "[qemu][acpi]")
{
    test::require_program("qemu-system-x86_64");
    auto kernel = fetch_kernel_directory() + "/vmlinuz";

    constexpr uint32_t vcpus = 3;
    test::VecGuestMemory memory(2 * layout::MiB);
    REQUIRE(vmm::acpi::write_firmware_tables(memory, { .vcpu_count = vcpus }));
    char scratch[] = "/tmp/monarch-acpi-XXXXXX";
    REQUIRE(::mkdtemp(scratch) != nullptr);
    std::filesystem::path directory { scratch };
    // 16 KiB of the ACPI window is plenty for 3 vCPUs and stays clear of microvm's BIOS at 0xf0000.
    save(memory, layout::EBDA_START, layout::LOW_RAM_END - layout::EBDA_START, directory / "ebda.bin");
    save(memory, layout::ACPI_TABLES_START, 0x4000, directory / "acpi.bin");

    auto result = test::run_process(
        { "qemu-system-x86_64", "-M", "microvm,acpi=off,x-option-roms=off", "-accel", "tcg", "-smp", std::to_string(vcpus),
          "-m", "256", "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot", "-kernel", kernel,
          // reboot=t: after the panic, a triple fault, which -no-reboot turns into QEMU exiting.
          "-append", "console=ttyS0 panic=1 reboot=t",
          "-device", loader_device(directory / "acpi.bin", layout::ACPI_TABLES_START),
          "-device", loader_device(directory / "ebda.bin", layout::EBDA_START) },
        { .timeout = std::chrono::seconds(150) });
    std::filesystem::remove_all(directory);
    INFO(test::describe(result));
    REQUIRE_FALSE(result.timed_out);
    auto const& log = result.output;
    REQUIRE(log.find("ACPI: RSDP 0x00000000000E0000 000024 (v02 MONRCH)") != std::string::npos);
    for (char const* table : { "ACPI: XSDT", "ACPI: FACP", "ACPI: DSDT", "ACPI: FACS", "ACPI: APIC" })
        REQUIRE(log.find(table) != std::string::npos);
    REQUIRE(log.find("ACPI: Using ACPI (MADT) for SMP configuration information") != std::string::npos);
    REQUIRE(log.find("smp: Brought up 1 node, 3 CPUs") != std::string::npos);
    REQUIRE(log.find("ACPI: INT_SRC_OVR (bus 0 bus_irq 0 global_irq 2 high edge)") != std::string::npos);
    REQUIRE(log.find("ACPI: INT_SRC_OVR (bus 0 bus_irq 9 global_irq 9 high level)") != std::string::npos);
    REQUIRE(log.find("ACPI: 1 ACPI AML tables successfully acquired and loaded") != std::string::npos);
    REQUIRE(log.find("ACPI: PM: (supports S0 S5)") != std::string::npos);
    REQUIRE(log.find("pnp: PnP ACPI: found 3 devices") != std::string::npos);
    REQUIRE(log.find("ttyS0 at I/O 0x3f8 (irq = 4") != std::string::npos);
    for (char const* complaint : { "ACPI BIOS Error", "ACPI BIOS Warning", "Firmware Bug", "Incorrect checksum", "Invalid checksum" })
        REQUIRE(log.find(complaint) == std::string::npos);
}

TEST_CASE("Linux finds the PCI root bridge through MCFG and PCI0 and enumerates a device", "[qemu][acpi][pci]")
{
    test::require_program("qemu-system-x86_64");
    auto kernel = fetch_kernel_directory() + "/vmlinuz";

    test::VecGuestMemory memory(2 * layout::MiB);
    vmm::acpi::FirmwareConfig config { .vcpu_count = 1 };
    config.pci = vmm::pci::firmware_info(vmm::pci::PciWindows::for_ram_end(256 * layout::MiB));
    REQUIRE(vmm::acpi::write_firmware_tables(memory, config));
    char scratch[] = "/tmp/monarch-acpi-XXXXXX";
    REQUIRE(::mkdtemp(scratch) != nullptr);
    std::filesystem::path directory { scratch };
    save(memory, layout::EBDA_START, layout::LOW_RAM_END - layout::EBDA_START, directory / "ebda.bin");
    save(memory, layout::ACPI_TABLES_START, 0x4000, directory / "acpi.bin");

    // microvm builds its PCIe host only with ACPI on; its own tables are placed by its
    // firmware above ours, and the kernel's scan finds our RSDP at 0xe0000 first.
    auto result = test::run_process(
        { "qemu-system-x86_64", "-M", "microvm,acpi=on,pcie=on,x-option-roms=off", "-accel", "tcg", "-smp", "1",
          "-m", "256", "-nographic", "-nodefaults", "-serial", "stdio", "-no-reboot", "-kernel", kernel,
          "-append", "console=ttyS0 panic=1 reboot=t",
          "-device", loader_device(directory / "acpi.bin", layout::ACPI_TABLES_START),
          "-device", loader_device(directory / "ebda.bin", layout::EBDA_START),
          "-device", "virtio-rng-pci" },
        { .timeout = std::chrono::seconds(150) });
    std::filesystem::remove_all(directory);
    INFO(test::describe(result));
    REQUIRE_FALSE(result.timed_out);
    auto const& log = result.output;
    REQUIRE(log.find("ACPI: RSDP 0x00000000000E0000 000024 (v02 MONRCH)") != std::string::npos);
    REQUIRE(log.find("ACPI: MCFG 0x") != std::string::npos);
    REQUIRE(log.find("PCI: MMCONFIG for domain 0000 [bus 00-ff] at [mem 0xe0000000-0xefffffff] (base 0xe0000000)") != std::string::npos);
    REQUIRE(log.find("PCI: MMCONFIG at [mem 0xe0000000-0xefffffff] reserved in ACPI motherboard resources") != std::string::npos);
    REQUIRE(log.find("ACPI: PCI Root Bridge [PCI0] (domain 0000 [bus 00-ff])") != std::string::npos);
    REQUIRE(log.find("root bus resource [io  0xc000-0xffff window]") != std::string::npos);
    REQUIRE(log.find("root bus resource [mem 0xc0000000-0xdfffffff window]") != std::string::npos);
    REQUIRE(log.find("root bus resource [mem 0x100000000-0x8ffffffff window]") != std::string::npos);
    REQUIRE(log.find("root bus resource [bus 00-ff]") != std::string::npos);
    REQUIRE(log.find("pci 0000:00:00.0: [1b36:0008] type 00 class 0x060000") != std::string::npos);
    REQUIRE(log.find("pci 0000:00:01.0: [1af4:1005]") != std::string::npos); // read through ECAM
    REQUIRE(log.find("pnp: PnP ACPI: found 4 devices") != std::string::npos); // + MRES
    for (char const* complaint : { "ACPI BIOS Error", "ACPI BIOS Warning", "Firmware Bug", "Incorrect checksum", "Invalid checksum", "AE_AML", "PCI0._PRT" })
        REQUIRE(log.find(complaint) == std::string::npos);
    // The one ACPI error allowed: microvm with ACPI on has no PM1 registers where our FADT
    // puts them (monarch-vmm has them), so the RTC driver cannot disable its fixed event.
    std::istringstream lines { log };
    for (std::string line; std::getline(lines, line);)
        if (line.find("ACPI Error") != std::string::npos)
            CHECK(line.find("Could not disable RealTimeClock events") != std::string::npos);
}

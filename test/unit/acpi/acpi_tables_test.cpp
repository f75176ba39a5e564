// SPDX-License-Identifier: Apache-2.0
// ACPI tables parsed back from guest memory the way a kernel finds them: scan for the RSDP
// (Linux: acpi_find_root_pointer over 0xe0000-0xfffff on 16-byte steps), follow the XSDT,
// check every checksum and the fields the spec fixes (ACPI 6.x 5.2).
#include "table_reader.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/arch/topology.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>

using namespace monarch;
using namespace monarch::test;
namespace layout = monarch::vmm::layout;

namespace {

struct Table {
    uint64_t address;
    std::vector<uint8_t> bytes;
};

std::optional<uint64_t> scan_for_rsdp(vmm::GuestMemory& memory)
{
    for (uint64_t address = 0xe0000; address < 0x100000; address += 16) {
        auto candidate = read_bytes(memory, address, 20);
        if (text(candidate, 0, 8) == "RSD PTR " && byte_sum(candidate, 20) == 0)
            return address;
    }
    return std::nullopt;
}

Table read_table(vmm::GuestMemory& memory, uint64_t address)
{
    auto header = read_bytes(memory, address, 36);
    auto length = le(header, 4, 4);
    REQUIRE(length >= 36);
    auto bytes = read_bytes(memory, address, length);
    REQUIRE(byte_sum(bytes, length) == 0);
    REQUIRE(text(bytes, 10, 6) == "MONRCH");
    return { address, bytes };
}

// Signature -> table, through RSDP and XSDT.
std::map<std::string, Table> find_tables(vmm::GuestMemory& memory, uint64_t expected_rsdp)
{
    auto rsdp_at = scan_for_rsdp(memory);
    REQUIRE(rsdp_at == expected_rsdp);
    auto rsdp = read_bytes(memory, *rsdp_at, 36);
    REQUIRE(rsdp[15] == 2);                  // revision
    REQUIRE(le(rsdp, 20, 4) == 36);          // length
    REQUIRE(byte_sum(rsdp, 36) == 0);        // extended checksum
    REQUIRE(text(rsdp, 9, 6) == "MONRCH");
    auto xsdt = read_table(memory, le(rsdp, 24, 8));
    REQUIRE(text(xsdt.bytes, 0, 4) == "XSDT");
    std::map<std::string, Table> tables;
    for (size_t offset = 36; offset < xsdt.bytes.size(); offset += 8) {
        auto table = read_table(memory, le(xsdt.bytes, offset, 8));
        tables.emplace(text(table.bytes, 0, 4), table);
    }
    return tables;
}

vmm::acpi::FirmwareTables write(test::VecGuestMemory& memory, uint32_t vcpus, vmm::arch::CpuTopology topology = {})
{
    auto tables = vmm::acpi::write_firmware_tables(memory, { .vcpu_count = vcpus, .topology = topology });
    REQUIRE(tables);
    return *tables;
}

size_t count_occurrences(std::vector<uint8_t> const& haystack, std::vector<uint8_t> const& needle)
{
    size_t count = 0;
    for (auto it = haystack.begin(); (it = std::search(it, haystack.end(), needle.begin(), needle.end())) != haystack.end(); ++it)
        ++count;
    return count;
}

} // namespace

TEST_CASE("RSDP is found by the BIOS-area scan, tables chain and checksum", "[unit][acpi]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    auto written = write(memory, 2);
    REQUIRE(written.rsdp.raw() % 16 == 0);
    auto tables = find_tables(memory, written.rsdp.raw());
    REQUIRE(tables.size() == 2);
    REQUIRE(tables.count("FACP") == 1);
    REQUIRE(tables.count("APIC") == 1);
    for (auto const& [name, table] : tables) {
        REQUIRE(table.address >= layout::ACPI_TABLES_START);
        REQUIRE(table.address + table.bytes.size() <= layout::ACPI_TABLES_END);
    }
    REQUIRE(written.regions.size() == 2);
    REQUIRE(written.regions[1].first.raw() == layout::ACPI_TABLES_START);
    REQUIRE(written.regions[1].second == layout::ACPI_TABLES_END - layout::ACPI_TABLES_START);
}

TEST_CASE("FADT: revision 6, DSDT and FACS, PM1a blocks, SCI, reset register", "[unit][acpi]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    auto written = write(memory, 1);
    auto fadt = find_tables(memory, written.rsdp.raw()).at("FACP").bytes;
    REQUIRE(fadt.size() == 276);
    REQUIRE(fadt[8] == 6);
    REQUIRE(le(fadt, 46, 2) == layout::IRQ_ACPI_SCI);
    REQUIRE(le(fadt, 48, 4) == 0);                           // SMI_CMD: always in ACPI mode
    REQUIRE(le(fadt, 56, 4) == layout::PORT_ACPI_PM1A_EVT);
    REQUIRE(le(fadt, 64, 4) == layout::PORT_ACPI_PM1A_CNT);
    REQUIRE(le(fadt, 76, 4) == 0);                           // no PM timer
    REQUIRE(fadt[88] == 4);                                  // PM1_EVT_LEN
    REQUIRE(fadt[89] == 2);                                  // PM1_CNT_LEN
    uint32_t flags = uint32_t(le(fadt, 112, 4));
    REQUIRE(flags & (1u << 10));                             // RESET_REG_SUP
    REQUIRE_FALSE(flags & (1u << 20));                       // not HW_REDUCED_ACPI
    // The power button is fixed hardware (PWR_BUTTON clear: Linux then makes LNXPWRBN, the
    // device vm.power-button reaches); there is no sleep button (SLP_BUTTON set).
    CHECK_FALSE(flags & (1u << 4));
    CHECK(flags & (1u << 5));
    REQUIRE(le(fadt, 109, 2) & 0x2);                         // IAPC_BOOT_ARCH: 8042
    // RESET_REG: GAS in system I/O space, 8 bits at the reset port.
    REQUIRE(fadt[116] == 1);
    REQUIRE(fadt[117] == 8);
    REQUIRE(le(fadt, 120, 8) == layout::PORT_ACPI_RESET);
    REQUIRE(fadt[128] == layout::ACPI_RESET_VALUE);
    // X_PM1a_EVT_BLK / X_PM1a_CNT_BLK agree with the 32-bit fields.
    REQUIRE(fadt[148] == 1);
    REQUIRE(fadt[149] == 32);
    REQUIRE(le(fadt, 152, 8) == layout::PORT_ACPI_PM1A_EVT);
    REQUIRE(fadt[172] == 1);
    REQUIRE(fadt[173] == 16);
    REQUIRE(le(fadt, 176, 8) == layout::PORT_ACPI_PM1A_CNT);

    uint64_t dsdt_at = le(fadt, 140, 8);
    REQUIRE(le(fadt, 40, 4) == dsdt_at);
    auto dsdt = read_table(memory, dsdt_at);
    REQUIRE(text(dsdt.bytes, 0, 4) == "DSDT");

    uint64_t facs_at = le(fadt, 36, 4);
    REQUIRE(le(fadt, 132, 8) == 0); // X_FIRMWARE_CTRL unused: one FACS pointer, not two
    REQUIRE(facs_at % 64 == 0);
    auto facs = read_bytes(memory, facs_at, 64);
    REQUIRE(text(facs, 0, 4) == "FACS");
    REQUIRE(le(facs, 4, 4) == 64);
}

TEST_CASE("DSDT: _S5 package, COM1 and one processor device per vCPU", "[unit][acpi]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    auto written = write(memory, 6);
    auto fadt = find_tables(memory, written.rsdp.raw()).at("FACP").bytes;
    auto dsdt = read_table(memory, le(fadt, 140, 8)).bytes;

    // NameOp "_S5_" PackageOp PkgLength NumElements=4, SLP_TYPa and SLP_TYPb as BytePrefix values.
    std::vector<uint8_t> s5 { 0x08, '_', 'S', '5', '_', 0x12 };
    auto at = std::search(dsdt.begin(), dsdt.end(), s5.begin(), s5.end());
    REQUIRE(at != dsdt.end());
    size_t offset = size_t(at - dsdt.begin()) + s5.size();
    REQUIRE(dsdt[offset + 1] == 4);
    REQUIRE(dsdt[offset + 2] == 0x0a);
    REQUIRE(dsdt[offset + 3] == layout::ACPI_SLP_TYP_S5);
    REQUIRE(dsdt[offset + 4] == 0x0a);
    REQUIRE(dsdt[offset + 5] == layout::ACPI_SLP_TYP_S5);

    // _HID EISAID("PNP0501") as DWordPrefix + the compressed ID, and COM1's I/O resource.
    REQUIRE(count_occurrences(dsdt, { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x05, 0x01 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x22, 0x10, 0x00 }) == 1); // IRQ 4
    // The i8042 keyboard (PNP0303, ports 0x60 and 0x64, IRQ 1) and the RTC (PNP0B00, IRQ 8).
    REQUIRE(count_occurrences(dsdt, { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x03, 0x03 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x22, 0x02, 0x00 }) == 1);
    REQUIRE(count_occurrences(dsdt, { '_', 'H', 'I', 'D', 0x0c, 0x41, 0xd0, 0x0b, 0x00 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x47, 0x01, 0x70, 0x00, 0x70, 0x00, 0x01, 0x02 }) == 1);
    REQUIRE(count_occurrences(dsdt, { 0x22, 0x00, 0x01 }) == 1);
    std::vector<uint8_t> processor_hid { 0x0d, 'A', 'C', 'P', 'I', '0', '0', '0', '7', 0 };
    REQUIRE(count_occurrences(dsdt, processor_hid) == 6);

    // The \_SB scope after _S5 runs exactly to the end of the table (PkgLength, ACPI 20.2.4).
    size_t scope_at = offset + dsdt[offset]; // the package's PkgLength (1 byte here) spans it
    REQUIRE(dsdt[scope_at] == 0x10);
    uint8_t lead = dsdt[scope_at + 1];
    size_t extra = lead >> 6;
    size_t length = lead & 0xf;
    for (size_t i = 0; i < extra; ++i)
        length |= size_t(dsdt[scope_at + 2 + i]) << (4 + 8 * i);
    if (extra == 0)
        length = lead & 0x3f;
    REQUIRE(scope_at + 1 + length == dsdt.size());
    REQUIRE(text(dsdt, scope_at + 2 + extra, 5) == "\\_SB_");
}

TEST_CASE("MADT: one enabled local APIC per vCPU, IOAPIC, overrides, LINT1 NMI", "[unit][acpi]")
{
    for (uint32_t vcpus : { 1u, 2u, 4u, 6u, 254u }) {
        CAPTURE(vcpus);
        test::VecGuestMemory memory(2 * layout::MiB);
        vmm::arch::CpuTopology topology { .vcpu_count = vcpus };
        auto written = write(memory, vcpus);
        auto madt = find_tables(memory, written.rsdp.raw()).at("APIC").bytes;
        REQUIRE(le(madt, 36, 4) == layout::LAPIC_START);
        REQUIRE(le(madt, 40, 4) & 1); // PCAT_COMPAT

        std::vector<uint32_t> apic_ids;
        int ioapics = 0, nmis = 0;
        std::map<uint32_t, std::pair<uint32_t, uint32_t>> overrides; // irq -> (gsi, flags)
        for (size_t offset = 44; offset < madt.size();) {
            uint8_t type = madt[offset];
            uint8_t length = madt[offset + 1];
            REQUIRE(length >= 2);
            if (type == 0) {
                REQUIRE(length == 8);
                REQUIRE(madt[offset + 2] == apic_ids.size()); // processor UID
                REQUIRE((le(madt, offset + 4, 4) & 1) == 1);  // enabled
                apic_ids.push_back(madt[offset + 3]);
            } else if (type == 1) {
                REQUIRE(length == 12);
                REQUIRE(le(madt, offset + 4, 4) == layout::IOAPIC_START);
                REQUIRE(le(madt, offset + 8, 4) == 0);
                REQUIRE(madt[offset + 2] > vcpus - 1); // no clash with a local APIC ID
                ++ioapics;
            } else if (type == 2) {
                REQUIRE(length == 10);
                REQUIRE(madt[offset + 2] == 0); // ISA
                overrides[madt[offset + 3]] = { uint32_t(le(madt, offset + 4, 4)), uint32_t(le(madt, offset + 8, 2)) };
            } else if (type == 4) {
                REQUIRE(length == 6);
                REQUIRE(madt[offset + 2] == 0xff);
                REQUIRE(madt[offset + 5] == 1); // LINT1
                ++nmis;
            }
            offset += length;
            REQUIRE(offset <= madt.size());
        }
        REQUIRE(apic_ids.size() == vcpus);
        for (uint32_t i = 0; i < vcpus; ++i)
            REQUIRE(apic_ids[i] == vmm::arch::apic_id_of(i, topology));
        REQUIRE(ioapics == 1);
        REQUIRE(nmis == 1);
        REQUIRE(overrides.size() == 2);
        REQUIRE(overrides.at(0).first == 2);
        REQUIRE(((overrides.at(0).second >> 2) & 3) == 1); // edge
        REQUIRE(overrides.at(layout::IRQ_ACPI_SCI).first == layout::IRQ_ACPI_SCI);
        REQUIRE((overrides.at(layout::IRQ_ACPI_SCI).second & 3) == 1);        // active high
        REQUIRE(((overrides.at(layout::IRQ_ACPI_SCI).second >> 2) & 3) == 3); // level
    }
}

TEST_CASE("MADT announces the topology's sparse APIC IDs", "[unit][acpi]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    vmm::arch::CpuTopology topology { .vcpu_count = 6, .threads_per_core = 1, .cores_per_die = 3 };
    auto written = write(memory, 6, topology);
    auto madt = find_tables(memory, written.rsdp.raw()).at("APIC").bytes;
    std::vector<uint32_t> ids;
    for (size_t offset = 44; offset < madt.size(); offset += madt[offset + 1])
        if (madt[offset] == 0)
            ids.push_back(madt[offset + 3]);
    REQUIRE(ids == std::vector<uint32_t> { 0, 1, 2, 4, 5, 6 });
}

TEST_CASE("firmware tables refuse impossible vCPU counts and missing RAM", "[unit][acpi]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    for (uint32_t vcpus : { 0u, 255u, 1000u }) {
        auto result = vmm::acpi::write_firmware_tables(memory, { .vcpu_count = vcpus });
        REQUIRE_FALSE(result);
        REQUIRE(result.error().code == Errc::InvalidArgument);
    }
    test::VecGuestMemory small(layout::LOW_RAM_END);
    auto result = vmm::acpi::write_firmware_tables(small, { .vcpu_count = 1 });
    REQUIRE_FALSE(result);
    REQUIRE(result.error().code == Errc::OutOfRange);
}

// SPDX-License-Identifier: Apache-2.0
// The PCI parts of the firmware tables: MCFG in the XSDT, \_SB.PCI0 and \_SB.MRES in the
// DSDT. The _CRS is decoded here by an independent walk over the resource descriptors
// (ACPI 6.x 6.4); iasl's disassembler (acpica-tools) reads the whole DSDT back where installed.
#include "support/skip.h"
#include "support/subprocess.h"
#include "table_reader.h"
#include "vmm/acpi/acpi_tables.h"
#include "vmm/acpi/aml.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

using namespace monarch;
using namespace monarch::test;
using namespace monarch::vmm::acpi;
namespace layout = monarch::vmm::layout;

namespace {

// The description Monarch's host bridge gives (pci::firmware_info), spelled out by hand so
// the test does not take its expectations from the code under test.
PciHostBridgeInfo sample_pci()
{
    PciHostBridgeInfo info;
    info.ecam_base = 0xe0000000;
    info.bus_first = 0;
    info.bus_last = 255;
    info.mmio32_start = 0xc0000000;
    info.mmio32_end = 0xe0000000;
    info.mmio64_start = 0x1'0000'0000;
    info.mmio64_end = 0x9'0000'0000;
    info.io_start = 0xc000;
    info.io_end = 0x10000;
    for (uint8_t slot = 1; slot < 32; ++slot)
        for (uint8_t pin = 0; pin < 4; ++pin)
            info.interrupts.push_back({ slot, pin, 16u + (slot + pin) % 8u });
    return info;
}

std::vector<uint8_t> bytes_of(std::vector<std::byte> const& in)
{
    std::vector<uint8_t> out(in.size());
    std::transform(in.begin(), in.end(), out.begin(), [](std::byte b) { return std::to_integer<uint8_t>(b); });
    return out;
}

size_t find(std::vector<uint8_t> const& haystack, std::string_view needle, size_t from = 0)
{
    auto it = std::search(haystack.begin() + long(from), haystack.end(), needle.begin(), needle.end());
    REQUIRE(it != haystack.end());
    return size_t(it - haystack.begin());
}

// PkgLength (ACPI 6.x 20.2.4): value and how many bytes it took.
std::pair<size_t, size_t> package_length(std::vector<uint8_t> const& aml, size_t at)
{
    uint8_t lead = aml.at(at);
    size_t extra = lead >> 6;
    if (extra == 0)
        return { lead & 0x3f, 1 };
    size_t value = lead & 0x0f;
    for (size_t i = 0; i < extra; ++i)
        value |= size_t(aml.at(at + 1 + i)) << (4 + 8 * i);
    return { value, 1 + extra };
}

struct Descriptor {
    uint8_t tag;
    std::vector<uint8_t> body;
};

// The _CRS buffer that follows Name(_CRS, ...) after `from`: BufferOp, PkgLength, the size
// as an integer, then descriptors up to the end tag.
std::vector<Descriptor> crs_after(std::vector<uint8_t> const& aml, size_t from)
{
    size_t at = find(aml, "_CRS", from) + 4;
    REQUIRE(aml.at(at) == 0x11); // BufferOp
    at += package_length(aml, at + 1).second + 1;
    size_t size = 0;
    if (aml.at(at) == 0x0a)
        size = aml.at(at + 1), at += 2;
    else if (aml.at(at) == 0x0b)
        size = le(aml, at + 1, 2), at += 3;
    else
        FAIL("unexpected buffer size encoding");
    std::vector<Descriptor> out;
    size_t const end = at + size;
    while (at < end) {
        uint8_t tag = aml.at(at);
        size_t header = (tag & 0x80) ? 3 : 1;
        size_t length = (tag & 0x80) ? le(aml, at + 1, 2) : (tag & 0x7);
        out.push_back({ tag, std::vector<uint8_t>(aml.begin() + long(at + header), aml.begin() + long(at + header + length)) });
        at += header + length;
        if (tag == 0x79)
            break;
    }
    REQUIRE(at == end);
    return out;
}

} // namespace

TEST_CASE("aml: address space descriptors for a root bridge's windows", "[unit][acpi][pci]")
{
    // WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xff, 0, 0x100).
    auto bus = bytes_of(aml::word_bus_number_resource(0, 255));
    CHECK(bus == std::vector<uint8_t> { 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0x00, 0x01 });
    auto io = bytes_of(aml::word_io_resource(0xc000, 0xffff));
    CHECK(io == std::vector<uint8_t> { 0x88, 13, 0, 1, 0x0c, 3, 0, 0, 0x00, 0xc0, 0xff, 0xff, 0, 0, 0x00, 0x40 });
    auto mem = bytes_of(aml::dword_memory_resource(0xc0000000, 0xdfffffff));
    REQUIRE(mem.size() == 26);
    CHECK(mem[0] == 0x87);
    CHECK(le(mem, 1, 2) == 23);
    CHECK(mem[3] == 0);
    CHECK(mem[5] == 0x03); // cacheable, read-write
    CHECK(le(mem, 10, 4) == 0xc0000000);
    CHECK(le(mem, 14, 4) == 0xdfffffff);
    CHECK(le(mem, 22, 4) == 0x20000000);
    auto high = bytes_of(aml::qword_memory_resource(0x1'0000'0000, 0x8'ffff'ffff));
    REQUIRE(high.size() == 46);
    CHECK(high[0] == 0x8a);
    CHECK(le(high, 1, 2) == 43);
    CHECK(le(high, 14, 8) == 0x1'0000'0000);
    CHECK(le(high, 22, 8) == 0x8'ffff'ffff);
    CHECK(le(high, 38, 8) == 0x8'0000'0000);
    auto fixed = bytes_of(aml::memory32_fixed_resource(0xe0000000, 0x10000000));
    CHECK(fixed == std::vector<uint8_t> { 0x86, 9, 0, 1, 0, 0, 0, 0xe0, 0, 0, 0, 0x10 });
}

TEST_CASE("MCFG: one allocation with the ECAM base, segment 0 and the bus range", "[unit][acpi][pci]")
{
    auto mcfg = bytes_of(build_mcfg(sample_pci()));
    REQUIRE(mcfg.size() == 60);
    CHECK(text(mcfg, 0, 4) == "MCFG");
    CHECK(le(mcfg, 4, 4) == 60);
    CHECK(byte_sum(mcfg, mcfg.size()) == 0);
    CHECK(le(mcfg, 36, 8) == 0); // reserved
    CHECK(le(mcfg, 44, 8) == 0xe0000000);
    CHECK(le(mcfg, 52, 2) == 0);
    CHECK(mcfg[54] == 0);
    CHECK(mcfg[55] == 255);
}

TEST_CASE("firmware tables list MCFG in the XSDT only when the VM has PCI", "[unit][acpi][pci]")
{
    for (bool with_pci : { false, true }) {
        VecGuestMemory memory(2 * layout::MiB);
        FirmwareConfig config { .vcpu_count = 2 };
        if (with_pci)
            config.pci = sample_pci();
        auto tables = write_firmware_tables(memory, config);
        REQUIRE(tables.has_value());
        auto rsdp = read_bytes(memory, tables->rsdp.raw(), 36);
        auto xsdt_header = read_bytes(memory, le(rsdp, 24, 8), 36);
        auto xsdt = read_bytes(memory, le(rsdp, 24, 8), le(xsdt_header, 4, 4));
        std::map<std::string, std::vector<uint8_t>> found;
        for (size_t offset = 36; offset < xsdt.size(); offset += 8) {
            auto address = le(xsdt, offset, 8);
            auto header = read_bytes(memory, address, 36);
            found[text(header, 0, 4)] = read_bytes(memory, address, le(header, 4, 4));
        }
        CHECK(found.contains("MCFG") == with_pci);
        auto fadt = found.at("FACP");
        auto dsdt_header = read_bytes(memory, le(fadt, 140, 8), 36);
        auto dsdt = read_bytes(memory, le(fadt, 140, 8), le(dsdt_header, 4, 4));
        CHECK(byte_sum(dsdt, dsdt.size()) == 0);
        std::string_view const pci0 = "PCI0";
        CHECK((std::search(dsdt.begin(), dsdt.end(), pci0.begin(), pci0.end()) != dsdt.end()) == with_pci);
        if (with_pci) {
            CHECK(le(found.at("MCFG"), 44, 8) == 0xe0000000);
        }
    }
    VecGuestMemory memory(2 * layout::MiB);
    auto bad = sample_pci();
    bad.mmio32_end = 0x1'0000'1000;
    auto refused = write_firmware_tables(memory, { .vcpu_count = 1, .pci = bad });
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().code == Errc::InvalidArgument);
}

TEST_CASE("DSDT: PCI0's IDs, _CRS windows and _PRT, MRES reserving ECAM", "[unit][acpi][pci]")
{
    auto dsdt = bytes_of(build_dsdt(1, sample_pci()));
    size_t const pci0 = find(dsdt, "PCI0");
    // _HID EISAID("PNP0A08") = 0x080ad041, _CID EISAID("PNP0A03") = 0x030ad041 (DWordPrefix).
    size_t const hid = find(dsdt, "_HID", pci0);
    CHECK(dsdt.at(hid + 4) == 0x0c);
    CHECK(le(dsdt, hid + 5, 4) == 0x080ad041);
    size_t const cid = find(dsdt, "_CID", pci0);
    CHECK(le(dsdt, cid + 5, 4) == 0x030ad041);
    CHECK(dsdt.at(find(dsdt, "_SEG", pci0) + 4) == 0x00); // ZeroOp
    CHECK(dsdt.at(find(dsdt, "_BBN", pci0) + 4) == 0x00);

    auto crs = crs_after(dsdt, pci0);
    REQUIRE(crs.size() == 6);
    CHECK(crs[0].tag == 0x88); // bus numbers 0-255
    CHECK(crs[0].body[0] == 2);
    CHECK(le(crs[0].body, 5, 2) == 0);
    CHECK(le(crs[0].body, 7, 2) == 255);
    CHECK(crs[1].tag == 0x47); // IO(Decode16, 0xCF8, 0xCF8, 1, 8)
    CHECK(le(crs[1].body, 1, 2) == 0xcf8);
    CHECK(crs[1].body[6] == 8);
    CHECK(crs[2].tag == 0x88); // the I/O window
    CHECK(crs[2].body[0] == 1);
    CHECK(le(crs[2].body, 5, 2) == 0xc000);
    CHECK(le(crs[2].body, 7, 2) == 0xffff);
    CHECK(crs[3].tag == 0x87); // 32-bit window
    CHECK(le(crs[3].body, 7, 4) == 0xc0000000);
    CHECK(le(crs[3].body, 11, 4) == 0xdfffffff);
    CHECK(crs[4].tag == 0x8a); // 64-bit window
    CHECK(le(crs[4].body, 11, 8) == 0x1'0000'0000);
    CHECK(le(crs[4].body, 19, 8) == 0x8'ffff'ffff);
    CHECK(crs[5].tag == 0x79);

    // _PRT: a package of 124 four-element packages.
    size_t const prt = find(dsdt, "_PRT", pci0);
    REQUIRE(dsdt.at(prt + 4) == 0x12); // PackageOp
    size_t const count_at = prt + 5 + package_length(dsdt, prt + 5).second;
    CHECK(dsdt.at(count_at) == 124);
    // The first entry: Package(4) { 0x0001FFFF, Zero, Zero, 17 }.
    size_t const first = count_at + 1;
    REQUIRE(dsdt.at(first) == 0x12);
    size_t const fields = first + 1 + package_length(dsdt, first + 1).second;
    CHECK(std::vector<uint8_t>(dsdt.begin() + long(fields), dsdt.begin() + long(fields) + 10)
          == std::vector<uint8_t> { 4, 0x0c, 0xff, 0xff, 0x01, 0x00, 0x00, 0x00, 0x0a, 17 });

    size_t const mres = find(dsdt, "MRES", pci0);
    CHECK(le(dsdt, find(dsdt, "_HID", mres) + 5, 4) == 0x020cd041); // PNP0C02
    auto reserved = crs_after(dsdt, mres);
    REQUIRE(reserved.size() == 2);
    CHECK(reserved[0].tag == 0x86);
    CHECK(le(reserved[0].body, 1, 4) == 0xe0000000);
    CHECK(le(reserved[0].body, 5, 4) == 0x10000000);
}

TEST_CASE("DSDT with PCI0 disassembles cleanly with iasl", "[unit][acpi][pci]")
{
    require_program("iasl");
    auto dsdt = build_dsdt(2, sample_pci());
    auto directory = std::filesystem::temp_directory_path() / ("monarch-iasl-" + std::to_string(::getpid()));
    std::filesystem::create_directories(directory);
    {
        std::ofstream out(directory / "dsdt.aml", std::ios::binary);
        // SAFETY: ostream::write takes char bytes; std::byte and char have the same representation.
        out.write(reinterpret_cast<char const*>(dsdt.data()), static_cast<std::streamsize>(dsdt.size()));
    }
    auto result = run_process({ "iasl", "-d", (directory / "dsdt.aml").string() }, { .timeout = std::chrono::seconds(60) });
    INFO(describe(result));
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == 0);
    std::ifstream in(directory / "dsdt.dsl");
    std::stringstream text;
    text << in.rdbuf();
    std::filesystem::remove_all(directory);
    auto const dsl = text.str();
    INFO(dsl);
    auto contains = [&](std::string_view needle) { return dsl.find(needle) != std::string::npos; };
    CHECK(contains("Device (PCI0)"));
    CHECK(contains("EisaId (\"PNP0A08\")"));
    CHECK(contains("EisaId (\"PNP0A03\")"));
    CHECK(contains("WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,"));
    CHECK(contains("IO (Decode16,\n                    0x0CF8,"));
    CHECK(contains("WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,"));
    CHECK(contains("DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,"));
    CHECK(contains("0xDFFFFFFF"));
    CHECK(contains("QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,"));
    CHECK(contains("0x00000008FFFFFFFF"));
    CHECK(contains("0x001FFFFF,"));
    CHECK(contains("Device (MRES)"));
    CHECK(contains("EisaId (\"PNP0C02\")"));
    CHECK(contains("Memory32Fixed (ReadWrite,\n                    0xE0000000,"));
}

// SPDX-License-Identifier: Apache-2.0
// AML encodings against values fixed by the ACPI spec (20.2.4 PkgLength) and the compressed
// EISA IDs every ASL compiler emits (PNP0A03 is 0x030AD041 in countless DSDTs).
#include "vmm/acpi/aml.h"

#include <catch2/catch.hpp>

using namespace monarch::vmm::acpi;

namespace {

std::vector<uint8_t> bytes(aml::Bytes const& in)
{
    std::vector<uint8_t> out;
    for (auto b : in)
        out.push_back(std::to_integer<uint8_t>(b));
    return out;
}

} // namespace

TEST_CASE("AML PkgLength counts itself and switches to multi-byte at 63", "[unit][acpi][aml]")
{
    REQUIRE(bytes(aml::package_length(0)) == std::vector<uint8_t> { 0x01 });
    REQUIRE(bytes(aml::package_length(62)) == std::vector<uint8_t> { 0x3f });
    // 63 body bytes + 2 = 65 = 0x41: lead 0x40 | 0x1, then 0x41 >> 4 = 0x04.
    REQUIRE(bytes(aml::package_length(63)) == std::vector<uint8_t> { 0x41, 0x04 });
    // 0x1000 body bytes + 3 = 0x1003: lead 0x80 | 0x3, then 0x00, 0x01.
    REQUIRE(bytes(aml::package_length(0x1000)) == std::vector<uint8_t> { 0x83, 0x00, 0x01 });
}

TEST_CASE("AML integers take the smallest encoding", "[unit][acpi][aml]")
{
    REQUIRE(bytes(aml::integer(0)) == std::vector<uint8_t> { 0x00 });
    REQUIRE(bytes(aml::integer(1)) == std::vector<uint8_t> { 0x01 });
    REQUIRE(bytes(aml::integer(5)) == std::vector<uint8_t> { 0x0a, 0x05 });
    REQUIRE(bytes(aml::integer(0x3f8)) == std::vector<uint8_t> { 0x0b, 0xf8, 0x03 });
    REQUIRE(bytes(aml::integer(0x12345678)) == std::vector<uint8_t> { 0x0c, 0x78, 0x56, 0x34, 0x12 });
    REQUIRE(bytes(aml::integer(0x100000000)).size() == 9);
}

TEST_CASE("AML names and EISA IDs", "[unit][acpi][aml]")
{
    REQUIRE(aml::eisa_id("PNP0A03") == 0x030ad041);
    REQUIRE(aml::eisa_id("PNP0501") == 0x0105d041);
    REQUIRE(bytes(aml::name_string("\\_SB_")) == std::vector<uint8_t> { '\\', '_', 'S', 'B', '_' });
    REQUIRE(bytes(aml::name_string("\\_SB_.COM1")) == std::vector<uint8_t> { '\\', 0x2e, '_', 'S', 'B', '_', 'C', 'O', 'M', '1' });
    auto device = bytes(aml::device("COM1", aml::name("_UID", aml::integer(1))));
    // ExtOpPrefix DeviceOp PkgLength(1 + 4 + 6) "COM1" NameOp "_UID" One
    REQUIRE(device == std::vector<uint8_t> { 0x5b, 0x82, 0x0b, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x01 });
}

// SPDX-License-Identifier: Apache-2.0
// MSI-X: the capability in config space, the table and PBA as BAR registers, masking,
// pending-then-deliver, and the MsiRouter calls (PCI Local Bus 3.0, 6.8.2).
#include "pci_test_support.h"
#include "vmm/devices/pci/msix.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace monarch::vmm;
using namespace monarch::vmm::pci;
using monarch::vmm::test::config_read;
using monarch::vmm::test::config_write;
using monarch::vmm::test::RecordingRouter;

namespace {

uint32_t table_read32(MsixTable& table, uint64_t offset)
{
    std::array<std::byte, 4> data {};
    table.table_read(offset, data);
    uint32_t value;
    std::memcpy(&value, data.data(), 4);
    return value;
}

void table_write32(MsixTable& table, uint64_t offset, uint32_t value)
{
    std::array<std::byte, 4> data {};
    std::memcpy(data.data(), &value, 4);
    table.table_write(offset, data);
}

uint64_t pba_read64(MsixTable& table, uint64_t offset)
{
    std::array<std::byte, 8> data {};
    table.pba_read(offset, data);
    uint64_t value;
    std::memcpy(&value, data.data(), 8);
    return value;
}

// What Linux's msix_setup_msi_descs/msix_write_msg do for one entry, then unmask it.
void program(MsixTable& table, uint16_t vector, uint64_t address, uint32_t data)
{
    uint64_t const base = vector * msix::ENTRY_SIZE;
    table_write32(table, base + 0, static_cast<uint32_t>(address));
    table_write32(table, base + 4, static_cast<uint32_t>(address >> 32));
    table_write32(table, base + 8, data);
}

void unmask(MsixTable& table, uint16_t vector) { table_write32(table, vector * msix::ENTRY_SIZE + 12, 0); }
void mask(MsixTable& table, uint16_t vector) { table_write32(table, vector * msix::ENTRY_SIZE + 12, 1); }

struct Fixture {
    RecordingRouter router;
    PciConfigSpace config { PciIds { 0x1af4, 0x1041 } };
    MsixTable table { 3, router };
    MsixCapability capability { config, table, { 1, 0 }, { 1, 0x800 } };

    void control(uint16_t value) { config_write<uint16_t>(config, capability.offset() + msix::MESSAGE_CONTROL, value); }
};

} // namespace

TEST_CASE("msix: capability layout and writable Message Control bits", "[unit][pci][msix]")
{
    Fixture f;
    auto const cap = f.capability.offset();
    CHECK(config_read<uint8_t>(f.config, config::CAPABILITIES_POINTER) == cap);
    CHECK(config_read<uint8_t>(f.config, cap) == msix::CAPABILITY_ID);
    CHECK(config_read<uint8_t>(f.config, cap + 1) == 0);
    CHECK(config_read<uint16_t>(f.config, cap + 2) == 2); // table size N - 1
    CHECK(config_read<uint32_t>(f.config, cap + 4) == 0x00000001); // BIR 1, offset 0
    CHECK(config_read<uint32_t>(f.config, cap + 8) == 0x00000801); // BIR 1, offset 0x800
    config_write<uint32_t>(f.config, cap + 4, 0xffffffff);
    CHECK(config_read<uint32_t>(f.config, cap + 4) == 0x00000001);

    f.control(0xffff);
    CHECK(config_read<uint16_t>(f.config, cap + 2) == 0xc002);
    CHECK(f.table.enabled());
    CHECK(f.table.function_masked());
    f.control(msix::CONTROL_ENABLE);
    CHECK(f.table.enabled());
    CHECK_FALSE(f.table.function_masked());
    CHECK(f.table.table_size() == 48);
    CHECK(f.table.pba_size() == 8);
}

TEST_CASE("msix: entries start masked and read back what was written", "[unit][pci][msix]")
{
    Fixture f;
    for (uint16_t vector = 0; vector < 3; ++vector) {
        CHECK(f.table.vector_masked(vector));
        CHECK(table_read32(f.table, vector * 16 + 12) == 1);
    }
    program(f.table, 1, 0x1'fee0'1003, 0x4041); // address bits 1:0 are read-only zero
    CHECK(table_read32(f.table, 16) == 0xfee01000);
    CHECK(table_read32(f.table, 20) == 0x1);
    CHECK(table_read32(f.table, 24) == 0x4041);
    CHECK(f.table.message(1) == MsiMessage { 0x1'fee0'1000, 0x4041 });
    table_write32(f.table, 28, 0xfffffffe); // reserved vector-control bits stay zero
    CHECK(table_read32(f.table, 28) == 0);

    std::array<std::byte, 8> qword {};
    f.table.table_read(16, qword);
    uint64_t value;
    std::memcpy(&value, qword.data(), 8);
    CHECK(value == 0x1'fee0'1000);
    uint64_t const data_and_mask = 0x1'0000'5051;
    std::memcpy(qword.data(), &data_and_mask, 8);
    f.table.table_write(24, qword);
    CHECK(f.table.message(1).data == 0x5051);
    CHECK(f.table.vector_masked(1));
}

TEST_CASE("msix: bad widths, misaligned and out-of-range accesses are ignored", "[unit][pci][msix]")
{
    Fixture f;
    program(f.table, 0, 0xfee00000, 0x30);
    std::array<std::byte, 2> word { std::byte { 0xff }, std::byte { 0xff } };
    f.table.table_write(8, word);
    f.table.table_read(8, word);
    CHECK(word[0] == std::byte { 0 });
    table_write32(f.table, 10, 0xffffffff);
    table_write32(f.table, 48, 0xffffffff); // one past the last entry
    CHECK(table_read32(f.table, 48) == 0);
    CHECK(f.table.message(0).data == 0x30);
    CHECK(f.table.malformed_accesses() == 5);
}

TEST_CASE("msix: disabled MSI-X delivers nothing and records nothing", "[unit][pci][msix]")
{
    Fixture f;
    program(f.table, 0, 0xfee00000, 0x30);
    unmask(f.table, 0);
    CHECK(f.table.notify(0) == MsixDelivery::Disabled);
    CHECK_FALSE(f.table.pending(0));
    CHECK(f.table.notify(7) == MsixDelivery::Invalid);
    CHECK(f.router.triggers.empty());
}

TEST_CASE("msix: unmasked vector is delivered at once", "[unit][pci][msix]")
{
    Fixture f;
    f.control(msix::CONTROL_ENABLE);
    program(f.table, 2, 0xfee00000, 0x31);
    unmask(f.table, 2);
    CHECK(f.table.notify(2) == MsixDelivery::Delivered);
    CHECK(f.router.triggers == std::vector<uint16_t> { 2 });
    CHECK(pba_read64(f.table, 0) == 0);
}

TEST_CASE("msix: masked vector goes pending, then is delivered on unmask", "[unit][pci][msix]")
{
    Fixture f;
    f.control(msix::CONTROL_ENABLE);
    program(f.table, 1, 0xfee00000, 0x32);
    CHECK(f.table.notify(1) == MsixDelivery::Pending);
    CHECK(f.table.notify(1) == MsixDelivery::Pending); // one pending bit, not a count
    CHECK(f.table.pending(1));
    CHECK(pba_read64(f.table, 0) == 0x2);
    CHECK(f.router.triggers.empty());
    // The PBA is read-only.
    std::array<std::byte, 8> zeros {};
    f.table.pba_write(0, zeros);
    CHECK(pba_read64(f.table, 0) == 0x2);

    unmask(f.table, 1);
    CHECK(f.router.triggers == std::vector<uint16_t> { 1 });
    CHECK_FALSE(f.table.pending(1));
    CHECK(pba_read64(f.table, 0) == 0);
    mask(f.table, 1);
    unmask(f.table, 1); // nothing pending: nothing sent
    CHECK(f.router.triggers.size() == 1);
}

TEST_CASE("msix: function mask holds every vector, clearing it delivers the pending ones", "[unit][pci][msix]")
{
    Fixture f;
    f.control(msix::CONTROL_ENABLE | msix::CONTROL_FUNCTION_MASK);
    for (uint16_t vector = 0; vector < 3; ++vector)
        program(f.table, vector, 0xfee00000, 0x40 + vector);
    unmask(f.table, 0);
    unmask(f.table, 2);
    CHECK(f.table.notify(0) == MsixDelivery::Pending);
    CHECK(f.table.notify(1) == MsixDelivery::Pending);
    CHECK(f.table.notify(2) == MsixDelivery::Pending);
    CHECK(f.router.triggers.empty());
    std::array<std::byte, 4> dword {};
    f.table.pba_read(0, dword);
    CHECK(dword[0] == std::byte { 0x7 });

    f.control(msix::CONTROL_ENABLE);
    CHECK(f.router.triggers == std::vector<uint16_t> { 0, 2 }); // vector 1 is still masked itself
    CHECK(f.table.pending(1));
    unmask(f.table, 1);
    CHECK(f.router.triggers == std::vector<uint16_t> { 0, 2, 1 });
}

TEST_CASE("msix: update() reports each entry change and each effective mask change", "[unit][pci][msix]")
{
    Fixture f;
    program(f.table, 0, 0xfee0'2000, 0x4023);
    REQUIRE(f.router.updates.size() == 2); // address high was already zero: no change, no call
    CHECK(f.router.updates[0].message == MsiMessage { 0xfee0'2000, 0 });
    CHECK(f.router.updates[1].message == MsiMessage { 0xfee0'2000, 0x4023 });
    CHECK(f.router.updates[1].masked);

    unmask(f.table, 0); // still masked in effect: MSI-X is not enabled
    REQUIRE(f.router.updates.size() == 3);
    CHECK(f.router.updates[2].masked);

    f.router.updates.clear();
    f.control(msix::CONTROL_ENABLE);
    REQUIRE(f.router.updates.size() == 1); // only vector 0 became deliverable
    CHECK(f.router.updates[0].vector == 0);
    CHECK_FALSE(f.router.updates[0].masked);
    CHECK(f.router.updates[0].message == MsiMessage { 0xfee0'2000, 0x4023 });

    f.router.updates.clear();
    f.control(msix::CONTROL_ENABLE | msix::CONTROL_FUNCTION_MASK);
    REQUIRE(f.router.updates.size() == 1);
    CHECK(f.router.updates[0].masked);
    f.router.updates.clear();
    f.control(msix::CONTROL_ENABLE | msix::CONTROL_FUNCTION_MASK); // no change: no calls
    CHECK(f.router.updates.empty());
}

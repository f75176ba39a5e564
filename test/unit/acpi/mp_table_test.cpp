// SPDX-License-Identifier: Apache-2.0
// MP table parsed back as a kernel finds it (Intel MP spec 1.4, 4.1-4.3; Linux's
// smp_scan_config looks at the last KiB below 640 KiB on 16-byte steps).
#include "table_reader.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/arch/topology.h"
#include "vmm/memory/layout.h"

#include <catch2/catch.hpp>

#include <map>

using namespace monarch;
using namespace monarch::test;
namespace layout = monarch::vmm::layout;

namespace {

std::optional<uint64_t> scan_for_floating_pointer(vmm::GuestMemory& memory)
{
    for (uint64_t address = layout::EBDA_START; address < layout::EBDA_START + 1024; address += 16) {
        auto candidate = read_bytes(memory, address, 16);
        if (text(candidate, 0, 4) == "_MP_" && candidate[8] == 1 && byte_sum(candidate, 16) == 0)
            return address;
    }
    return std::nullopt;
}

struct ParsedMp {
    uint64_t config_at { 0 };
    std::vector<std::pair<uint8_t, uint8_t>> processors; // (APIC ID, flags)
    std::vector<std::string> buses;
    std::vector<uint8_t> ioapic_ids;
    std::map<uint8_t, std::vector<uint8_t>> io_interrupts;    // source IRQ -> entry
    std::vector<std::vector<uint8_t>> local_interrupts;
};

ParsedMp parse(vmm::GuestMemory& memory)
{
    auto pointer_at = scan_for_floating_pointer(memory);
    REQUIRE(pointer_at);
    auto pointer = read_bytes(memory, *pointer_at, 16);
    REQUIRE(pointer[9] == 4);  // spec 1.4
    REQUIRE(pointer[11] == 0); // a configuration table, not a default configuration
    ParsedMp parsed;
    parsed.config_at = le(pointer, 4, 4);
    auto header = read_bytes(memory, parsed.config_at, 44);
    REQUIRE(text(header, 0, 4) == "PCMP");
    auto length = le(header, 4, 2);
    auto table = read_bytes(memory, parsed.config_at, length);
    REQUIRE(byte_sum(table, length) == 0);
    REQUIRE(le(table, 36, 4) == layout::LAPIC_START);
    size_t offset = 44;
    for (uint64_t entry = 0; entry < le(table, 34, 2); ++entry) {
        uint8_t type = table.at(offset);
        size_t size = type == 0 ? 20 : 8;
        std::vector<uint8_t> bytes(table.begin() + long(offset), table.begin() + long(offset + size));
        if (type == 0)
            parsed.processors.emplace_back(bytes[1], bytes[3]);
        else if (type == 1)
            parsed.buses.push_back(text(bytes, 2, 6));
        else if (type == 2) {
            REQUIRE(le(bytes, 4, 4) == layout::IOAPIC_START);
            REQUIRE(bytes[3] == 1);
            parsed.ioapic_ids.push_back(bytes[1]);
        } else if (type == 3) {
            REQUIRE(parsed.io_interrupts.count(bytes[5]) == 0);
            parsed.io_interrupts[bytes[5]] = bytes;
        } else if (type == 4)
            parsed.local_interrupts.push_back(bytes);
        else
            FAIL("unknown MP entry type");
        offset += size;
    }
    REQUIRE(offset == length);
    return parsed;
}

} // namespace

TEST_CASE("MP table: found in the EBDA, N processors, ISA bus, IOAPIC, interrupts", "[unit][acpi][mp]")
{
    for (uint32_t vcpus : { 1u, 2u, 4u, 6u, 40u, 41u, 254u }) {
        CAPTURE(vcpus);
        test::VecGuestMemory memory(2 * layout::MiB);
        auto written = vmm::acpi::write_firmware_tables(memory, { .vcpu_count = vcpus });
        REQUIRE(written);
        REQUIRE(written->mp_floating_pointer.raw() == layout::EBDA_START);
        auto mp = parse(memory);
        if (vcpus <= 40)
            REQUIRE(mp.config_at + 1 < layout::LOW_RAM_END);
        else
            REQUIRE((mp.config_at >= layout::ACPI_TABLES_START && mp.config_at < layout::ACPI_TABLES_END));

        vmm::arch::CpuTopology topology { .vcpu_count = vcpus };
        REQUIRE(mp.processors.size() == vcpus);
        for (uint32_t i = 0; i < vcpus; ++i) {
            REQUIRE(mp.processors[i].first == vmm::arch::apic_id_of(i, topology));
            REQUIRE((mp.processors[i].second & 1) == 1);               // enabled
            REQUIRE(bool(mp.processors[i].second & 2) == (i == 0));    // BSP flag on vCPU 0 only
        }
        REQUIRE(mp.buses == std::vector<std::string> { "ISA   " });
        REQUIRE(mp.ioapic_ids.size() == 1);
        uint8_t ioapic = mp.ioapic_ids[0];
        REQUIRE(ioapic > vmm::arch::apic_id_of(vcpus - 1, topology)); // one APIC ID space

        REQUIRE(mp.io_interrupts.size() == 15);
        for (uint8_t irq = 0; irq < 16; ++irq) {
            if (irq == 2) {
                REQUIRE(mp.io_interrupts.count(2) == 0);
                continue;
            }
            auto const& entry = mp.io_interrupts.at(irq);
            REQUIRE(entry[1] == 0);  // INT
            REQUIRE(entry[4] == 0);  // ISA bus
            REQUIRE(entry[6] == ioapic);
            REQUIRE(entry[7] == (irq == 0 ? 2 : irq));
        }
        REQUIRE(le(mp.io_interrupts.at(layout::IRQ_ACPI_SCI), 2, 2) == 0xd); // level, active high

        REQUIRE(mp.local_interrupts.size() == 2);
        REQUIRE(mp.local_interrupts[0][1] == 3); // ExtINT
        REQUIRE(mp.local_interrupts[0][7] == 0); // LINT0
        REQUIRE(mp.local_interrupts[1][1] == 1); // NMI
        REQUIRE(mp.local_interrupts[1][7] == 1); // LINT1
        for (auto const& entry : mp.local_interrupts)
            REQUIRE(entry[6] == 0xff);           // every local APIC
    }
}

TEST_CASE("firmware tables overwrite stale bytes in their windows", "[unit][acpi][mp]")
{
    test::VecGuestMemory memory(2 * layout::MiB);
    REQUIRE(memory.fill(GuestPhysAddr { layout::EBDA_START }, 1024, std::byte { 0xaa }));
    REQUIRE(memory.fill(GuestPhysAddr { layout::ACPI_TABLES_START }, 0x20000, std::byte { 0xaa }));
    REQUIRE(vmm::acpi::write_firmware_tables(memory, { .vcpu_count = 2 }));
    auto tail = read_bytes(memory, layout::LOW_RAM_END - 16, 16);
    REQUIRE(byte_sum(tail, 16) == 0);
    REQUIRE(parse(memory).processors.size() == 2);
}

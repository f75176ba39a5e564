// SPDX-License-Identifier: Apache-2.0
// MP table layouts, Intel MP spec 1.4: 4.1 floating pointer, 4.2 configuration table header,
// 4.3 base table entries (processor 20 bytes, bus/IOAPIC/interrupt 8 bytes each).
#include "vmm/acpi/mp_table.h"

#include "vmm/acpi/byte_writer.h"
#include "vmm/memory/layout.h"

namespace monarch::vmm::acpi {

namespace {

constexpr size_t HEADER_SIZE = 44;
constexpr size_t PROCESSOR_ENTRY_SIZE = 20;
constexpr size_t ENTRY_SIZE = 8;
constexpr size_t ISA_IRQ_ENTRIES = 15; // IRQs 0-15 but 2
constexpr size_t LOCAL_INTERRUPT_ENTRIES = 2;

constexpr uint8_t ENTRY_PROCESSOR = 0;
constexpr uint8_t ENTRY_BUS = 1;
constexpr uint8_t ENTRY_IOAPIC = 2;
constexpr uint8_t ENTRY_IO_INTERRUPT = 3;
constexpr uint8_t ENTRY_LOCAL_INTERRUPT = 4;

constexpr uint8_t INTERRUPT_INT = 0;
constexpr uint8_t INTERRUPT_NMI = 1;
constexpr uint8_t INTERRUPT_EXTINT = 3;

constexpr uint8_t CPU_ENABLED = 1u << 0;
constexpr uint8_t CPU_BOOTSTRAP = 1u << 1;
constexpr uint8_t LAPIC_VERSION = 0x14;   // integrated APIC, as KVM's in-kernel LAPIC reports
constexpr uint8_t IOAPIC_VERSION = 0x11;  // KVM's in-kernel IOAPIC
constexpr uint32_t CPU_SIGNATURE = 0x600; // family 6: only informative once CPUID exists
constexpr uint32_t CPU_FEATURES = (1u << 0) | (1u << 9); // FPU, on-chip APIC
constexpr uint8_t ISA_BUS = 0;
constexpr uint16_t FLAGS_CONFORMS = 0;
constexpr uint16_t FLAGS_LEVEL_ACTIVE_HIGH = 0x1 | (0x3 << 2);

void interrupt_entry(ByteWriter& out, uint8_t entry, uint8_t type, uint16_t flags, uint8_t irq, uint8_t destination, uint8_t pin)
{
    out.u8(entry);
    out.u8(type);
    out.u16(flags);
    out.u8(ISA_BUS);
    out.u8(irq);
    out.u8(destination);
    out.u8(pin);
}

} // namespace

size_t mp_config_table_size(uint32_t vcpu_count)
{
    return HEADER_SIZE + PROCESSOR_ENTRY_SIZE * vcpu_count
        + ENTRY_SIZE * (1 + 1 + ISA_IRQ_ENTRIES + LOCAL_INTERRUPT_ENTRIES);
}

std::vector<std::byte> build_mp_config_table(arch::CpuTopology const& topology, uint8_t ioapic_id)
{
    ByteWriter out;
    out.text("PCMP", 4);
    out.u16(0); // base table length, patched below
    out.u8(4);  // spec revision 1.4
    out.u8(0);  // checksum, patched below
    out.text("MONRCH", 8);
    out.text("MONARCH-VMM", 12);
    out.u32(0); // OEM table pointer
    out.u16(0); // OEM table size
    out.u16(0); // entry count, patched below
    out.u32(static_cast<uint32_t>(layout::LAPIC_START));
    out.u16(0); // extended table length
    out.u8(0);  // extended table checksum
    out.u8(0);

    uint16_t entries = 0;
    for (uint32_t i = 0; i < topology.vcpu_count; ++i, ++entries) {
        out.u8(ENTRY_PROCESSOR);
        out.u8(static_cast<uint8_t>(arch::apic_id_of(i, topology)));
        out.u8(LAPIC_VERSION);
        out.u8(static_cast<uint8_t>(CPU_ENABLED | (i == 0 ? CPU_BOOTSTRAP : 0)));
        out.u32(CPU_SIGNATURE);
        out.u32(CPU_FEATURES);
        out.zeros(8);
    }
    out.u8(ENTRY_BUS);
    out.u8(ISA_BUS);
    out.text("ISA", 6);
    out.u8(ENTRY_IOAPIC);
    out.u8(ioapic_id);
    out.u8(IOAPIC_VERSION);
    out.u8(1); // enabled
    out.u32(static_cast<uint32_t>(layout::IOAPIC_START));
    entries += 2;
    for (uint8_t irq = 0; irq < 16; ++irq) {
        if (irq == 2)
            continue;
        uint8_t pin = irq == 0 ? 2 : irq;
        uint16_t flags = irq == layout::IRQ_ACPI_SCI ? FLAGS_LEVEL_ACTIVE_HIGH : FLAGS_CONFORMS;
        interrupt_entry(out, ENTRY_IO_INTERRUPT, INTERRUPT_INT, flags, irq, ioapic_id, pin);
        ++entries;
    }
    // Destination 0xff: every local APIC.
    interrupt_entry(out, ENTRY_LOCAL_INTERRUPT, INTERRUPT_EXTINT, FLAGS_CONFORMS, 0, 0xff, 0);
    interrupt_entry(out, ENTRY_LOCAL_INTERRUPT, INTERRUPT_NMI, FLAGS_CONFORMS, 0, 0xff, 1);
    entries += 2;

    out.patch_u16(4, static_cast<uint16_t>(out.size()));
    out.patch_u16(34, entries);
    out.patch_u8(7, checksum_byte(out.data()));
    return out.take();
}

std::vector<std::byte> build_mp_floating_pointer(GuestPhysAddr config_table)
{
    ByteWriter out;
    out.text("_MP_", 4);
    out.u32(static_cast<uint32_t>(config_table.raw()));
    out.u8(1); // length in 16-byte paragraphs
    out.u8(4); // spec revision 1.4
    out.u8(0); // checksum, patched below
    out.u8(0); // feature 1: 0 = a configuration table is present
    out.u8(0); // feature 2: IMCRP clear, virtual wire mode
    out.zeros(3);
    out.patch_u8(10, checksum_byte(out.data()));
    return out.take();
}

} // namespace monarch::vmm::acpi

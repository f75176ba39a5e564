// SPDX-License-Identifier: Apache-2.0
// ACPI table layouts, ACPI 6.x: 5.2.5 RSDP, 5.2.6 table header, 5.2.8 XSDT, 5.2.9 FADT,
// 5.2.10 FACS, 5.2.11.1 DSDT, 5.2.12 MADT, 5.2.3.2 Generic Address Structure.
#include "vmm/acpi/acpi_tables.h"

#include "vmm/acpi/aml.h"
#include "vmm/acpi/byte_writer.h"
#include "vmm/acpi/pci_aml.h"
#include "vmm/memory/layout.h"

#include <fmt/format.h>

namespace monarch::vmm::acpi {

namespace {

constexpr size_t HEADER_SIZE = 36;
constexpr size_t HEADER_LENGTH_OFFSET = 4;
constexpr size_t HEADER_CHECKSUM_OFFSET = 9;

constexpr uint8_t GAS_SYSTEM_IO = 1;
constexpr uint8_t GAS_ACCESS_BYTE = 1;
constexpr uint8_t GAS_ACCESS_WORD = 2;

// MADT entry types (5.2.12, table 5.45).
constexpr uint8_t MADT_LOCAL_APIC = 0;
constexpr uint8_t MADT_IO_APIC = 1;
constexpr uint8_t MADT_INTERRUPT_OVERRIDE = 2;
constexpr uint8_t MADT_LOCAL_APIC_NMI = 4;
constexpr uint32_t MADT_PCAT_COMPAT = 1;
constexpr uint32_t MADT_LAPIC_ENABLED = 1;
// MPS INTI flags: polarity in bits 1:0, trigger mode in bits 3:2.
constexpr uint16_t INTI_ACTIVE_HIGH = 0x1;
constexpr uint16_t INTI_EDGE = 0x1 << 2;
constexpr uint16_t INTI_LEVEL = 0x3 << 2;

void begin_table(ByteWriter& out, char const* signature, uint8_t revision)
{
    out.text(signature, 4);
    out.u32(0); // length, patched by finish_table
    out.u8(revision);
    out.u8(0);  // checksum, patched by finish_table
    out.text(OEM_ID, 6);
    out.text(OEM_TABLE_ID, 8);
    out.u32(1); // OEM revision
    out.text(CREATOR_ID, 4);
    out.u32(CREATOR_REVISION);
}

TableBytes finish_table(ByteWriter& out)
{
    out.patch_u32(HEADER_LENGTH_OFFSET, static_cast<uint32_t>(out.size()));
    out.patch_u8(HEADER_CHECKSUM_OFFSET, checksum_byte(out.data()));
    return out.take();
}

void generic_address(ByteWriter& out, uint8_t space, uint8_t bit_width, uint8_t access_size, uint64_t address)
{
    out.u8(space);
    out.u8(bit_width);
    out.u8(0); // bit offset
    out.u8(access_size);
    out.u64(address);
}

void empty_generic_address(ByteWriter& out) { out.zeros(12); }

// Device body: _HID EISAID(hid), _CRS with the given resources and the end tag.
aml::Bytes legacy_device(std::string_view hid, aml::Bytes resources)
{
    aml::append(resources, aml::end_tag_resource());
    aml::Bytes body = aml::name("_HID", aml::integer(aml::eisa_id(hid)));
    aml::append(body, aml::name("_CRS", aml::buffer(resources)));
    return body;
}

// The i8042 keyboard controller (PNP0303): without it Linux's i8042 driver finds no PNP
// device on an ACPI system and does not probe the ports.
aml::Bytes keyboard_device()
{
    aml::Bytes resources = aml::io_port_resource(layout::PORT_I8042_DATA, 1);
    aml::append(resources, aml::io_port_resource(layout::PORT_I8042_COMMAND, 1));
    aml::append(resources, aml::irq_resource(static_cast<uint8_t>(layout::IRQ_I8042_KEYBOARD)));
    return legacy_device("PNP0303", resources);
}

// The CMOS RTC (PNP0B00), index and data ports.
aml::Bytes rtc_device()
{
    aml::Bytes resources = aml::io_port_resource(layout::PORT_RTC, 2);
    aml::append(resources, aml::irq_resource(static_cast<uint8_t>(layout::IRQ_RTC)));
    return legacy_device("PNP0B00", resources);
}

} // namespace

TableBytes build_rsdp(GuestPhysAddr xsdt)
{
    ByteWriter out;
    out.text("RSD PTR ", 8);
    out.u8(0); // checksum of the ACPI 1.0 part (bytes 0-19)
    out.text(OEM_ID, 6);
    out.u8(2); // revision: ACPI 2.0+ layout
    out.u32(0); // RSDT address: none
    out.u32(RSDP_SIZE);
    out.u64(xsdt.raw());
    out.u8(0); // extended checksum (all 36 bytes)
    out.zeros(3);
    out.patch_u8(8, checksum_byte(out.data().first(20)));
    out.patch_u8(32, checksum_byte(out.data()));
    return out.take();
}

TableBytes build_xsdt(std::span<GuestPhysAddr const> tables)
{
    ByteWriter out;
    begin_table(out, "XSDT", 1);
    for (auto table : tables)
        out.u64(table.raw());
    return finish_table(out);
}

TableBytes build_facs()
{
    ByteWriter out;
    out.text("FACS", 4);
    out.u32(FACS_SIZE);
    out.u32(0); // hardware signature
    out.u32(0); // firmware waking vector: no S3
    out.u32(0); // global lock
    out.u32(0); // flags: no S4BIOS, no 64-bit wake
    out.u64(0); // X firmware waking vector
    out.u8(2);  // version
    out.zeros(3);
    out.u32(0); // OSPM flags
    out.zeros(24);
    return out.take();
}

TableBytes build_fadt(GuestPhysAddr facs, GuestPhysAddr dsdt)
{
    ByteWriter out;
    begin_table(out, "FACP", 6);
    out.u32(static_cast<uint32_t>(facs.raw())); // FIRMWARE_CTRL
    out.u32(static_cast<uint32_t>(dsdt.raw())); // DSDT
    out.u8(0);                                  // reserved (ACPI 1.0 INT_MODEL)
    out.u8(0);                                  // preferred PM profile: unspecified
    out.u16(static_cast<uint16_t>(layout::IRQ_ACPI_SCI));
    out.u32(0); // SMI_CMD 0: no ACPI enable/disable handshake, always in ACPI mode (SCI_EN reads 1)
    out.u8(0);  // ACPI_ENABLE
    out.u8(0);  // ACPI_DISABLE
    out.u8(0);  // S4BIOS_REQ
    out.u8(0);  // PSTATE_CNT
    out.u32(layout::PORT_ACPI_PM1A_EVT);
    out.u32(0); // PM1b_EVT_BLK
    out.u32(layout::PORT_ACPI_PM1A_CNT);
    out.u32(0); // PM1b_CNT_BLK
    out.u32(0); // PM2_CNT_BLK
    out.u32(0); // PM_TMR_BLK: no ACPI PM timer (the kernel has the TSC, LAPIC timer, PIT and kvmclock)
    out.u32(0); // GPE0_BLK
    out.u32(0); // GPE1_BLK
    out.u8(static_cast<uint8_t>(layout::PORT_ACPI_PM1A_EVT_SIZE));
    out.u8(static_cast<uint8_t>(layout::PORT_ACPI_PM1A_CNT_SIZE));
    out.u8(0);  // PM2_CNT_LEN
    out.u8(0);  // PM_TMR_LEN
    out.u8(0);  // GPE0_BLK_LEN
    out.u8(0);  // GPE1_BLK_LEN
    out.u8(0);  // GPE1_BASE
    out.u8(0);  // CST_CNT
    out.u16(101);  // P_LVL2_LAT > 100: C2 not supported
    out.u16(1001); // P_LVL3_LAT > 1000: C3 not supported
    out.u16(0);    // FLUSH_SIZE
    out.u16(0);    // FLUSH_STRIDE
    out.u8(0);     // DUTY_OFFSET
    out.u8(0);     // DUTY_WIDTH
    out.u8(0);     // DAY_ALRM
    out.u8(0);     // MON_ALRM
    out.u8(0);     // CENTURY: the RTC model need not implement a century register
    out.u16(IAPC_LEGACY_DEVICES | IAPC_8042 | IAPC_VGA_NOT_PRESENT);
    out.u8(0);     // reserved
    // PWR_BUTTON clear: the power button is the fixed-hardware one (PM1 PWRBTN_STS/EN, the
    // SCI), which AcpiPm implements and vm.power-button presses; OSPM then creates its button
    // device (Linux: LNXPWRBN, the `button` driver, an input device systemd-logind watches).
    // SLP_BUTTON set: there is no sleep button.
    out.u32(FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_RESET_REG_SUP);
    generic_address(out, GAS_SYSTEM_IO, 8, GAS_ACCESS_BYTE, layout::PORT_ACPI_RESET);
    out.u8(layout::ACPI_RESET_VALUE);
    out.u16(0);    // ARM_BOOT_ARCH
    out.u8(0);     // FADT minor version: 6.0
    out.u64(0);          // X_FIRMWARE_CTRL: the FACS sits below 4 GiB; setting both makes ACPICA load it twice
    out.u64(dsdt.raw()); // X_DSDT
    generic_address(out, GAS_SYSTEM_IO, layout::PORT_ACPI_PM1A_EVT_SIZE * 8, GAS_ACCESS_WORD, layout::PORT_ACPI_PM1A_EVT);
    empty_generic_address(out); // X_PM1b_EVT_BLK
    generic_address(out, GAS_SYSTEM_IO, layout::PORT_ACPI_PM1A_CNT_SIZE * 8, GAS_ACCESS_WORD, layout::PORT_ACPI_PM1A_CNT);
    for (int i = 0; i < 7; ++i) // X_PM1b_CNT, X_PM2_CNT, X_PM_TMR, X_GPE0, X_GPE1, SLEEP_CONTROL, SLEEP_STATUS
        empty_generic_address(out);
    out.u64(0); // hypervisor vendor identity
    return finish_table(out);
}

TableBytes build_dsdt(uint32_t vcpu_count, std::optional<PciHostBridgeInfo> const& pci)
{
    using namespace aml;
    Bytes body;
    // \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved (7.4.2 "\_Sx (System States)").
    std::vector<Bytes> s5 { integer(layout::ACPI_SLP_TYP_S5), integer(layout::ACPI_SLP_TYP_S5), integer(0), integer(0) };
    append(body, name("_S5_", package(s5)));

    Bytes resources = io_port_resource(layout::PORT_COM1, static_cast<uint8_t>(layout::PORT_COM_SIZE));
    append(resources, irq_resource(static_cast<uint8_t>(layout::IRQ_COM1)));
    append(resources, end_tag_resource());
    Bytes com1 = name("_HID", integer(eisa_id("PNP0501")));
    append(com1, name("_UID", integer(1)));
    append(com1, name("_CRS", buffer(resources)));
    Bytes system_bus = device("COM1", com1);
    append(system_bus, device("KBD_", keyboard_device()));
    append(system_bus, device("RTC_", rtc_device()));

    for (uint32_t i = 0; i < vcpu_count; ++i) {
        // Processor devices (8.4 "Declaring processors"): _UID matches the MADT's processor UID.
        Bytes cpu = name("_HID", string("ACPI0007"));
        append(cpu, name("_UID", integer(i)));
        append(system_bus, device(fmt::format("C{:03X}", i), cpu));
    }
    if (pci)
        append(system_bus, pci_root_devices(*pci));
    append(body, scope("\\_SB_", system_bus));

    ByteWriter out;
    begin_table(out, "DSDT", 2); // revision 2: 64-bit AML integers
    out.bytes(body);
    return finish_table(out);
}

TableBytes build_mcfg(PciHostBridgeInfo const& pci)
{
    ByteWriter out;
    begin_table(out, "MCFG", 1);
    out.zeros(8); // reserved
    // Configuration space base address allocation structure: the base is where bus 0 would
    // be even when the range starts later (PCI Firmware spec, table 4-3).
    out.u64(pci.ecam_base);
    out.u16(0); // PCI segment group
    out.u8(pci.bus_first);
    out.u8(pci.bus_last);
    out.u32(0); // reserved
    return finish_table(out);
}

TableBytes build_madt(arch::CpuTopology const& topology, uint8_t ioapic_id)
{
    ByteWriter out;
    begin_table(out, "APIC", 5);
    out.u32(static_cast<uint32_t>(layout::LAPIC_START));
    out.u32(MADT_PCAT_COMPAT); // dual 8259s present: the in-kernel PIC
    for (uint32_t i = 0; i < topology.vcpu_count; ++i) {
        out.u8(MADT_LOCAL_APIC);
        out.u8(8);
        out.u8(static_cast<uint8_t>(i)); // ACPI processor UID
        out.u8(static_cast<uint8_t>(arch::apic_id_of(i, topology)));
        out.u32(MADT_LAPIC_ENABLED);
    }
    out.u8(MADT_IO_APIC);
    out.u8(12);
    out.u8(ioapic_id);
    out.u8(0);
    out.u32(static_cast<uint32_t>(layout::IOAPIC_START));
    out.u32(0); // GSI base
    // ISA IRQ 0 (PIT) arrives on IOAPIC pin 2, as on PC hardware and KVM's in-kernel PIT.
    struct Override { uint8_t irq; uint32_t gsi; uint16_t flags; };
    for (auto o : { Override { 0, 2, INTI_ACTIVE_HIGH | INTI_EDGE },
                    Override { static_cast<uint8_t>(layout::IRQ_ACPI_SCI), layout::IRQ_ACPI_SCI, INTI_ACTIVE_HIGH | INTI_LEVEL } }) {
        out.u8(MADT_INTERRUPT_OVERRIDE);
        out.u8(10);
        out.u8(0); // bus: ISA
        out.u8(o.irq);
        out.u32(o.gsi);
        out.u16(o.flags);
    }
    out.u8(MADT_LOCAL_APIC_NMI);
    out.u8(6);
    out.u8(0xff); // all processors
    out.u16(INTI_ACTIVE_HIGH | INTI_EDGE);
    out.u8(1);    // LINT1
    return finish_table(out);
}

} // namespace monarch::vmm::acpi

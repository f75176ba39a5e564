// SPDX-License-Identifier: Apache-2.0
// Placement of the MP and ACPI tables in guest RAM, and the order they must be built in
// (a table's address must be known before the table that points at it is built).
#include "vmm/acpi/firmware_tables.h"

#include "vmm/acpi/acpi_tables.h"
#include "vmm/acpi/mp_table.h"
#include "vmm/memory/layout.h"

namespace monarch::vmm::acpi {

namespace {

constexpr uint64_t TABLE_ALIGNMENT = 64; // FACS requires 64; the others just stay tidy

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

// Hands out addresses in [ACPI_TABLES_START, ACPI_TABLES_END).
class Allocator {
public:
    explicit Allocator(uint64_t start) : m_next(start) {}
    [[nodiscard]] Result<GuestPhysAddr> take(uint64_t size, uint64_t alignment = TABLE_ALIGNMENT)
    {
        uint64_t base = align_up(m_next, alignment);
        if (size > layout::ACPI_TABLES_END || base > layout::ACPI_TABLES_END - size)
            return fail(Errc::InvalidArgument, "firmware tables: ACPI window full");
        m_next = base + size;
        return GuestPhysAddr { base };
    }

private:
    uint64_t m_next;
};

struct Placed {
    GuestPhysAddr address;
    std::vector<std::byte> bytes;
};

Result<void> write_all(GuestMemory& memory, std::span<Placed const> tables)
{
    for (auto const& table : tables)
        TRY_VOID(memory.write(table.address, table.bytes));
    return {};
}

// The PCI description comes from the machine's constants; check what the tables rely on.
Result<void> validate_pci(PciHostBridgeInfo const& pci)
{
    bool const mmio32_ok = pci.mmio32_start < pci.mmio32_end && pci.mmio32_end <= (uint64_t { 1 } << 32);
    bool const mmio64_ok = pci.mmio64_start <= pci.mmio64_end;
    bool const io_ok = pci.io_start <= pci.io_end && pci.io_end <= 0x10000;
    bool const ecam_ok = pci.bus_first <= pci.bus_last && pci.ecam_base % layout::MiB == 0
        && pci.ecam_base + ((uint64_t { pci.bus_last } + 1) << 20) <= (uint64_t { 1 } << 32);
    if (!mmio32_ok || !mmio64_ok || !io_ok || !ecam_ok || pci.interrupts.size() > 0xff)
        return fail(Errc::InvalidArgument, "firmware tables: inconsistent PCI host bridge description");
    return {};
}

} // namespace

uint8_t ioapic_id_for(arch::CpuTopology const& topology)
{
    return static_cast<uint8_t>(arch::apic_id_of(topology.vcpu_count - 1, topology) + 1);
}

Result<FirmwareTables> write_firmware_tables(GuestMemory& memory, FirmwareConfig const& config)
{
    arch::CpuTopology topology = config.topology;
    topology.vcpu_count = config.vcpu_count;
    TRY_VOID(arch::validate(topology));
    if (config.pci)
        TRY_VOID(validate_pci(*config.pci));
    uint8_t ioapic_id = ioapic_id_for(topology);

    constexpr uint64_t ebda_size = layout::LOW_RAM_END - layout::EBDA_START;
    constexpr uint64_t acpi_size = layout::ACPI_TABLES_END - layout::ACPI_TABLES_START;
    TRY_VOID(memory.fill(GuestPhysAddr { layout::EBDA_START }, ebda_size, std::byte { 0 }));
    TRY_VOID(memory.fill(GuestPhysAddr { layout::ACPI_TABLES_START }, acpi_size, std::byte { 0 }));

    Allocator allocator { layout::ACPI_TABLES_START };
    // The RSDP first: 16-byte aligned at the bottom of the window the kernel scans.
    auto rsdp = TRY(allocator.take(RSDP_SIZE, 16));
    std::vector<Placed> tables;
    auto dsdt = build_dsdt(topology.vcpu_count, config.pci);
    auto dsdt_at = TRY(allocator.take(dsdt.size()));
    tables.push_back({ dsdt_at, std::move(dsdt) });
    auto facs_at = TRY(allocator.take(FACS_SIZE));
    tables.push_back({ facs_at, build_facs() });
    auto fadt = build_fadt(facs_at, dsdt_at);
    auto fadt_at = TRY(allocator.take(fadt.size()));
    tables.push_back({ fadt_at, std::move(fadt) });
    auto madt = build_madt(topology, ioapic_id);
    auto madt_at = TRY(allocator.take(madt.size()));
    tables.push_back({ madt_at, std::move(madt) });
    std::vector<GuestPhysAddr> listed { fadt_at, madt_at };
    if (config.pci) {
        auto mcfg = build_mcfg(*config.pci);
        auto mcfg_at = TRY(allocator.take(mcfg.size()));
        tables.push_back({ mcfg_at, std::move(mcfg) });
        listed.push_back(mcfg_at);
    }
    auto xsdt = build_xsdt(listed);
    auto xsdt_at = TRY(allocator.take(xsdt.size()));
    tables.push_back({ xsdt_at, std::move(xsdt) });
    tables.push_back({ rsdp, build_rsdp(xsdt_at) });

    // MP: the floating pointer in the EBDA's first paragraph, the configuration table behind it.
    GuestPhysAddr pointer_at { layout::EBDA_START };
    auto config_size = mp_config_table_size(topology.vcpu_count);
    GuestPhysAddr config_at { layout::EBDA_START + MP_FLOATING_POINTER_SIZE };
    if (config_size > ebda_size - MP_FLOATING_POINTER_SIZE)
        config_at = TRY(allocator.take(config_size, 16));
    tables.push_back({ config_at, build_mp_config_table(topology, ioapic_id) });
    tables.push_back({ pointer_at, build_mp_floating_pointer(config_at) });

    TRY_VOID(write_all(memory, tables));
    return FirmwareTables {
        .rsdp = rsdp,
        .mp_floating_pointer = pointer_at,
        .regions = { { GuestPhysAddr { layout::EBDA_START }, ebda_size },
                     { GuestPhysAddr { layout::ACPI_TABLES_START }, acpi_size } },
    };
}

} // namespace monarch::vmm::acpi

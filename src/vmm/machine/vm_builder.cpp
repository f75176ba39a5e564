// SPDX-License-Identifier: Apache-2.0
// The first half of the recipe: what needs no /dev/kvm (memory, images, tables, kernel), then
// KVM, the VM and its memory slots. vCPUs and devices are in vm_builder_vcpus.cpp and
// vm_builder_devices.cpp.
#include "vmm/machine/vm_builder.h"

#include "common/log.h"
#include "vmm/acpi/firmware_tables.h"
#include "vmm/arch/arch.h"
#include "vmm/devices/pci/pci_firmware.h"
#include "vmm/machine/irq_routing.h"
#include "vmm/machine/virtio_placement.h"
#include "vmm/memory/memory_size.h"

#include <algorithm>
#include <sys/stat.h>

namespace monarch::vmm::machine {

VmBuilder::VmBuilder(VmConfig config, event::EventLoop& loop)
    : m_config(std::move(config))
    , m_loop(loop)
{
    m_topology.vcpu_count = m_config.cpus;
}

VmBuilder&& VmBuilder::keep_serial(std::unique_ptr<CharBackend> serial) &&
{
    m_kept_serial = std::move(serial);
    return std::move(*this);
}

BuildResult<std::unique_ptr<Vmm>> VmBuilder::build() &&
{
    m_vmm.reset(new Vmm());
    m_serial_spec = TRY_STEP(BuildStep::SerialSpec, parse_serial_spec(m_config.serial));
    TRY_BUILD(create_memory());
    TRY_BUILD(read_images());
    TRY_BUILD(write_firmware_tables());
    TRY_BUILD(load_kernel());
    return std::move(*this).build_machine();
}

BuildResult<std::unique_ptr<Vmm>> VmBuilder::build_machine() &&
{
    TRY_BUILD(open_device_backends());
    // Only now, with every input checked and loaded (or restored), is /dev/kvm opened.
    TRY_BUILD(open_kvm());
    TRY_BUILD(create_vm());
    TRY_BUILD(create_vcpus());
    TRY_BUILD(attach_devices());
    TRY_BUILD(attach_pci_devices());
    TRY_BUILD(attach_pvpanic()); // after the virtio devices: their PCI slots do not depend on it
    TRY_BUILD(attach_serial());
    return std::move(m_vmm);
}

BuildResult<std::unique_ptr<Vmm>> VmBuilder::build_restored(FillMemory const& fill) &&
{
    m_restoring = true;
    m_vmm.reset(new Vmm());
    m_serial_spec = TRY_STEP(BuildStep::SerialSpec, parse_serial_spec(m_config.serial));
    TRY_BUILD(create_memory());
    // The tables are written (the same ones the snapshotted VM had) only to learn their windows
    // and the PCI layout; the snapshot's pages then replace all of RAM, tables included.
    TRY_BUILD(write_firmware_tables());
    TRY_STEP_VOID(BuildStep::Memory, fill(*m_vmm->m_memory));
    return std::move(*this).build_machine();
}

BuildResult<void> VmBuilder::create_memory()
{
    // Without /proc/meminfo the size is not compared with the host (0 = unknown).
    uint64_t host_total = host_memory_total().value_or(0);
    auto memory = TRY_STEP(BuildStep::Memory, GuestMemoryMmap::create(m_config.memory, host_total));
    m_vmm->m_memory = std::make_unique<GuestMemoryMmap>(std::move(memory));
    return {};
}

BuildResult<void> VmBuilder::read_images()
{
    m_kernel = TRY_STEP(BuildStep::ReadKernel, boot::read_image_file(m_config.kernel, boot::ImageKind::Kernel));
    if (!m_config.initrd)
        return {};
    // An initrd larger than all of guest RAM can never fit: say so before reading it whole.
    struct stat status {};
    if (::stat(m_config.initrd->c_str(), &status) == 0 && S_ISREG(status.st_mode)
        && static_cast<uint64_t>(status.st_size) > m_config.memory)
        return std::unexpected(BuildError { BuildStep::InitrdSize, Error { Errc::OutOfRange, 0, "initrd is larger than guest memory" } });
    m_initrd = TRY_STEP(BuildStep::ReadInitrd, boot::read_image_file(*m_config.initrd, boot::ImageKind::Initrd));
    return {};
}

BuildResult<void> VmBuilder::write_firmware_tables()
{
    // The MP table and ACPI tables (MADT: one LAPIC per vCPU) in the windows that e820 reserves;
    // the kernel is told the RSDP's address so it need not scan for it.
    acpi::FirmwareConfig firmware { m_config.cpus, m_topology };
    // The PCI host bridge (MCFG, PCI0 with its windows and _PRT): the 64-bit window starts
    // above the end of RAM.
    uint64_t ram_end = 0;
    for (auto const& range : m_vmm->m_memory->ranges())
        ram_end = std::max(ram_end, range.end());
    m_pci_windows = pci::PciWindows::for_ram_end(ram_end);
    firmware.pci = pci::firmware_info(m_pci_windows);
    auto tables = TRY_STEP(BuildStep::FirmwareTables, acpi::write_firmware_tables(*m_vmm->m_memory, firmware));
    m_rsdp = tables.rsdp;
    m_vmm->m_firmware_windows = tables.regions;
    return {};
}

BuildResult<void> VmBuilder::load_kernel()
{
    // The virtio-mmio slots are announced first on the command line (virtio_placement.h).
    std::string const cmdline = kernel_cmdline_with_virtio_mmio(m_config);
    boot::BootConfig config { m_kernel, m_initrd, cmdline, m_rsdp };
    m_boot = TRY_STEP(BuildStep::LoadKernel, boot::load_kernel(*m_vmm->m_memory, config));
    m_vmm->m_boot_regions = m_boot.loaded;
    // The entry state's GDT (and for the 64-bit entry, the identity-mapped page tables).
    if (m_boot.protocol == boot::BootProtocol::Linux64)
        TRY_STEP_VOID(BuildStep::LoadKernel, arch::write_linux64_gdt_and_page_tables(*m_vmm->m_memory));
    else
        TRY_STEP_VOID(BuildStep::LoadKernel, arch::write_pvh_gdt(*m_vmm->m_memory));
    log::info("kernel loaded: {} entry 0x{:x}", m_boot.protocol == boot::BootProtocol::Pvh ? "PVH" : "Linux 64-bit",
        m_boot.entry.raw());
    return {};
}

BuildResult<void> VmBuilder::open_kvm()
{
    m_vmm->m_kvm.emplace(TRY_STEP(BuildStep::OpenKvm, kvm::Kvm::open()));
    if (m_config.cpus > m_vmm->m_kvm->max_vcpus())
        return std::unexpected(BuildError { BuildStep::CpuCount, Error { Errc::OutOfRange, 0, "more vCPUs than KVM supports" },
            m_vmm->m_kvm->max_vcpus() });
    return {};
}

BuildResult<void> VmBuilder::create_vm()
{
    auto& vm = m_vmm->m_vm.emplace(TRY_STEP(BuildStep::CreateVm, m_vmm->m_kvm->create_vm()));
    // api.rst: KVM_SET_TSS_ADDR and KVM_SET_IDENTITY_MAP_ADDR before the first vCPU.
    TRY_STEP_VOID(BuildStep::CreateVm, vm.set_tss_address(GuestPhysAddr { KVM_TSS_ADDRESS }));
    TRY_STEP_VOID(BuildStep::CreateVm, vm.set_identity_map_address(GuestPhysAddr { KVM_IDENTITY_MAP_ADDRESS }));
    uint32_t slot = 0;
    for (auto const& region : m_vmm->m_memory->regions())
        TRY_STEP_VOID(BuildStep::CreateVm, vm.set_user_memory_region(MemSlot { slot++ }, region.range.base, region.range.size, region.host));
    // The irqchip before the vCPUs (so each gets an in-kernel LAPIC), then the PIT on top of it.
    TRY_STEP_VOID(BuildStep::CreateVm, vm.create_irqchip());
    // One table for every route: the legacy pins now, MSI-X vectors as the guest programs them.
    m_vmm->m_gsi_routes = std::make_unique<GsiRouteTable>(legacy_gsi_routing(),
        [&vm](std::span<kvm_irq_routing_entry const> entries) { return vm.set_gsi_routing(entries); });
    TRY_STEP_VOID(BuildStep::CreateVm, m_vmm->m_gsi_routes->commit());
    TRY_STEP_VOID(BuildStep::CreateVm, vm.create_pit2());
    m_vmm->m_exit.emplace(TRY_STEP(BuildStep::CreateVm, ExitLatch::create()));
    return {};
}

} // namespace monarch::vmm::machine

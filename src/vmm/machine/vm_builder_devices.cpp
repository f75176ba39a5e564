// SPDX-License-Identifier: Apache-2.0
// The device steps of the recipe: the legacy PC devices on the port-I/O bus (COM1 with IRQ 4,
// i8042, CMOS RTC, debug-exit, ACPI PM1a), their exits wired to the ExitLatch, the serial back
// end behind COM1, and the vCPU runner over it all.
#include "vmm/machine/vm_builder.h"

#include "common/log.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/debug_exit.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/uart_8250.h"
#include "vmm/exit_status.h"
#include "vmm/machine/adapters/kvm_irq_line.h"
#include "vmm/memory/layout.h"

namespace monarch::vmm::machine {
namespace {

// The guest's own status is 0..63 (exit_status.h); larger values would read as host errors, so
// they are clamped to 63 with a warning (docs/monarch-vmm.md).
int guest_exit_status(uint8_t value)
{
    if (value <= exit_status::GuestStatusMax)
        return value;
    log::warn("guest exit value {} is above {}: exiting with {}", value, exit_status::GuestStatusMax, exit_status::GuestStatusMax);
    return exit_status::GuestStatusMax;
}

} // namespace

BuildResult<void> VmBuilder::attach_devices()
{
    auto& vmm = *m_vmm;
    ExitLatch& exit = *vmm.m_exit;
    auto& com1_irq = *vmm.m_irq_lines.emplace_back(std::make_unique<KvmIrqLine>(*vmm.m_vm, Gsi { layout::IRQ_COM1 }));
    auto& sci_irq = *vmm.m_irq_lines.emplace_back(std::make_unique<KvmIrqLine>(*vmm.m_vm, Gsi { layout::IRQ_ACPI_SCI }));

    // The back end is created in attach_serial(); until then (and with --serial off) output is dropped.
    vmm.m_com1 = std::make_shared<Uart8250>(com1_irq, [&vmm](std::span<std::byte const> bytes) {
        if (vmm.m_serial)
            vmm.m_serial->write(bytes);
    });
    auto i8042 = vmm.m_i8042 = std::make_shared<I8042>([&exit] {
        log::info("the guest pulsed the reset line (i8042)");
        exit.request(exit_status::GuestReset);
    });
    auto pm = vmm.m_acpi_pm = std::make_shared<AcpiPm>(sci_irq, [&exit] {
        log::info("the guest entered ACPI S5: powered off");
        exit.request(exit_status::Success);
    });
    uint64_t below_4g = 0;
    uint64_t above_4g = 0;
    for (auto const& range : vmm.m_memory->ranges())
        (range.base.raw() < layout::MMIO_HOLE_START ? below_4g : above_4g) += range.size;

    auto& bus = vmm.m_pio_bus;
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_COM1, layout::PORT_COM_SIZE, vmm.m_com1, "com1"));
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_I8042_DATA, 1, I8042::data_port(i8042), "i8042-data"));
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_I8042_COMMAND, 1, I8042::command_port(i8042), "i8042-command"));
    vmm.m_rtc = std::make_shared<CmosRtc>(below_4g, above_4g);
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_RTC, 2, vmm.m_rtc, "rtc"));
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_DEBUG_EXIT, 1, std::make_shared<DebugExit>([&exit](uint8_t value) {
        exit.request(guest_exit_status(value));
    }), "debug-exit"));
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_ACPI_PM1A_EVT, layout::PORT_ACPI_PM1A_EVT_SIZE, AcpiPm::event_port(pm), "acpi-pm1a-evt"));
    TRY_STEP_VOID(BuildStep::Devices, bus.insert(layout::PORT_ACPI_PM1A_CNT, layout::PORT_ACPI_PM1A_CNT_SIZE, AcpiPm::control_port(pm), "acpi-pm1a-cnt"));
    return {};
}

BuildResult<void> VmBuilder::attach_serial()
{
    auto& vmm = *m_vmm;
    if (m_kept_serial && m_kept_serial->made_for(m_serial_spec)) {
        vmm.m_serial = std::move(m_kept_serial);
    } else {
        m_kept_serial.reset(); // a socket's file must go before a new one binds the same path
        vmm.m_serial = TRY_STEP(BuildStep::Serial, CharBackend::create(m_serial_spec));
        if (auto pty = vmm.m_serial->pty_path())
            log::warn("serial console on {}", *pty); // the user needs it to connect: shown at the default level
    }
    vmm.m_console = std::make_unique<SerialConsole>(vmm.m_com1, *vmm.m_serial);
    vmm.m_vcpus = std::make_unique<VcpuRunner>(std::move(m_vcpus), vmm.m_pio_bus, vmm.m_mmio_bus, *vmm.m_memory, *vmm.m_exit);
    return {};
}

} // namespace monarch::vmm::machine

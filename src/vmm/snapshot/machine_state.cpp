// SPDX-License-Identifier: Apache-2.0
// Which records a VM has, and the order they are captured and applied in.
#include "vmm/snapshot/machine_state.h"

#include "common/log.h"
#include "vmm/snapshot/device_state.h"
#include "vmm/snapshot/msr_list.h"
#include "vmm/snapshot/vcpu_state.h"
#include "vmm/snapshot/vm_state.h"

#include <algorithm>
#include <fmt/format.h>
#include <optional>

namespace monarch::vmm::snapshot {

namespace {

std::string vcpu_record_name(size_t index) { return fmt::format("vcpu{}", index); }

std::span<std::byte const> record(std::span<NamedState const> records, std::string_view name)
{
    // check_record_set() ran first: every expected name is there exactly once.
    return std::ranges::find(records, name, &NamedState::name)->bytes;
}

size_t xsave_size(kvm::VmFd const& vm)
{
    // api.rst, KVM_CAP_XSAVE2: the size of the buffer KVM_GET_XSAVE2 fills; without it the
    // legacy struct kvm_xsave. Without KVM_CAP_XSAVE at all, KVM_GET_FPU is the only way.
    if (vm.check_extension(KVM_CAP_XSAVE) <= 0)
        return 0;
    return std::max<size_t>(static_cast<size_t>(std::max(vm.check_extension(KVM_CAP_XSAVE2), 0)), sizeof(kvm_xsave));
}

// Everything a restore applies, decoded before any of it is.
struct Decoded {
    std::vector<VcpuState> vcpus;
    IrqchipState irqchip;
    kvm_pit_state2 pit {};
    kvm_clock_data clock {};
    std::optional<UartState> com1;
    std::optional<CmosRtcState> rtc;
    std::optional<I8042State> i8042;
    std::optional<AcpiPmState> acpi_pm;
    std::optional<PciConfigBytes> pvpanic;
    std::vector<NamedState> virtio;
};

Result<Decoded> decode_all(std::span<NamedState const> records, MachineShape const& shape)
{
    TRY_VOID(check_record_set(records, shape));
    Decoded out;
    for (size_t index = 0; index < shape.vcpus; ++index)
        out.vcpus.push_back(TRY(decode_vcpu(record(records, vcpu_record_name(index)))));
    out.irqchip = TRY(decode_irqchip(record(records, RECORD_IRQCHIP)));
    out.pit = TRY(decode_pit(record(records, RECORD_PIT)));
    out.clock = TRY(decode_clock(record(records, RECORD_CLOCK)));
    if (shape.com1)
        out.com1 = TRY(decode_uart(record(records, RECORD_COM1)));
    if (shape.rtc)
        out.rtc = TRY(decode_rtc(record(records, RECORD_RTC)));
    if (shape.i8042)
        out.i8042 = TRY(decode_i8042(record(records, RECORD_I8042)));
    if (shape.acpi_pm)
        out.acpi_pm = TRY(decode_acpi_pm(record(records, RECORD_ACPI_PM)));
    if (shape.pvpanic)
        out.pvpanic = TRY(decode_pvpanic(record(records, RECORD_PVPANIC)));
    for (auto const& state : records)
        if (state.name.starts_with(RECORD_VIRTIO_PREFIX))
            out.virtio.push_back(state);
    return out;
}

Result<void> capture_vcpus(machine::Vmm& vmm, kvm::VmFd const& vm, std::vector<NamedState>& records)
{
    // KVM_GET_MSR_INDEX_LIST is a system ioctl: the Vmm keeps its /dev/kvm fd to itself, so
    // open another (cheap, and the same KVM module answers).
    auto kvm = TRY(kvm::Kvm::open());
    auto const msrs = msrs_to_save(TRY(kvm.msr_index_list()));
    VcpuCapture const what { xsave_size(vm), vm.check_extension(KVM_CAP_XCRS) > 0, msrs };
    auto& vcpus = vmm.vcpus();
    for (size_t index = 0; index < vcpus.vcpu_count(); ++index)
        records.push_back({ vcpu_record_name(index), encode_vcpu(TRY(capture_vcpu(vcpus.vcpu(index), what))) });
    return {};
}

void capture_devices(machine::Vmm& vmm, std::vector<NamedState>& records)
{
    if (auto* uart = vmm.com1())
        records.push_back({ std::string(RECORD_COM1), encode_uart(uart->state()) });
    if (auto* rtc = vmm.rtc())
        records.push_back({ std::string(RECORD_RTC), encode_rtc(rtc->state()) });
    if (auto* i8042 = vmm.i8042())
        records.push_back({ std::string(RECORD_I8042), encode_i8042(i8042->state()) });
    if (auto* pm = vmm.acpi_pm())
        records.push_back({ std::string(RECORD_ACPI_PM), encode_acpi_pm(pm->state()) });
    if (auto* pvpanic = vmm.pvpanic())
        records.push_back({ std::string(RECORD_PVPANIC), encode_pvpanic(pvpanic->config_state()) });
}

Result<void> apply_devices(machine::Vmm& vmm, Decoded const& state)
{
    if (state.com1)
        TRY_VOID(vmm.com1()->restore(*state.com1));
    if (state.rtc)
        TRY_VOID(vmm.rtc()->restore(*state.rtc));
    if (state.i8042)
        TRY_VOID(vmm.i8042()->restore(*state.i8042));
    if (state.acpi_pm)
        TRY_VOID(vmm.acpi_pm()->restore(*state.acpi_pm));
    if (state.pvpanic)
        TRY_VOID(vmm.restore_pvpanic(*state.pvpanic));
    return {};
}

} // namespace

MachineShape shape_of(machine::Vmm& vmm)
{
    return MachineShape { vmm.vcpus().vcpu_count(), vmm.com1() != nullptr, vmm.rtc() != nullptr, vmm.i8042() != nullptr,
        vmm.acpi_pm() != nullptr, vmm.virtio() != nullptr, vmm.pvpanic() != nullptr };
}

std::vector<std::string> record_names(MachineShape const& shape)
{
    std::vector<std::string> names { std::string(RECORD_CLOCK), std::string(RECORD_IRQCHIP), std::string(RECORD_PIT) };
    for (size_t index = 0; index < shape.vcpus; ++index)
        names.push_back(vcpu_record_name(index));
    for (auto [present, name] : { std::pair { shape.com1, RECORD_COM1 }, std::pair { shape.rtc, RECORD_RTC },
             std::pair { shape.i8042, RECORD_I8042 }, std::pair { shape.acpi_pm, RECORD_ACPI_PM },
             std::pair { shape.pvpanic, RECORD_PVPANIC } })
        if (present)
            names.emplace_back(name);
    return names;
}

Result<void> check_record_set(std::span<NamedState const> records, MachineShape const& shape)
{
    auto const expected = record_names(shape);
    for (auto const& name : expected) {
        auto const count = std::ranges::count(records, name, &NamedState::name);
        if (count != 1) {
            log::warn("snapshot: the state record '{}' appears {} times", name, count);
            return fail(Errc::Corrupt, count == 0 ? "snapshot: a state record is missing" : "snapshot: a state record appears twice");
        }
    }
    for (auto const& state : records) {
        bool const virtio = shape.virtio && state.name.starts_with(RECORD_VIRTIO_PREFIX);
        if (!virtio && std::ranges::find(expected, state.name) == expected.end()) {
            log::warn("snapshot: unknown state record '{}'", state.name);
            return fail(Errc::Corrupt, "snapshot: a state record this VM has no part for");
        }
    }
    return {};
}

Result<std::vector<NamedState>> capture_machine_state(machine::Vmm& vmm)
{
    auto const* vm = vmm.vm_fd();
    if (!vm)
        return fail(Errc::Busy, "snapshot: the VM is not built");
    auto* virtio = vmm.virtio();
    // Before anything is read: a device completing host I/O writes guest RAM and raises an
    // interrupt (irqchip and LAPIC state). Vmm::resume() thaws the devices again.
    if (virtio)
        TRY_VOID(virtio->quiesce());
    std::vector<NamedState> records;
    // kvmclock first, closest to the moment the vCPUs stopped (QEMU reads it when the VM stops).
    records.push_back({ std::string(RECORD_CLOCK), encode_clock(TRY(vm->get_clock())) });
    records.push_back({ std::string(RECORD_IRQCHIP), encode_irqchip(TRY(capture_irqchip(*vm))) });
    records.push_back({ std::string(RECORD_PIT), encode_pit(TRY(vm->get_pit2())) });
    TRY_VOID(capture_vcpus(vmm, *vm, records));
    capture_devices(vmm, records);
    if (virtio)
        for (auto& state : TRY(virtio->save_state()))
            records.push_back(std::move(state));
    return records;
}

// Order (QEMU loads its kvm-i8259, kvm-ioapic and kvm-pit device state before it puts the
// vCPUs' registers, and sets kvmclock when the VM starts running): the irqchip and PIT first,
// so that the devices' interrupt lines are asserted again into the restored chips; then the
// devices; the vCPUs (LAPICs, MSRs...); the clock last, just before the vCPUs run.
Result<void> apply_machine_state(machine::Vmm& vmm, std::span<NamedState const> records)
{
    auto const* vm = vmm.vm_fd();
    if (!vm)
        return fail(Errc::Busy, "snapshot: the VM is not built");
    auto const state = TRY(decode_all(records, shape_of(vmm)));
    TRY_VOID(apply_irqchip(*vm, state.irqchip));
    TRY_VOID(vm->set_pit2(state.pit));
    TRY_VOID(apply_devices(vmm, state));
    // After the irqchip: the transports assert their INTx lines again and commit MSI routes.
    if (auto* virtio = vmm.virtio())
        TRY_VOID(virtio->restore_state(state.virtio));
    size_t const xsave = xsave_size(*vm);
    auto& vcpus = vmm.vcpus();
    for (size_t index = 0; index < state.vcpus.size(); ++index)
        TRY_VOID(apply_vcpu(vcpus.vcpu(index), state.vcpus[index], xsave));
    TRY_VOID(apply_clock(*vm, state.clock));
    return {};
}

} // namespace monarch::vmm::snapshot

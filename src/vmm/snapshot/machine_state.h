// SPDX-License-Identifier: Apache-2.0
// The VM's state besides RAM, as the named records of a snapshot: every vCPU ("vcpu0"...),
// the VM-wide KVM state ("vm.irqchip", "vm.pit", "vm.clock"), the legacy devices ("uart.com1",
// "rtc", "i8042", "acpi.pm"), the pvpanic device ("pvpanic") and the virtio devices
// ("virtio.<slot>", VirtioWiring::save_state).
// What vm.snapshot seals and a restore applies.
#pragma once

#include "common/named_state.h"
#include "common/result.h"
#include "vmm/machine/vmm.h"

#include <span>
#include <string>
#include <vector>

namespace monarch::vmm::snapshot {

inline constexpr std::string_view RECORD_IRQCHIP = "vm.irqchip";
inline constexpr std::string_view RECORD_PIT = "vm.pit";
inline constexpr std::string_view RECORD_CLOCK = "vm.clock";
inline constexpr std::string_view RECORD_COM1 = "uart.com1";
inline constexpr std::string_view RECORD_RTC = "rtc";
inline constexpr std::string_view RECORD_I8042 = "i8042";
inline constexpr std::string_view RECORD_ACPI_PM = "acpi.pm";
inline constexpr std::string_view RECORD_PVPANIC = "pvpanic";
inline constexpr std::string_view RECORD_VIRTIO_PREFIX = "virtio.";

// Which parts a VM has, and so which records its state consists of.
struct MachineShape {
    size_t vcpus { 0 };
    bool com1 { false };
    bool rtc { false };
    bool i8042 { false };
    bool acpi_pm { false };
    bool virtio { false }; // any number of "virtio.<slot>" records, checked by VirtioWiring
    bool pvpanic { false };
};

[[nodiscard]] MachineShape shape_of(machine::Vmm&);
// The record names of `shape` besides virtio's, in capture order.
[[nodiscard]] std::vector<std::string> record_names(MachineShape const&);
// Errc::Corrupt unless `records` holds each of record_names() exactly once and nothing else
// (records starting with "virtio." only when shape.virtio). The offending name is logged.
[[nodiscard]] Result<void> check_record_set(std::span<NamedState const> records, MachineShape const&);

// Every record of the VM. The vCPUs must be paused (Vmm::pause() returned); the virtio devices
// are quiesced here. Fails rather than return a partial set.
[[nodiscard]] Result<std::vector<NamedState>> capture_machine_state(machine::Vmm&);

// Writes `records` into a VM built from the snapshot's config whose vCPUs have not started,
// with its RAM already restored. Every record is decoded before anything is applied: a record
// that is missing, unknown or undecodable refuses the whole restore (Errc::Corrupt, or
// Unsupported for a version-1 vCPU record); nothing of the VM may run after a failure.
[[nodiscard]] Result<void> apply_machine_state(machine::Vmm&, std::span<NamedState const> records);

} // namespace monarch::vmm::snapshot

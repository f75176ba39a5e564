// SPDX-License-Identifier: Apache-2.0
// Encodings of the legacy device models' state for snapshots: the UART (kind "UART"), the CMOS
// RTC ("CMOS"), the i8042 ("8042"), the ACPI PM1a registers ("ACPM") and the pvpanic device's
// PCI configuration space ("PVPN"), all version 1.
#pragma once

#include "common/result.h"
#include "vmm/devices/acpi_pm.h"
#include "vmm/devices/cmos_rtc.h"
#include "vmm/devices/i8042.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/devices/uart_8250.h"

#include <array>
#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

// Each decoder refuses (Errc::Corrupt) a wrong kind, an unknown version, short input, trailing
// bytes and counts past what the device can hold; the model's restore() checks the values.
[[nodiscard]] std::vector<std::byte> encode_uart(UartState const&);
[[nodiscard]] Result<UartState> decode_uart(std::span<std::byte const>);
[[nodiscard]] std::vector<std::byte> encode_rtc(CmosRtcState const&);
[[nodiscard]] Result<CmosRtcState> decode_rtc(std::span<std::byte const>);
[[nodiscard]] std::vector<std::byte> encode_i8042(I8042State const&);
[[nodiscard]] Result<I8042State> decode_i8042(std::span<std::byte const>);
[[nodiscard]] std::vector<std::byte> encode_acpi_pm(AcpiPmState const&);
[[nodiscard]] Result<AcpiPmState> decode_acpi_pm(std::span<std::byte const>);
// A PCI function's 256 configuration bytes (PciConfigSpace::state()); the device's restore
// checks that its read-only bytes are its own.
using PciConfigBytes = std::array<std::byte, pci::config::SIZE>;
[[nodiscard]] std::vector<std::byte> encode_pvpanic(PciConfigBytes const&);
[[nodiscard]] Result<PciConfigBytes> decode_pvpanic(std::span<std::byte const>);

} // namespace monarch::vmm::snapshot

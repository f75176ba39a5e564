// SPDX-License-Identifier: Apache-2.0
// Encodings of device-model state for snapshots (kind "UART", version 1).
#pragma once

#include "common/result.h"
#include "vmm/devices/uart_8250.h"

#include <span>
#include <vector>

namespace monarch::vmm::snapshot {

[[nodiscard]] std::vector<std::byte> encode_uart(UartState const&);
// Corrupt for a wrong kind, an unknown version, short input or trailing bytes.
[[nodiscard]] Result<UartState> decode_uart(std::span<std::byte const>);

} // namespace monarch::vmm::snapshot

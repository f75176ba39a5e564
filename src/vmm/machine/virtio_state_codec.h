// SPDX-License-Identifier: Apache-2.0
// Encodings of the virtio transports' snapshot state (kinds "VPCI" and "VMMI", version 1),
// each carrying the device type so that a record is never applied to another kind of device.
// Decoding checks the layout and bounds only; the transports check the values on restore.
#pragma once

#include "common/result.h"
#include "vmm/virtio/transport/virtio_mmio.h"
#include "vmm/virtio/transport/virtio_pci.h"
#include "vmm/virtio/virtio_device.h"

#include <cstddef>
#include <span>
#include <vector>

namespace monarch::vmm::machine {

[[nodiscard]] std::vector<std::byte> encode_virtio_pci(virtio::DeviceType, virtio::VirtioPciState const&);
// Corrupt: another kind or version, short input, trailing bytes, counts past the limits, or
// a record of a device type other than `expected`.
[[nodiscard]] Result<virtio::VirtioPciState> decode_virtio_pci(std::span<std::byte const>, virtio::DeviceType expected);

[[nodiscard]] std::vector<std::byte> encode_virtio_mmio(virtio::DeviceType, virtio::VirtioMmioState const&);
[[nodiscard]] Result<virtio::VirtioMmioState> decode_virtio_mmio(std::span<std::byte const>, virtio::DeviceType expected);

} // namespace monarch::vmm::machine

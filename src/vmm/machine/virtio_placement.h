// SPDX-License-Identifier: Apache-2.0
// Where each virtio device of a VmConfig goes, decided from the config alone: the wiring order
// (disks, nets, rng, vsock, console: stable PCI slots and virtio-mmio slots across runs), the
// virtio-mmio slot (base address, GSI) of the n-th mmio device, and the kernel command-line
// words that announce those slots. Header-only: the VM builder writes the command line before
// the VM exists, and VirtioWiring assigns the same slots when it attaches the devices.
#pragma once

#include "vmm/machine/vm_config.h"
#include "vmm/memory/virtio_mmio_layout.h"

#include <fmt/format.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace monarch::vmm::machine {

// The transports of the configured devices, in the order VirtioWiring attaches them.
[[nodiscard]] inline std::vector<VirtioTransport> virtio_wiring_order(VmConfig const& config)
{
    std::vector<VirtioTransport> order;
    for (auto const& disk : config.disks)
        order.push_back(disk.transport);
    for (auto const& net : config.nets)
        order.push_back(net.transport);
    if (config.rng)
        order.push_back(config.rng->transport);
    if (config.vsock)
        order.push_back(config.vsock->transport);
    if (config.console.mode != "off")
        order.push_back(config.console.transport);
    return order;
}

[[nodiscard]] inline size_t virtio_mmio_device_count(VmConfig const& config)
{
    size_t count = 0;
    for (auto transport : virtio_wiring_order(config))
        count += transport == VirtioTransport::Mmio ? 1 : 0;
    return count;
}

struct VirtioMmioSlot {
    uint64_t base { 0 };
    uint64_t size { 0 };
    uint32_t gsi { 0 };
};

// The n-th virtio-mmio device's slot; none past the window (layout::VIRTIO_MMIO_SLOTS).
[[nodiscard]] constexpr std::optional<VirtioMmioSlot> virtio_mmio_slot(size_t index)
{
    if (index >= layout::VIRTIO_MMIO_SLOTS)
        return std::nullopt;
    return VirtioMmioSlot { layout::virtio_mmio_base(index), layout::VIRTIO_MMIO_SLOT_SIZE, layout::VIRTIO_MMIO_GSIS[index] };
}

// Linux's form (drivers/virtio/virtio_mmio.c, vm_cmdline_set): <size>@<base>:<irq>, size with
// a K suffix, base in hex. Firecracker announces its devices the same way.
[[nodiscard]] inline std::string virtio_mmio_cmdline_word(VirtioMmioSlot const& slot)
{
    return fmt::format("virtio_mmio.device={}K@{:#x}:{}", slot.size / 1024, slot.base, slot.gsi);
}

// The guest's command line: one virtio_mmio.device= word per mmio device (slots past the
// window are left out; the option checks refuse such configs first), then the user's own.
// They go first so that a " -- " in the user's line (the rest goes to init) cannot swallow them.
[[nodiscard]] inline std::string kernel_cmdline_with_virtio_mmio(VmConfig const& config)
{
    std::string out;
    size_t const count = virtio_mmio_device_count(config);
    for (size_t index = 0; index < count; ++index) {
        auto slot = virtio_mmio_slot(index);
        if (!slot)
            break;
        out += virtio_mmio_cmdline_word(*slot);
        out += ' ';
    }
    if (out.empty())
        return config.cmdline;
    if (config.cmdline.empty())
        out.pop_back();
    return out + config.cmdline;
}

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// The virtio transports' state records, field by field through the snapshot's StateEncoder.

#include "vmm/machine/virtio_state_codec.h"

#include "vmm/snapshot/state_codec.h"

#include <cstring>

namespace monarch::vmm::machine {

namespace {

using snapshot::StateDecoder;
using snapshot::StateEncoder;

constexpr uint16_t VERSION = 1;
// Bounds on counts read from a record, before anything is allocated: a virtio-pci device has
// at most 511 queues (one MSI-X vector each plus the configuration vector, virtio_pci.h).
constexpr uint16_t MAX_QUEUES = 1024;

void encode_core(StateEncoder& out, virtio::TransportCoreState const& core)
{
    out.u8(core.status);
    out.u32(core.device_feature_select);
    out.u32(core.driver_feature_select);
    out.u64(core.driver_features);
    out.u32(core.config_generation);
    out.u16(core.queue_select);
    out.u16(static_cast<uint16_t>(core.queues.size()));
    for (auto const& queue : core.queues) {
        out.u16(queue.max_size);
        out.u16(queue.size);
        out.boolean(queue.ready);
        out.u64(queue.descriptor_table);
        out.u64(queue.driver_area);
        out.u64(queue.device_area);
        out.u16(queue.msix_vector);
    }
    out.u16(static_cast<uint16_t>(core.rings.size()));
    for (auto const& ring : core.rings) {
        out.u16(ring.config.size);
        out.u64(ring.config.descriptor_table.raw());
        out.u64(ring.config.available_ring.raw());
        out.u64(ring.config.used_ring.raw());
        out.boolean(ring.config.event_idx);
        out.boolean(ring.config.indirect);
        out.u16(ring.next_available);
        out.u16(ring.next_used);
        out.u16(ring.signalled_used);
        out.boolean(ring.signalled_valid);
        out.boolean(ring.broken);
    }
}

Result<virtio::QueueRegisters> decode_queue(StateDecoder& in)
{
    virtio::QueueRegisters queue;
    queue.max_size = TRY(in.u16());
    queue.size = TRY(in.u16());
    queue.ready = TRY(in.boolean());
    queue.descriptor_table = TRY(in.u64());
    queue.driver_area = TRY(in.u64());
    queue.device_area = TRY(in.u64());
    queue.msix_vector = TRY(in.u16());
    return queue;
}

Result<virtio::VirtqueueState> decode_ring(StateDecoder& in)
{
    virtio::VirtqueueState ring;
    ring.config.size = TRY(in.u16());
    ring.config.descriptor_table = GuestPhysAddr { TRY(in.u64()) };
    ring.config.available_ring = GuestPhysAddr { TRY(in.u64()) };
    ring.config.used_ring = GuestPhysAddr { TRY(in.u64()) };
    ring.config.event_idx = TRY(in.boolean());
    ring.config.indirect = TRY(in.boolean());
    ring.next_available = TRY(in.u16());
    ring.next_used = TRY(in.u16());
    ring.signalled_used = TRY(in.u16());
    ring.signalled_valid = TRY(in.boolean());
    ring.broken = TRY(in.boolean());
    return ring;
}

Result<virtio::TransportCoreState> decode_core(StateDecoder& in)
{
    virtio::TransportCoreState core;
    core.status = TRY(in.u8());
    core.device_feature_select = TRY(in.u32());
    core.driver_feature_select = TRY(in.u32());
    core.driver_features = TRY(in.u64());
    core.config_generation = TRY(in.u32());
    core.queue_select = TRY(in.u16());
    uint16_t const queues = TRY(in.u16());
    if (queues > MAX_QUEUES)
        return fail(Errc::Corrupt, "virtio state: too many queues");
    for (uint16_t index = 0; index < queues; ++index)
        core.queues.push_back(TRY(decode_queue(in)));
    uint16_t const rings = TRY(in.u16());
    if (rings > MAX_QUEUES)
        return fail(Errc::Corrupt, "virtio state: too many queue positions");
    for (uint16_t index = 0; index < rings; ++index)
        core.rings.push_back(TRY(decode_ring(in)));
    return core;
}

void encode_msix(StateEncoder& out, pci::MsixState const& msix)
{
    out.u16(static_cast<uint16_t>(msix.entries.size()));
    for (auto const& entry : msix.entries) {
        out.u32(entry.address_low);
        out.u32(entry.address_high);
        out.u32(entry.data);
        out.u32(entry.vector_control);
    }
    out.u16(static_cast<uint16_t>(msix.pending.size()));
    for (uint64_t word : msix.pending)
        out.u64(word);
    out.boolean(msix.enabled);
    out.boolean(msix.function_masked);
}

Result<pci::MsixState> decode_msix(StateDecoder& in)
{
    pci::MsixState msix;
    uint16_t const entries = TRY(in.u16());
    if (entries > pci::msix::MAX_VECTORS)
        return fail(Errc::Corrupt, "virtio-pci state: too many MSI-X vectors");
    for (uint16_t index = 0; index < entries; ++index) {
        pci::MsixEntry entry;
        entry.address_low = TRY(in.u32());
        entry.address_high = TRY(in.u32());
        entry.data = TRY(in.u32());
        entry.vector_control = TRY(in.u32());
        msix.entries.push_back(entry);
    }
    uint16_t const words = TRY(in.u16());
    if (words > (pci::msix::MAX_VECTORS + 63) / 64)
        return fail(Errc::Corrupt, "virtio-pci state: PBA too large");
    for (uint16_t index = 0; index < words; ++index)
        msix.pending.push_back(TRY(in.u64()));
    msix.enabled = TRY(in.boolean());
    msix.function_masked = TRY(in.boolean());
    return msix;
}

Result<void> check_type(StateDecoder& in, virtio::DeviceType expected)
{
    uint32_t const type = TRY(in.u32());
    if (type != static_cast<uint32_t>(expected))
        return fail(Errc::Corrupt, "virtio state: a record of another device type");
    return {};
}

} // namespace

std::vector<std::byte> encode_virtio_pci(virtio::DeviceType type, virtio::VirtioPciState const& state)
{
    StateEncoder out { "VPCI", VERSION };
    out.u32(static_cast<uint32_t>(type));
    encode_core(out, state.core);
    out.bytes(state.config);
    encode_msix(out, state.msix);
    out.u8(state.isr);
    out.u16(state.config_vector);
    return out.take();
}

Result<virtio::VirtioPciState> decode_virtio_pci(std::span<std::byte const> bytes, virtio::DeviceType expected)
{
    auto in = TRY(StateDecoder::open(bytes, "VPCI", VERSION));
    TRY_VOID(check_type(in, expected));
    virtio::VirtioPciState state;
    state.core = TRY(decode_core(in));
    auto config = TRY(in.bytes(pci::config::SIZE));
    if (config.size() != state.config.size())
        return fail(Errc::Corrupt, "virtio-pci state: configuration space is not 256 bytes");
    std::memcpy(state.config.data(), config.data(), config.size());
    state.msix = TRY(decode_msix(in));
    state.isr = TRY(in.u8());
    state.config_vector = TRY(in.u16());
    TRY_VOID(in.finish());
    return state;
}

std::vector<std::byte> encode_virtio_mmio(virtio::DeviceType type, virtio::VirtioMmioState const& state)
{
    StateEncoder out { "VMMI", VERSION };
    out.u32(static_cast<uint32_t>(type));
    encode_core(out, state.core);
    out.u32(state.interrupt_status);
    return out.take();
}

Result<virtio::VirtioMmioState> decode_virtio_mmio(std::span<std::byte const> bytes, virtio::DeviceType expected)
{
    auto in = TRY(StateDecoder::open(bytes, "VMMI", VERSION));
    TRY_VOID(check_type(in, expected));
    virtio::VirtioMmioState state;
    state.core = TRY(decode_core(in));
    state.interrupt_status = TRY(in.u32());
    TRY_VOID(in.finish());
    return state;
}

} // namespace monarch::vmm::machine

// SPDX-License-Identifier: Apache-2.0
// VirtioWiring's snapshot support: quiesce and thaw of every device, its transport state as
// "virtio.<slot>" / "virtio.mmio.<n>" records, and their restore with the KVM side (BAR mapping
// and ioeventfds, MSI routes, INTx level) re-established from the restored registers.

#include "vmm/machine/virtio_wiring.h"

#include "common/log.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/machine/virtio_state_codec.h"
#include "vmm/virtio/transport/virtio_mmio.h"
#include "vmm/virtio/transport/virtio_pci.h"

#include <boost/asio/dispatch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>
#include <variant>

namespace monarch::vmm::machine {

namespace {

constexpr std::string_view RECORD_PREFIX = "virtio.";

// "virtio.03" for the virtio-pci device in PCI slot 3, "virtio.mmio.0" for virtio-mmio slot 0.
[[nodiscard]] std::string record_name(uint8_t slot, bool mmio)
{
    return mmio ? fmt::format("{}mmio.{}", RECORD_PREFIX, slot) : fmt::format("{}{:02}", RECORD_PREFIX, slot);
}

// A template: VirtioWiring::TransportRef is private to the class, its members' code aside.
template<typename Ref>
[[nodiscard]] virtio::DeviceType device_type(Ref const& ref)
{
    return ref.pci ? ref.pci->device().device_type() : ref.mmio->device().device_type();
}

// A decoded record, ready to apply.
using DecodedState = std::variant<virtio::VirtioPciState, virtio::VirtioMmioState>;

} // namespace

Result<void> VirtioWiring::quiesce()
{
    // On the loop thread (the API's) or with the loop stopped: each device finishes its host
    // I/O synchronously (virtio-blk waits on io_uring), so nothing is in flight on return.
    for (auto const& ref : transports()) {
        if (ref.pci)
            ref.pci->quiesce();
        else
            ref.mmio->quiesce();
    }
    return {};
}

void VirtioWiring::thaw()
{
    // Vmm::resume() may run on another thread than the loop: the devices are the loop's.
    boost::asio::dispatch(m_resources.loop, [this] {
        for (auto const& ref : transports()) {
            if (ref.pci)
                ref.pci->thaw();
            else
                ref.mmio->thaw();
        }
    });
}

Result<std::vector<NamedState>> VirtioWiring::save_state() const
{
    std::vector<NamedState> records;
    for (auto const& ref : transports()) {
        auto const type = device_type(ref);
        if (ref.pci)
            records.push_back({ record_name(ref.slot, false), encode_virtio_pci(type, ref.pci->state()) });
        else
            records.push_back({ record_name(ref.slot, true), encode_virtio_mmio(type, ref.mmio->state()) });
    }
    return records;
}

Result<void> VirtioWiring::restore_state(std::span<NamedState const> records)
{
    auto const refs = transports();
    // Decode everything first: a record of another device set (a missing or extra slot, another
    // device type, a bad encoding) refuses the restore before any device changes.
    std::vector<DecodedState> states;
    for (auto const& ref : refs) {
        auto const name = record_name(ref.slot, ref.mmio != nullptr);
        auto record = std::find_if(records.begin(), records.end(), [&](NamedState const& r) { return r.name == name; });
        if (record == records.end())
            return fail(Errc::Corrupt, "virtio state: no record for a device of this VM");
        if (ref.pci)
            states.emplace_back(TRY(decode_virtio_pci(record->bytes, device_type(ref))));
        else
            states.emplace_back(TRY(decode_virtio_mmio(record->bytes, device_type(ref))));
    }
    for (auto const& record : records) {
        if (!record.name.starts_with(RECORD_PREFIX))
            continue;
        bool const known = std::any_of(refs.begin(), refs.end(), [&](TransportRef const& ref) { return record_name(ref.slot, ref.mmio != nullptr) == record.name; });
        if (!known)
            return fail(Errc::Corrupt, "virtio state: a record for a device this VM does not have");
    }
    // Every value checked by its transport before any device changes.
    for (size_t index = 0; index < refs.size(); ++index) {
        auto const& ref = refs[index];
        if (ref.mmio)
            TRY_VOID(ref.mmio->check_restore(std::get<virtio::VirtioMmioState>(states[index])));
        else
            TRY_VOID(ref.pci->check_restore(std::get<virtio::VirtioPciState>(states[index])));
    }
    for (size_t index = 0; index < refs.size(); ++index) {
        auto const& ref = refs[index];
        if (ref.mmio) {
            // Registers, queues, InterruptStatus (the edge irqfd is pulsed again if set).
            TRY_VOID(ref.mmio->restore(std::get<virtio::VirtioMmioState>(states[index])));
            continue;
        }
        // Registers, config space, MSI-X table (routes reported to the KvmMsiRouter), INTx.
        TRY_VOID(ref.pci->restore(std::get<virtio::VirtioPciState>(states[index])));
        // The host bridge maps the BARs from the restored registers when the command register
        // is written; moved BARs reach bar_moved() through its observer (ioeventfds follow).
        std::array<std::byte, 2> command {};
        ref.pci->config_read(pci::config::COMMAND, command);
        m_resources.root.config_write(0, ref.slot, 0, pci::config::COMMAND, command);
    }
    // Masked vectors' routes are only recorded by the routers; commit them all now.
    TRY_VOID(m_resources.routes.commit());
    log::info("virtio: {} devices restored", refs.size());
    return {};
}

} // namespace monarch::vmm::machine

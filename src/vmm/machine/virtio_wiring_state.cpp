// SPDX-License-Identifier: Apache-2.0
// VirtioWiring's snapshot support: quiesce and thaw of every device, its transport state as
// "virtio.<slot>" records, and their restore with the KVM side (BAR mapping and ioeventfds,
// MSI routes, INTx level) re-established from the restored registers.

#include "vmm/machine/virtio_wiring.h"

#include "common/log.h"
#include "vmm/devices/pci/pci_config_space.h"
#include "vmm/machine/virtio_state_codec.h"
#include "vmm/virtio/transport/virtio_pci.h"

#include <boost/asio/dispatch.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <string_view>

namespace monarch::vmm::machine {

namespace {

constexpr std::string_view RECORD_PREFIX = "virtio.";

[[nodiscard]] std::string record_name(uint8_t slot) { return fmt::format("{}{:02}", RECORD_PREFIX, slot); }

} // namespace

Result<void> VirtioWiring::quiesce()
{
    // On the loop thread (the API's) or with the loop stopped: each device finishes its host
    // I/O synchronously (virtio-blk waits on io_uring), so nothing is in flight on return.
    for (auto const& ref : transports())
        ref.transport->quiesce();
    return {};
}

void VirtioWiring::thaw()
{
    boost::asio::dispatch(m_resources.loop, [this] {
        for (auto const& ref : transports())
            ref.transport->thaw();
    });
}

Result<std::vector<NamedState>> VirtioWiring::save_state() const
{
    std::vector<NamedState> records;
    for (auto const& ref : transports()) {
        auto const type = ref.transport->device().device_type();
        records.push_back({ record_name(ref.slot), encode_virtio_pci(type, ref.transport->state()) });
    }
    return records;
}

Result<void> VirtioWiring::restore_state(std::span<NamedState const> records)
{
    auto const refs = transports();
    // Decode everything first: a record of another device set (a missing or extra slot, another
    // device type, a bad encoding) refuses the restore before any device changes.
    std::vector<virtio::VirtioPciState> states;
    for (auto const& ref : refs) {
        auto const name = record_name(ref.slot);
        auto record = std::find_if(records.begin(), records.end(), [&](NamedState const& r) { return r.name == name; });
        if (record == records.end())
            return fail(Errc::Corrupt, "virtio state: no record for a device of this VM");
        states.push_back(TRY(decode_virtio_pci(record->bytes, ref.transport->device().device_type())));
    }
    for (auto const& record : records) {
        if (!record.name.starts_with(RECORD_PREFIX))
            continue;
        bool const known = std::any_of(refs.begin(), refs.end(), [&](TransportRef const& ref) { return record_name(ref.slot) == record.name; });
        if (!known)
            return fail(Errc::Corrupt, "virtio state: a record for a device this VM does not have");
    }
    for (size_t index = 0; index < refs.size(); ++index) {
        auto const& ref = refs[index];
        // Registers, config space, MSI-X table (routes reported to the KvmMsiRouter), INTx.
        TRY_VOID(ref.transport->restore(states[index]));
        // The host bridge maps the BARs from the restored registers when the command register
        // is written; moved BARs reach bar_moved() through its observer (ioeventfds follow).
        std::array<std::byte, 2> command {};
        ref.transport->config_read(pci::config::COMMAND, command);
        m_resources.root.config_write(0, ref.slot, 0, pci::config::COMMAND, command);
        log::info("virtio: {} at PCI slot {} restored", ref.transport->name(), ref.slot);
    }
    // Masked vectors' routes are only recorded by the router; commit them all now.
    TRY_VOID(m_resources.routes.commit());
    return {};
}

} // namespace monarch::vmm::machine

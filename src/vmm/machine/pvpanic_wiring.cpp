// SPDX-License-Identifier: Apache-2.0
// The pvpanic device in the machine: its events' effect on the VM, the builder step that puts
// it on the PCI root (after the virtio devices, so that their slots are the same with and
// without it), and the restore of its configuration space from a snapshot.
#include "vmm/machine/pvpanic_wiring.h"

#include "common/log.h"
#include "vmm/exit_status.h"
#include "vmm/machine/vm_builder.h"

#include <array>
#include <atomic>
#include <memory>

namespace monarch::vmm::machine {

pci::PvPanic::Events pvpanic_events(ExitLatch& exit)
{
    // The guest can repeat an event as often as it likes: one line per VM is enough.
    auto crash_loaded_logged = std::make_shared<std::atomic<bool>>(false);
    return pci::PvPanic::Events {
        .panicked = [&exit] {
            // Runs on the vCPU that wrote the event; that vCPU leaves its loop at once (the
            // latch is checked after every exit) and the main thread stops the others.
            if (exit.request(exit_status::GuestPanicked))
                log::error("the guest panicked (pvpanic)");
        },
        .crash_loaded = [crash_loaded_logged] {
            if (!crash_loaded_logged->exchange(true))
                log::info("the guest panicked with a crash kernel loaded (pvpanic): the VM keeps running for it");
        },
    };
}

BuildResult<void> VmBuilder::attach_pvpanic()
{
    if (!m_config.pvpanic)
        return {};
    auto& vmm = *m_vmm;
    auto device = std::make_shared<pci::PvPanic>(pvpanic_events(*vmm.m_exit));
    auto attached = TRY_STEP(BuildStep::Devices, vmm.m_pci_root->attach(device));
    vmm.m_pvpanic = std::move(device);
    vmm.m_pvpanic_slot = attached.slot;
    log::info("pci 00:{:02x}.0 pvpanic", attached.slot);
    return {};
}

Result<void> Vmm::restore_pvpanic(std::span<std::byte const> config)
{
    if (!m_pvpanic || !m_pci_root)
        return fail(Errc::Corrupt, "snapshot: a pvpanic record for a VM without the device");
    TRY_VOID(m_pvpanic->restore_config(config));
    // The host bridge maps the BAR from the restored registers when the command register is
    // written (as VirtioWiring::restore_state does for its devices).
    std::array<std::byte, 2> command {};
    m_pvpanic->config_read(pci::config::COMMAND, command);
    m_pci_root->config_write(0, m_pvpanic_slot, 0, pci::config::COMMAND, command);
    return {};
}

} // namespace monarch::vmm::machine

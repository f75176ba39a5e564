// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/vmm.h"

#include "common/log.h"
#include "vmm/exit_status.h"

#include <unistd.h>

namespace monarch::vmm::machine {

Vmm::~Vmm() { stop_all(); }

Result<void> Vmm::start()
{
    if (m_console)
        TRY_VOID(m_console->start());
    return m_vcpus->start();
}

Result<std::unique_ptr<event::FdWatch>> Vmm::watch_exit(event::EventLoop& loop, std::function<void(int)> on_exit)
{
    // The latch's eventfd is read empty (the status itself stays in the latch), so that the
    // level-triggered watch does not fire again; the status is reported once only.
    return loop.watch_readable(m_exit->fd(), [this, on_exit = std::move(on_exit), reported = false]() mutable {
        uint64_t count = 0;
        (void)!::read(m_exit->fd(), &count, sizeof count);
        if (reported || !m_exit->requested())
            return;
        reported = true;
        on_exit(m_exit->status().value_or(exit_status::Internal));
    });
}

int Vmm::run(event::EventLoop& loop, int signal_fd)
{
    if (auto started = start(); !started) {
        log::error("cannot start the VM: {}", to_string(started.error()));
        stop_all();
        return exit_status::HostError;
    }
    auto signals = loop.watch_signals(signal_fd, [this](int signal_number) {
        log::info("signal {} received: stopping the VM", signal_number);
        m_exit->request(exit_status::Signalled);
    });
    auto exit = watch_exit(loop, [&loop](int status) { loop.stop(status); });
    if (!signals || !exit) {
        log::error("event loop: {}", to_string(!signals ? signals.error() : exit.error()));
        stop_all();
        return exit_status::HostError;
    }
    int status = loop.run();
    stop_all();
    auto counters = m_vcpus->counters().exits.load();
    log::debug("vm stopped after {} vCPU exits to user space ({} unclaimed port, {} unclaimed MMIO)", counters,
        m_vcpus->counters().unclaimed_pio.load(), m_vcpus->counters().unclaimed_mmio.load());
    return status;
}

void Vmm::pause()
{
    if (m_vcpus)
        m_vcpus->pause();
}

void Vmm::resume()
{
    if (m_virtio)
        m_virtio->thaw(); // after a snapshot's quiesce; nothing to do otherwise
    if (m_vcpus)
        m_vcpus->resume();
}

void Vmm::press_power_button()
{
    if (m_acpi_pm)
        m_acpi_pm->press_power_button();
}

std::optional<std::string> Vmm::serial_pty_path() const
{
    return m_serial ? m_serial->pty_path() : std::nullopt;
}

std::unique_ptr<CharBackend> Vmm::release_serial()
{
    stop_all(); // nothing of this VM uses the back end afterwards
    m_console.reset();
    return std::move(m_serial);
}

AcpiPmCounters Vmm::acpi_pm_counters() const
{
    return m_acpi_pm ? m_acpi_pm->counters() : AcpiPmCounters {};
}

void Vmm::stop_all()
{
    // vCPUs first (they call into devices and the back end), then the serial input thread.
    if (m_vcpus)
        m_vcpus->stop();
    // Then the devices (on the loop thread or after the loop stopped, as both callers are): a
    // disk completes or cancels its I/O in flight; writes the guest saw completed are already
    // on the image, and a completed flush was an fdatasync (SIGTERM from libvirt is followed
    // by SIGKILL 10 ms later, so nothing durable may wait for this).
    if (m_virtio)
        m_virtio->stop_devices();
    if (m_serial)
        m_serial->stop();
}

} // namespace monarch::vmm::machine

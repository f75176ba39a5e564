// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/vmm.h"

#include "common/log.h"
#include "vmm/exit_status.h"

#include <array>
#include <cerrno>
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

namespace monarch::vmm::machine {

Vmm::~Vmm() { stop_all(); }

int Vmm::run(int signal_fd)
{
    if (m_console) {
        if (auto started = m_console->start(); !started) {
            log::error("{}", to_string(started.error()));
            stop_all();
            return exit_status::HostError;
        }
    }
    if (auto started = m_vcpus->start(); !started) {
        log::error("cannot start the vCPUs: {}", to_string(started.error()));
        stop_all();
        return exit_status::HostError;
    }
    int status = wait_for_exit(signal_fd);
    stop_all();
    auto counters = m_vcpus->counters().exits.load();
    log::debug("vm stopped after {} vCPU exits to user space ({} unclaimed port, {} unclaimed MMIO)", counters,
        m_vcpus->counters().unclaimed_pio.load(), m_vcpus->counters().unclaimed_mmio.load());
    return status;
}

int Vmm::wait_for_exit(int signal_fd)
{
    std::array<pollfd, 2> fds {
        pollfd { m_exit->fd(), POLLIN, 0 },
        pollfd { signal_fd, POLLIN, 0 },
    };
    while (!m_exit->requested()) {
        // The timeout only bounds how long a lost wake-up could delay us; it never decides.
        int ready = ::poll(fds.data(), fds.size(), 1000);
        if (ready < 0 && errno != EINTR) {
            log::error("poll: {}", to_string(Error::from_errno("poll")));
            m_exit->request(exit_status::HostError);
            break;
        }
        if (fds[1].revents & POLLIN) {
            signalfd_siginfo info {};
            if (::read(signal_fd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
                log::info("signal {} received: stopping the VM", info.ssi_signo);
                m_exit->request(exit_status::Signalled);
            }
        }
    }
    return m_exit->status().value_or(exit_status::Internal);
}

void Vmm::stop_all()
{
    // vCPUs first (they call into devices and the back end), then the serial input thread.
    if (m_vcpus)
        m_vcpus->stop();
    if (m_serial)
        m_serial->stop();
}

} // namespace monarch::vmm::machine

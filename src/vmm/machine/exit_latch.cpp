// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/exit_latch.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace monarch::vmm::machine {

Result<ExitLatch> ExitLatch::create()
{
    UniqueFd event { ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    if (!event)
        return fail_errno("eventfd");
    return ExitLatch { std::move(event) };
}

bool ExitLatch::request(int status)
{
    int expected = -1;
    if (!m_status.compare_exchange_strong(expected, status, std::memory_order_acq_rel))
        return false;
    uint64_t one = 1;
    // A full counter (impossible: one write per latch) or a closed fd only delays the main
    // thread's wake-up until its next poll timeout; nothing to do about it here.
    (void)!::write(m_event.get(), &one, sizeof one);
    return true;
}

std::optional<int> ExitLatch::status() const
{
    int status = m_status.load(std::memory_order_acquire);
    if (status < 0)
        return std::nullopt;
    return status;
}

} // namespace monarch::vmm::machine

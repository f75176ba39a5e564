// SPDX-License-Identifier: Apache-2.0
// ExitLatch: how the VM's end is decided. Whoever sees a reason first (the guest's debug-exit
// write, an ACPI power-off, a triple fault on a vCPU thread, SIGTERM in the main thread) sets
// the exit status once; later reasons are ignored. Setting it wakes the main thread (eventfd).
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <atomic>
#include <optional>

namespace monarch::vmm::machine {

class ExitLatch {
public:
    [[nodiscard]] static Result<ExitLatch> create();
    ExitLatch(ExitLatch&& other) noexcept
        : m_event(std::move(other.m_event)), m_status(other.m_status.load()) {}

    // Records `status` if nothing was recorded yet; returns whether this call won.
    bool request(int status);
    [[nodiscard]] std::optional<int> status() const;
    [[nodiscard]] bool requested() const { return m_status.load(std::memory_order_acquire) >= 0; }
    // Readable (EPOLLIN/POLLIN) once a status is recorded.
    [[nodiscard]] int fd() const { return m_event.get(); }

private:
    explicit ExitLatch(UniqueFd event) : m_event(std::move(event)) {}

    UniqueFd m_event;
    std::atomic<int> m_status { -1 };
};

} // namespace monarch::vmm::machine

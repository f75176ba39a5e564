// SPDX-License-Identifier: Apache-2.0
// IrqLevel: drives an IrqLine from a device's state without holding the device's own mutex
// across IrqLine::set_level (which is a KVM ioctl in the VMM).
#pragma once

#include "vmm/devices/irq_line.h"

#include <mutex>

namespace monarch::vmm {

// Call update() after every state change, with a function that locks the device's state and
// returns the level it implies. The level is computed and applied under this object's own
// mutex, so concurrent updates cannot apply a stale level last: whichever update runs last
// sees the newest state. Lock order: this mutex, then the device's. set_level must not call
// back into the device (no IrqLine does). Unchanged levels are not re-sent.
class IrqLevel {
public:
    explicit IrqLevel(IrqLine& line) : m_line(line) {}

    template<typename ComputeLevel>
    void update(ComputeLevel&& compute_level)
    {
        std::lock_guard lock { m_mutex };
        bool const level = compute_level();
        if (level == m_asserted)
            return;
        m_asserted = level;
        m_line.set_level(level);
    }

    [[nodiscard]] bool asserted() const
    {
        std::lock_guard lock { m_mutex };
        return m_asserted;
    }

private:
    IrqLine& m_line;
    mutable std::mutex m_mutex;
    bool m_asserted { false }; // lines start deasserted
};

} // namespace monarch::vmm

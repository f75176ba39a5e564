// SPDX-License-Identifier: Apache-2.0
// PauseScope: pause for the length of a consistent read of guest structures.
#include "dkom/access/guest_access.h"

#include "common/log.h"

namespace monarch::dkom {

Result<PauseScope> PauseScope::create(GuestAccess& access)
{
    bool const was_running = !access.paused();
    if (was_running)
        TRY_VOID(access.pause());
    return PauseScope { access, was_running };
}

PauseScope::~PauseScope()
{
    if (!m_resume)
        return;
    if (auto resumed = m_access.resume(); !resumed)
        log::warn("introspection: cannot resume the guest: {}", to_string(resumed.error()));
}

} // namespace monarch::dkom

// SPDX-License-Identifier: Apache-2.0
// One booted guest per test process, started on first use.
#include "session.h"

#include "support/skip.h"

#include <catch2/catch.hpp>

namespace monarch::dkom::test {

Session& session()
{
    static Session s_session;
    if (s_session.guest)
        return s_session;
    monarch::test::require_program("qemu-system-x86_64");
    std::string why;
    auto const* profile = guest_profile(why);
    if (profile == nullptr)
        FAIL(why);
    auto layout = LinuxLayout::from_profile(*profile);
    if (!layout)
        FAIL("layout from the profile: " << to_string(layout.error()));
    s_session.layout = *layout;
    s_session.profile = profile;
    s_session.guest = LinuxGuest::boot(why);
    if (!s_session.guest)
        FAIL(why);
    auto access = QemuGuest::attach({ s_session.guest->gdb_address(), s_session.guest->memory_file() });
    if (!access)
        FAIL("attach: " << to_string(access.error()));
    s_session.access = std::move(*access);
    return s_session;
}

} // namespace monarch::dkom::test

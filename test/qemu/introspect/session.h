// SPDX-License-Identifier: Apache-2.0
// The booted guest, its GuestAccess and kernel layout that the test cases of one process share
// (ctest runs each case in its own process, so each case gets a fresh guest).
#pragma once

#include "dkom/linux/linux_layout.h"
#include "dkom/qemu/qemu_guest.h"
#include "linux_guest.h"

#include <memory>

namespace monarch::dkom::test {

struct Session {
    std::unique_ptr<LinuxGuest> guest;
    std::unique_ptr<QemuGuest> access;
    LinuxLayout layout;
    Profile const* profile { nullptr };
};

// Boots the guest on first use; fails the test case (or skips without QEMU) when it cannot.
Session& session();

} // namespace monarch::dkom::test

// SPDX-License-Identifier: Apache-2.0
// Process-wide set-up for sealing: libsodium's one-time initialisation and making the
// process undumpable while keys are live.
#pragma once

#include "common/result.h"

namespace monarch::crypt {

// Wraps sodium_init(). Call once from main() before any other function of monarch::crypt
// (the one global of the project, STYLE.md section 5); calling it again is harmless.
[[nodiscard]] Result<void> initialize();

// prctl(PR_SET_DUMPABLE, 0): no core file and no ptrace attach by other users while keys
// are in memory. It stays set for the life of the process.
[[nodiscard]] Result<void> make_process_undumpable();

} // namespace monarch::crypt

// SPDX-License-Identifier: Apache-2.0
// libsodium initialisation and the non-dumpable process flag.
#include "crypt/sodium.h"

#include <sodium.h>
#include <sys/prctl.h>

namespace monarch::crypt {

Result<void> initialize()
{
    // sodium_init returns 0 on first success, 1 if already initialised, -1 on failure
    // (libsodium docs, "Usage").
    if (sodium_init() < 0)
        return fail(Errc::Unsupported, "sodium_init failed");
    return {};
}

Result<void> make_process_undumpable()
{
    // SAFETY: PR_SET_DUMPABLE takes an integer argument and touches no memory of ours.
    if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        return fail_errno("prctl(PR_SET_DUMPABLE)");
    return {};
}

} // namespace monarch::crypt

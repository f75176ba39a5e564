// SPDX-License-Identifier: Apache-2.0
// Termination signals: SIGINT and SIGTERM are blocked in every thread (call this before the
// first thread starts, so all inherit the mask) and read from a signalfd by the main thread,
// which then stops the VM in order. SIGPIPE is ignored (a serial socket client may vanish).
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

namespace monarch::vmm::machine {

[[nodiscard]] Result<UniqueFd> block_termination_signals();

} // namespace monarch::vmm::machine

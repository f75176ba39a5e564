// SPDX-License-Identifier: Apache-2.0
#include "vmm/machine/signals.h"

#include <csignal>
#include <pthread.h>
#include <sys/signalfd.h>

namespace monarch::vmm::machine {

Result<UniqueFd> block_termination_signals()
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    if (int error = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); error != 0)
        return Failure(Error::from_errno(error, "pthread_sigmask"));
    UniqueFd fd { ::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK) };
    if (!fd)
        return fail_errno("signalfd");
    std::signal(SIGPIPE, SIG_IGN);
    return fd;
}

} // namespace monarch::vmm::machine

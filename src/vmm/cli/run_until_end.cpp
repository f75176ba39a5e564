// SPDX-License-Identifier: Apache-2.0
#include "vmm/cli/run_until_end.h"

#include "common/log.h"
#include "vmm/cli/build_error_message.h"
#include "vmm/exit_status.h"
#include "vmm/machine/vm_builder.h"

#include <cstdio>

namespace monarch::vmm::cli {

int run_until_end(std::unique_ptr<machine::Vmm> vmm, machine::VmConfig const& config, event::EventLoop& loop, int signal_fd,
    RebootPolicy const& policy)
{
    for (uint64_t boots = 1;; ++boots) {
        int const status = vmm->run(loop, signal_fd);
        if (status != exit_status::GuestReset)
            return status;
        if (!policy.reboot_on_reset) {
            log::info("the guest reset: ending (--no-reboot)");
            return exit_status::Success;
        }
        log::info("the guest reset: booting it again (boot {})", boots + 1);
        // The old VM goes first (its threads, its disks' locks and fds), but for its serial back end.
        auto serial = vmm->release_serial();
        vmm.reset();
        loop.rearm();
        auto rebuilt = machine::VmBuilder(config, loop).keep_serial(std::move(serial)).build();
        if (!rebuilt) {
            auto const failure = describe_build_error(rebuilt.error(), config, policy.host_total);
            std::fprintf(stderr, "monarch-vmm: error: reboot: %s\n", failure.text.c_str());
            return failure.status;
        }
        vmm = std::move(*rebuilt);
    }
}

} // namespace monarch::vmm::cli

// SPDX-License-Identifier: Apache-2.0
// The host side of one monarch-vmm process: starting it (its API socket created and listening
// here first, passed as --api-socket fd=3, as libvirt does, so no client can race its start),
// identifying it again after monarchd restarts (pid plus start time from /proc/PID/stat, so a
// reused pid is never taken for it), and its pidfd.
#pragma once

#include "common/result.h"
#include "common/unique_fd.h"

#include <cstdint>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace monarch::supervisor {

struct ProcessIdentity {
    pid_t pid { 0 };
    uint64_t start_time { 0 }; // /proc/PID/stat field 22, clock ticks after boot

    auto operator<=>(ProcessIdentity const&) const = default;
};

struct SpawnRequest {
    std::string vmm_path;
    std::string api_socket_path; // created here; an old file at the path is replaced
    std::string log_path;        // stdout and stderr, appended
    std::vector<std::string> extra_arguments;
};

struct SpawnedProcess {
    ProcessIdentity identity;
    UniqueFd pidfd;
};

// The VMM runs in its own session (no signal from monarchd's terminal reaches it), with
// default signal dispositions, an empty signal mask, stdin on /dev/null, and no other fd of
// monarchd: it outlives monarchd.
[[nodiscard]] Result<SpawnedProcess> spawn_vmm(SpawnRequest const&);

// The start time of a live (not zombie) process; NotFound when gone or a zombie.
[[nodiscard]] Result<uint64_t> process_start_time(pid_t);

// A pidfd for `identity` if that very process still runs (start time checked after the pidfd
// is open, so the pidfd cannot refer to a process that reused the pid). NotFound otherwise.
[[nodiscard]] Result<UniqueFd> open_process(ProcessIdentity const&);

// Sends a signal through the pidfd (never to a reused pid).
[[nodiscard]] Result<void> signal_process(int pidfd, int signal);

// For a child: its exit status, reaped through the pidfd. nullopt when it is not our child
// (an adopted VMM) or has not exited.
struct ExitStatus {
    bool exited { false }; // true: `code` is the exit status; false: killed by `signal`
    int code { 0 };
    int signal { 0 };
};
[[nodiscard]] std::optional<ExitStatus> reap_child(int pidfd);

} // namespace monarch::supervisor

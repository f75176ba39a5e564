// SPDX-License-Identifier: Apache-2.0
// LinuxLayout: the few symbols and structure members of a Linux kernel build that the OS
// model reads, resolved once from a Profile, so that the walks use plain numbers.
#pragma once

#include "dkom/profile/profile.h"

#include <cstdint>
#include <string>

namespace monarch::dkom {

struct MemberLayout {
    uint64_t offset { 0 };
    uint64_t size { 0 };
};

struct LinuxLayout {
    // Link-time (unslid) addresses of kernel-image symbols.
    uint64_t init_task { 0 };
    uint64_t linux_banner { 0 };
    uint64_t per_cpu_offset { 0 };     // __per_cpu_offset[NR_CPUS]
    // The per-CPU variable holding the running task: `current_task` (up to 6.1) or
    // `pcpu_hot` + pcpu_hot.current_task (6.2 on); an offset into each CPU's per-CPU area.
    uint64_t current_task_percpu { 0 };
    std::string banner;                // linux_banner's text, to find the KASLR slide

    uint64_t task_struct_size { 0 };
    MemberLayout task_tasks, task_pid, task_tgid, task_real_parent, task_comm, task_state, task_exit_state,
        task_cred, task_static_prio, task_policy, task_sum_exec_runtime, task_mm, task_signal,
        task_thread_node, task_flags;
    MemberLayout signal_thread_head;
    MemberLayout cred_uid;
    MemberLayout mm_pgd;
    MemberLayout list_next;

    // Every member checked for presence and plausible size; Errc::NotFound names the first one
    // missing ("profile: task_struct.__state missing").
    [[nodiscard]] static Result<LinuxLayout> from_profile(Profile const&);
};

} // namespace monarch::dkom

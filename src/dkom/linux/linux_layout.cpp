// SPDX-License-Identifier: Apache-2.0
// Resolving LinuxLayout from a profile; the member names are those of include/linux/sched.h,
// sched/signal.h, cred.h and mm_types.h in 6.x kernels.
#include "dkom/linux/linux_layout.h"

namespace monarch::dkom {

namespace {

struct MemberSpec {
    MemberLayout LinuxLayout::*target;
    char const* type;
    char const* path;
    uint64_t size; // required size, 0 for any
    char const* missing;
};

constexpr MemberSpec member_specs[] = {
    { &LinuxLayout::task_tasks, "task_struct", "tasks", 16, "profile: task_struct.tasks missing" },
    { &LinuxLayout::task_pid, "task_struct", "pid", 4, "profile: task_struct.pid missing" },
    { &LinuxLayout::task_tgid, "task_struct", "tgid", 4, "profile: task_struct.tgid missing" },
    { &LinuxLayout::task_real_parent, "task_struct", "real_parent", 8, "profile: task_struct.real_parent missing" },
    { &LinuxLayout::task_comm, "task_struct", "comm", 16, "profile: task_struct.comm missing" },
    { &LinuxLayout::task_state, "task_struct", "__state", 4, "profile: task_struct.__state missing" },
    { &LinuxLayout::task_exit_state, "task_struct", "exit_state", 4, "profile: task_struct.exit_state missing" },
    { &LinuxLayout::task_cred, "task_struct", "cred", 8, "profile: task_struct.cred missing" },
    { &LinuxLayout::task_static_prio, "task_struct", "static_prio", 4, "profile: task_struct.static_prio missing" },
    { &LinuxLayout::task_policy, "task_struct", "policy", 4, "profile: task_struct.policy missing" },
    { &LinuxLayout::task_sum_exec_runtime, "task_struct", "se.sum_exec_runtime", 8, "profile: task_struct.se.sum_exec_runtime missing" },
    { &LinuxLayout::task_mm, "task_struct", "mm", 8, "profile: task_struct.mm missing" },
    { &LinuxLayout::task_signal, "task_struct", "signal", 8, "profile: task_struct.signal missing" },
    { &LinuxLayout::task_thread_node, "task_struct", "thread_node", 16, "profile: task_struct.thread_node missing" },
    { &LinuxLayout::task_flags, "task_struct", "flags", 4, "profile: task_struct.flags missing" },
    { &LinuxLayout::signal_thread_head, "signal_struct", "thread_head", 16, "profile: signal_struct.thread_head missing" },
    { &LinuxLayout::cred_uid, "cred", "uid", 4, "profile: cred.uid missing" },
    { &LinuxLayout::mm_pgd, "mm_struct", "pgd", 8, "profile: mm_struct.pgd missing" },
    { &LinuxLayout::list_next, "list_head", "next", 8, "profile: list_head.next missing" },
};

Result<uint64_t> symbol(Profile const& profile, std::string_view name, std::string_view missing)
{
    auto const address = profile.symbol_address(name);
    if (!address)
        return fail(Errc::NotFound, missing);
    return *address;
}

} // namespace

Result<LinuxLayout> LinuxLayout::from_profile(Profile const& profile)
{
    LinuxLayout layout;
    layout.init_task = TRY(symbol(profile, "init_task", "profile: symbol init_task missing"));
    layout.linux_banner = TRY(symbol(profile, "linux_banner", "profile: symbol linux_banner missing"));
    layout.per_cpu_offset = TRY(symbol(profile, "__per_cpu_offset", "profile: symbol __per_cpu_offset missing"));
    if (auto const hot = profile.symbol_address("pcpu_hot")) {
        auto const member = profile.field("pcpu_hot", "current_task");
        if (!member)
            return fail(Errc::NotFound, "profile: pcpu_hot.current_task missing");
        layout.current_task_percpu = *hot + member->offset;
    } else {
        layout.current_task_percpu = TRY(symbol(profile, "current_task", "profile: symbol current_task missing"));
    }
    auto banner = profile.kernel_banner();
    if (!banner || banner->empty())
        return fail(Errc::NotFound, "profile: linux_banner text missing");
    layout.banner = std::move(*banner);
    auto const task_size = profile.type_size("task_struct");
    if (!task_size || *task_size < 64 || *task_size > 64 * 1024)
        return fail(Errc::NotFound, "profile: size of task_struct missing or implausible");
    layout.task_struct_size = *task_size;
    for (auto const& spec : member_specs) {
        auto const member = profile.field(spec.type, spec.path);
        if (!member || (spec.size != 0 && member->size != spec.size) || member->bit_size != 0)
            return fail(Errc::NotFound, spec.missing);
        layout.*spec.target = MemberLayout { member->offset, member->size };
    }
    return layout;
}

} // namespace monarch::dkom

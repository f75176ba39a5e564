// SPDX-License-Identifier: Apache-2.0
// Reading one task_struct (and the cred, parent and mm it points to) with every value
// checked for plausibility, and the thread list of one process.
#include "dkom/linux/linux_kernel.h"

#include <cstring>
#include <set>

namespace monarch::dkom {

namespace {

constexpr int32_t pid_max_limit = 4 * 1024 * 1024; // PID_MAX_LIMIT on 64-bit (include/linux/threads.h)
constexpr int32_t max_prio = 140;                  // MAX_PRIO (include/linux/sched/prio.h)
constexpr uint32_t pf_kthread = 0x0020'0000;       // PF_KTHREAD (include/linux/sched.h)

template<typename T>
T member(std::span<std::byte const> bytes, MemberLayout const& layout)
{
    T value {};
    std::memcpy(&value, bytes.data() + layout.offset, sizeof(T));
    return value;
}

// The letter /proc/PID/stat shows, as fs/proc/array.c's task_state_array orders them:
// the lowest set bit of (state | exit_state) & TASK_REPORT picks it; TASK_IDLE (TASK_UNINTERRUPTIBLE
// | TASK_NOLOAD) reads as 'I' (task_state_index() in include/linux/sched.h).
char state_letter(uint32_t state, uint32_t exit_state)
{
    constexpr uint32_t task_report = 0x7f;
    constexpr uint32_t task_idle = 0x0402;
    if (state == task_idle)
        return 'I';
    uint32_t const report = (state | exit_state) & task_report;
    static constexpr char letters[] = "SDTtXZP";
    if (report == 0)
        return 'R';
    return letters[__builtin_ctz(report)];
}

bool plausible_comm(std::span<std::byte const> comm)
{
    size_t length = 0;
    while (length < comm.size() && comm[length] != std::byte { 0 })
        ++length;
    if (length == comm.size())
        return false; // comm is always NUL-terminated within TASK_COMM_LEN
    for (size_t i = 0; i < length; ++i) {
        auto const c = static_cast<unsigned char>(comm[i]);
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

} // namespace

Result<TaskInfo> LinuxKernel::read_task(uint64_t task_address) const
{
    auto const& l = m_layout;
    std::vector<std::byte> bytes(l.task_struct_size);
    TRY_VOID(read_kernel(task_address, bytes));
    TaskInfo info;
    info.address = task_address;
    info.pid = member<int32_t>(bytes, l.task_pid);
    info.tgid = member<int32_t>(bytes, l.task_tgid);
    auto const comm = std::span<std::byte const>(bytes).subspan(l.task_comm.offset, l.task_comm.size);
    int32_t const static_prio = member<int32_t>(bytes, l.task_static_prio);
    info.policy = member<uint32_t>(bytes, l.task_policy);
    if (info.pid < 0 || info.pid > pid_max_limit || info.tgid < 0 || info.tgid > pid_max_limit)
        return fail(Errc::Corrupt, "task_struct: implausible pid (wrong profile?)");
    if (!plausible_comm(comm))
        return fail(Errc::Corrupt, "task_struct: implausible comm (wrong profile?)");
    if (static_prio < 0 || static_prio >= max_prio || info.policy > 7)
        return fail(Errc::Corrupt, "task_struct: implausible priority or policy (wrong profile?)");
    info.comm.assign(reinterpret_cast<char const*>(comm.data())); // SAFETY: NUL-terminated, checked above
    info.nice = static_prio - 120; // PRIO_TO_NICE (include/linux/sched/prio.h)
    uint32_t const state = member<uint32_t>(bytes, l.task_state);
    uint32_t const exit_state = member<uint32_t>(bytes, l.task_exit_state);
    info.state = state | exit_state;
    info.state_letter = state_letter(state, exit_state);
    info.sum_exec_runtime_ns = member<uint64_t>(bytes, l.task_sum_exec_runtime);
    info.kernel_thread = (member<uint32_t>(bytes, l.task_flags) & pf_kthread) != 0;

    uint64_t const parent = member<uint64_t>(bytes, l.task_real_parent);
    TRY_VOID(read_kernel(parent + l.task_pid.offset, std::as_writable_bytes(std::span(&info.parent_pid, 1))));
    uint64_t const cred = member<uint64_t>(bytes, l.task_cred);
    TRY_VOID(read_kernel(cred + l.cred_uid.offset, std::as_writable_bytes(std::span(&info.uid, 1))));
    if (uint64_t const mm = member<uint64_t>(bytes, l.task_mm); mm != 0) {
        uint64_t const pgd = TRY(read_pointer(mm + l.mm_pgd.offset));
        auto const hit = TRY(PageWalker { *m_access }.translate(m_kernel_space, GuestVirtAddr { pgd }));
        info.page_table_root = hit.gpa;
    }
    return info;
}

Result<void> LinuxKernel::walk_threads(uint64_t leader, WalkLimits const&, std::vector<TaskInfo>& out, size_t& budget) const
{
    auto const& l = m_layout;
    uint64_t const signal = TRY(read_pointer(leader + l.task_signal.offset));
    uint64_t const head = signal + l.signal_thread_head.offset;
    std::set<uint64_t> seen;
    // signal->thread_head links every thread of the group through task_struct.thread_node
    // (for_each_thread in include/linux/sched/signal.h), the leader included.
    uint64_t node = TRY(read_pointer(head + l.list_next.offset));
    while (node != head) {
        if (budget == 0)
            return fail(Errc::Corrupt, "thread list: longer than the limit (wrong profile or inconsistent memory?)");
        --budget;
        if (!seen.insert(node).second)
            return fail(Errc::Corrupt, "thread list: cycle that does not pass its head (wrong profile?)");
        uint64_t const task = node - l.task_thread_node.offset;
        if (task != leader)
            out.push_back(TRY(read_task(task)));
        node = TRY(read_pointer(node + l.list_next.offset));
    }
    return {};
}

} // namespace monarch::dkom

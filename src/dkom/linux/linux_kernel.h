// SPDX-License-Identifier: Apache-2.0
// LinuxKernel: a running Linux guest seen through GuestAccess and a profile: where its image
// lies (KASLR), its tasks, and which task each vCPU runs. Read-only: nothing here writes.
#pragma once

#include "dkom/linux/linux_layout.h"
#include "dkom/paging/kaslr.h"

#include <optional>
#include <string>
#include <vector>

namespace monarch::dkom {

struct TaskInfo {
    uint64_t address { 0 };       // the task_struct's kernel virtual address
    int32_t pid { 0 };
    int32_t tgid { 0 };
    int32_t parent_pid { 0 };     // real_parent->pid
    std::string comm;
    uint32_t state { 0 };         // __state | exit_state
    char state_letter { '?' };    // as /proc/PID/stat spells it: R S D T t X Z P I
    uint32_t uid { 0 };           // cred->uid
    int32_t nice { 0 };           // static_prio - 120
    uint32_t policy { 0 };        // SCHED_NORMAL 0, FIFO 1, RR 2, BATCH 3, IDLE 5, DEADLINE 6
    uint64_t sum_exec_runtime_ns { 0 };
    bool kernel_thread { false }; // PF_KTHREAD
    std::optional<GuestPhysAddr> page_table_root; // physical address of mm->pgd (the CR3 base)
};

struct WalkLimits {
    size_t max_tasks { 65536 };   // bound on every list walk
    bool threads { true };        // every thread, or only thread-group leaders
};

struct VcpuTask {
    VcpuId vcpu;
    std::optional<TaskInfo> task; // empty when the vCPU's per-CPU area cannot be identified
};

class LinuxKernel {
public:
    // Pauses the guest briefly, takes the kernel's page tables from a vCPU, and finds the
    // KASLR slide by the profile's linux_banner (kaslr.h). A profile of another kernel
    // build fails here, with Errc::NotFound.
    [[nodiscard]] static Result<LinuxKernel> attach(GuestAccess&, LinuxLayout);

    // All tasks (processes, and their threads when asked), from init_task along the `tasks`
    // list and each process's signal->thread_head. The guest is paused meanwhile.
    [[nodiscard]] Result<std::vector<TaskInfo>> tasks(WalkLimits const& = {});
    // The task with this pid (a thread id): Errc::NotFound when none has it.
    [[nodiscard]] Result<TaskInfo> task_by_pid(int32_t pid, WalkLimits const& = {});
    // For each vCPU, the task it runs (per-CPU current_task through its GS base).
    [[nodiscard]] Result<std::vector<VcpuTask>> running_tasks();
    // The same, cheaper: only each vCPU's current task_struct address (nullopt when its
    // per-CPU area cannot be identified). The guest must be paused.
    [[nodiscard]] Result<std::vector<std::optional<uint64_t>>> current_task_addresses();

    [[nodiscard]] int64_t slide() const { return m_slide.virtual_slide; }
    [[nodiscard]] AddressSpace const& kernel_space() const { return m_kernel_space; }
    [[nodiscard]] LinuxLayout const& layout() const { return m_layout; }
    [[nodiscard]] uint64_t runtime_address(uint64_t link_address) const { return link_address + static_cast<uint64_t>(m_slide.virtual_slide); }

    // Reads a kernel virtual range after checking the pointer is a canonical kernel-half address.
    [[nodiscard]] Result<void> read_kernel(uint64_t gva, std::span<std::byte> out) const;
    [[nodiscard]] Result<uint64_t> read_pointer(uint64_t gva) const;
    [[nodiscard]] Result<TaskInfo> read_task(uint64_t task_address) const;

    [[nodiscard]] GuestAccess& access() const { return *m_access; }

private:
    LinuxKernel(GuestAccess& access, LinuxLayout layout, AddressSpace space, KernelSlide slide)
        : m_access(&access), m_layout(std::move(layout)), m_kernel_space(space), m_slide(slide) {}
    Result<void> walk_threads(uint64_t leader, WalkLimits const&, std::vector<TaskInfo>& out, size_t& budget) const;

    GuestAccess* m_access;
    LinuxLayout m_layout;
    AddressSpace m_kernel_space;
    KernelSlide m_slide;
    std::vector<uint64_t> m_per_cpu_bases; // __per_cpu_offset[], read once (fixed after boot)
};

// True for canonical addresses in the kernel half (bit 63 set), the only place kernel
// structures can be.
[[nodiscard]] bool is_kernel_pointer(uint64_t gva, PagingLevels);

} // namespace monarch::dkom

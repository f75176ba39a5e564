// SPDX-License-Identifier: Apache-2.0
// Attaching to a Linux guest (KASLR), the bounded task-list walk, and per-vCPU current tasks.
#include "dkom/linux/linux_kernel.h"

#include <algorithm>
#include <set>

namespace monarch::dkom {

bool is_kernel_pointer(uint64_t gva, PagingLevels levels)
{
    return (gva >> 63) != 0 && is_canonical(GuestVirtAddr { gva }, levels);
}

Result<LinuxKernel> LinuxKernel::attach(GuestAccess& access, LinuxLayout layout)
{
    auto const pause = TRY(PauseScope::create(access));
    // The kernel half of every address space maps the kernel image, so any vCPU's CR3 will
    // do; a vCPU in user mode under page-table isolation (PTI) runs on the user copy of its
    // PGD, which is the kernel PGD with bit 12 set (arch/x86/mm/pti.c), so try that too.
    std::vector<AddressSpace> spaces;
    for (uint32_t index = 0; index < access.vcpu_count(); ++index) {
        auto const regs = TRY(access.read_registers(VcpuId { index }));
        if (!regs.has_system)
            return fail(Errc::Unsupported, "introspection: the back end gives no control registers");
        auto const space = AddressSpace::from_registers(regs);
        if (regs.in_kernel_mode())
            spaces.insert(spaces.begin(), space);
        else
            spaces.push_back(space);
        spaces.push_back(AddressSpace { GuestPhysAddr { space.root.raw() & ~uint64_t { 0x1000 } }, space.levels });
    }
    PageWalker const walker { access };
    auto const banner = std::as_bytes(std::span(layout.banner));
    Error last { Errc::NotFound, 0, "introspection: no vCPU" };
    for (auto const& space : spaces) {
        auto const slide = find_kernel_slide(walker, space, layout.linux_banner, banner);
        if (slide)
            return LinuxKernel { access, std::move(layout), space, *slide };
        last = slide.error();
    }
    return Failure(last);
}

Result<void> LinuxKernel::read_kernel(uint64_t gva, std::span<std::byte> out) const
{
    if (!is_kernel_pointer(gva, m_kernel_space.levels))
        return fail(Errc::Corrupt, "introspection: not a kernel pointer (wrong profile?)");
    return PageWalker { *m_access }.read_virtual(m_kernel_space, GuestVirtAddr { gva }, out);
}

Result<uint64_t> LinuxKernel::read_pointer(uint64_t gva) const
{
    uint64_t value = 0;
    TRY_VOID(read_kernel(gva, std::as_writable_bytes(std::span(&value, 1))));
    return value;
}

Result<std::vector<TaskInfo>> LinuxKernel::tasks(WalkLimits const& limits)
{
    auto const pause = TRY(PauseScope::create(*m_access));
    std::vector<TaskInfo> out;
    size_t budget = limits.max_tasks;
    uint64_t const init_task = runtime_address(m_layout.init_task);
    uint64_t const head = init_task + m_layout.task_tasks.offset;
    std::set<uint64_t> seen;
    // init_task (pid 0, the idle task of CPU 0) heads the circular list of thread-group
    // leaders linked through task_struct.tasks (include/linux/sched/signal.h, for_each_process).
    uint64_t task = init_task;
    for (;;) {
        if (budget == 0)
            return fail(Errc::Corrupt, "task list: longer than the limit (wrong profile or inconsistent memory?)");
        --budget;
        if (!seen.insert(task).second)
            return fail(Errc::Corrupt, "task list: cycle that does not pass init_task (wrong profile?)");
        out.push_back(TRY(read_task(task)));
        if (limits.threads)
            TRY_VOID(walk_threads(task, limits, out, budget));
        uint64_t const next = TRY(read_pointer(task + m_layout.task_tasks.offset + m_layout.list_next.offset));
        if (next == head)
            break;
        if (next < m_layout.task_tasks.offset)
            return fail(Errc::Corrupt, "task list: bad pointer (wrong profile?)");
        task = next - m_layout.task_tasks.offset;
    }
    return out;
}

Result<TaskInfo> LinuxKernel::task_by_pid(int32_t pid, WalkLimits const& limits)
{
    if (pid < 0)
        return fail(Errc::InvalidArgument, "pid must not be negative");
    auto const all = TRY(tasks(limits));
    for (auto const& task : all) {
        if (task.pid == pid)
            return task;
    }
    return fail(Errc::NotFound, "no task with that pid");
}

Result<std::vector<std::optional<uint64_t>>> LinuxKernel::current_task_addresses()
{
    uint32_t const vcpus = m_access->vcpu_count();
    // __per_cpu_offset[cpu] is each CPU's per-CPU base, which the kernel keeps in GS base
    // (in GS while in the kernel, in KERNEL_GS_BASE while in user mode: swapgs exchanges
    // them). A vCPU's base must be one of the array's entries before we trust it.
    if (m_per_cpu_bases.empty()) {
        std::vector<uint64_t> bases(std::min<uint32_t>(vcpus + 64, 8192));
        TRY_VOID(read_kernel(runtime_address(m_layout.per_cpu_offset), std::as_writable_bytes(std::span(bases))));
        m_per_cpu_bases = std::move(bases);
    }
    std::vector<std::optional<uint64_t>> out;
    for (uint32_t index = 0; index < vcpus; ++index) {
        auto const regs = TRY(m_access->read_segment_bases(VcpuId { index }));
        std::optional<uint64_t> current;
        for (uint64_t const base : { regs.gs_base, regs.kernel_gs_base }) {
            if (base == 0 || std::ranges::find(m_per_cpu_bases, base) == m_per_cpu_bases.end())
                continue;
            current = TRY(read_pointer(base + m_layout.current_task_percpu));
            break;
        }
        out.push_back(current);
    }
    return out;
}

Result<std::vector<VcpuTask>> LinuxKernel::running_tasks()
{
    auto const pause = TRY(PauseScope::create(*m_access));
    auto const addresses = TRY(current_task_addresses());
    std::vector<VcpuTask> out;
    for (uint32_t index = 0; index < addresses.size(); ++index) {
        VcpuTask entry { VcpuId { index }, std::nullopt };
        if (addresses[index])
            entry.task = TRY(read_task(*addresses[index]));
        out.push_back(std::move(entry));
    }
    return out;
}

} // namespace monarch::dkom

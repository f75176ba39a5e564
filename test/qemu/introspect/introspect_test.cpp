// SPDX-License-Identifier: Apache-2.0
// Introspection against a real kernel: the task list against the guest's own ps, running
// tasks against the task list, and clear errors for a wrong profile, a missing pid and a
// target that went away, with the guest still running afterwards.
#include "dkom/linux/cpu_sampler.h"
#include "dkom/linux/linux_kernel.h"
#include "dkom/qemu/qemu_guest.h"
#include "session.h"
#include "support/skip.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <sstream>
#include <thread>

using namespace monarch;
using namespace monarch::dkom;
using monarch::dkom::test::session;

namespace {

struct Entry {
    int ppid { 0 };
    std::string comm;
};
using Listing = std::map<int, Entry>; // by pid

// Parses `ps -o pid,ppid,comm` (busybox): a header line, then "PID PPID COMM".
Listing parse_ps(std::string const& text)
{
    Listing out;
    std::istringstream lines { text };
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields { line };
        int pid = 0;
        int ppid = 0;
        std::string comm;
        if (!(fields >> pid >> ppid))
            continue;
        std::getline(fields >> std::ws, comm);
        if (comm.size() >= 2 && comm.front() == '[' && comm.back() == ']')
            comm = comm.substr(1, comm.size() - 2);
        out[pid] = Entry { ppid, comm };
    }
    return out;
}

Listing introspected(LinuxKernel& kernel)
{
    auto const tasks = kernel.tasks({ .threads = false });
    REQUIRE(tasks.has_value());
    Listing out;
    for (auto const& task : *tasks) {
        if (task.pid != 0) // the idle task is not in /proc
            out[task.pid] = Entry { task.parent_pid, task.comm };
    }
    return out;
}

// /proc shows a workqueue worker's comm with its current workqueue appended
// ("kworker/0:1-events", fs/proc/array.c: proc_task_name → wq_worker_comm), cut to 15 bytes.
bool same_comm(std::string const& ours, std::string const& proc)
{
    if (ours == proc)
        return true;
    return ours.starts_with("kworker/") && proc.starts_with(ours + "-");
}

bool same(Listing const& listing, int pid, Entry const& entry)
{
    auto const found = listing.find(pid);
    return found != listing.end() && found->second.ppid == entry.ppid && same_comm(found->second.comm, entry.comm);
}

} // namespace

TEST_CASE("the process list equals the guest's own ps", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto const before = introspected(*kernel);
    auto const listing = s.guest->shell("ps -o pid,ppid,comm");
    REQUIRE(listing.has_value());
    auto const after = introspected(*kernel);
    auto const guest_view = parse_ps(*listing);
    INFO("guest ps:\n" << *listing);
    REQUIRE(guest_view.size() > 10);
    // Every process ps saw, other than ps itself, existed before or after it ran; every process
    // that existed both before and after ps ran was seen by ps.
    for (auto const& [pid, entry] : guest_view) {
        if (entry.comm == "ps")
            continue;
        INFO("guest: pid " << pid << " ppid " << entry.ppid << " comm " << entry.comm);
        CHECK((same(before, pid, entry) || same(after, pid, entry)));
    }
    size_t spinners = 0;
    for (auto const& [pid, entry] : before) {
        spinners += entry.comm == "spinner" ? 1 : 0;
        if (!after.contains(pid))
            continue;
        INFO("introspected: pid " << pid << " ppid " << entry.ppid << " comm " << entry.comm);
        auto const seen = guest_view.find(pid);
        REQUIRE(seen != guest_view.end());
        CHECK(seen->second.ppid == entry.ppid);
        CHECK(same_comm(entry.comm, seen->second.comm));
    }
    CHECK(spinners == 2);
}

TEST_CASE("each vCPU's current task is a known task, and a user-mode CR3 is its process's page table", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    REQUIRE(s.access->pause().has_value());
    auto const running = kernel->running_tasks();
    REQUIRE(running.has_value());
    auto const all = kernel->tasks();
    REQUIRE(all.has_value());
    REQUIRE(running->size() == 2);
    for (auto const& entry : *running) {
        REQUIRE(entry.task.has_value());
        bool const known = std::ranges::any_of(*all, [&](TaskInfo const& t) { return t.address == entry.task->address; });
        CHECK(known);
        auto const regs = s.access->read_registers(entry.vcpu);
        REQUIRE(regs.has_value());
        if (!regs->in_kernel_mode() && entry.task->page_table_root) {
            // Without PTI the user-mode CR3 is mm->pgd's physical address (PCID bits aside).
            CHECK((regs->cr3 & 0x000f'ffff'ffff'e000) == (entry.task->page_table_root->raw() & ~uint64_t { 0x1000 }));
        }
    }
    REQUIRE(s.access->resume().has_value());
}

TEST_CASE("a pid that does not exist is a clear not-found error", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto const missing = kernel->task_by_pid(4'000'000);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == Errc::NotFound);
    auto const init = kernel->task_by_pid(1);
    REQUIRE(init.has_value());
    CHECK(init->comm == "sh");
}

TEST_CASE("a profile with shifted offsets gives a clear error and the guest runs on", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto layout = s.layout;
    layout.task_tasks.offset += 8; // e.g. a profile of a slightly different build
    auto kernel = LinuxKernel::attach(*s.access, layout);
    REQUIRE(kernel.has_value()); // the image itself is where the profile says
    auto const tasks = kernel->tasks();
    REQUIRE_FALSE(tasks.has_value());
    INFO(to_string(tasks.error()));
    CHECK(tasks.error().code == Errc::Corrupt);
    CHECK_FALSE(s.access->paused());
    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}

TEST_CASE("a profile of another kernel build is refused at attach", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto layout = s.layout;
    layout.banner = "Linux version 5.10.0-99-amd64 (not this kernel)";
    auto const kernel = LinuxKernel::attach(*s.access, layout);
    REQUIRE_FALSE(kernel.has_value());
    CHECK(kernel.error().code == Errc::NotFound);
    auto const echo = s.guest->shell("echo alive-$((40+2))");
    REQUIRE(echo.has_value());
    CHECK(echo->find("alive-42") != std::string::npos);
}

TEST_CASE("a target that went away is a clear error", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    s.guest->kill_qemu();
    auto const tasks = kernel->tasks();
    REQUIRE_FALSE(tasks.has_value());
    INFO(to_string(tasks.error()));
    CHECK(tasks.error().code == Errc::Sys);
    CHECK(std::string(tasks.error().context) == "gdbstub: target went away");
    auto again = QemuGuest::attach({ s.guest->gdb_address(), s.guest->memory_file() });
    CHECK_FALSE(again.has_value());
}

TEST_CASE("CPU sampling attributes the busy vCPUs to the spinners, close to the guest's own accounting", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    auto const sampling = sample_cpu(*kernel, 20, std::chrono::seconds(3));
    REQUIRE(sampling.has_value());
    REQUIRE(sampling->samples >= 20);
    size_t spinners = 0;
    for (auto const& usage : sampling->tasks) {
        if (usage.comm != "spinner")
            continue;
        ++spinners;
        INFO("pid " << usage.pid << " samples " << usage.samples << " of " << sampling->samples << ", sampled "
                    << usage.sampled_seconds << " s, guest " << usage.guest_ns / 1e9 << " s");
        // Two spinners on two vCPUs: each runs most of the time.
        CHECK(usage.samples * 2 > sampling->samples);
        // Both count only the time the guest ran (its clock stops while the VM is paused for a
        // sample); they agree within a factor of two even on a loaded host.
        double const guest_seconds = static_cast<double>(usage.guest_ns) / 1e9;
        CHECK(guest_seconds > usage.sampled_seconds / 2);
        CHECK(guest_seconds < usage.sampled_seconds * 2);
    }
    CHECK(spinners == 2);
}

TEST_CASE("a guest on 5-level paging (LA57) is introspected the same way", "[qemu][dkom][linux][paging]")
{
    monarch::test::require_program("qemu-system-x86_64");
    std::string why;
    auto const* profile = dkom::test::guest_profile(why);
    REQUIRE(profile != nullptr);
    auto layout = LinuxLayout::from_profile(*profile);
    REQUIRE(layout.has_value());
    auto guest = dkom::test::LinuxGuest::boot(why, 2, "max");
    INFO(why);
    REQUIRE(guest != nullptr);
    auto access = QemuGuest::attach({ guest->gdb_address(), guest->memory_file() });
    REQUIRE(access.has_value());
    REQUIRE((*access)->pause().has_value());
    auto const regs = (*access)->read_registers(VcpuId { 0 });
    REQUIRE(regs.has_value());
    CHECK(regs->la57());
    REQUIRE((*access)->resume().has_value());
    auto kernel = LinuxKernel::attach(**access, *layout);
    REQUIRE(kernel.has_value());
    CHECK(kernel->kernel_space().levels == PagingLevels::Five);
    auto const ours = introspected(*kernel);
    auto const listing = guest->shell("ps -o pid,ppid,comm | grep spinner");
    REQUIRE(listing.has_value());
    auto const theirs = parse_ps(*listing);
    REQUIRE(theirs.size() == 2);
    for (auto const& [pid, entry] : theirs)
        CHECK(same(ours, pid, entry));
}

namespace {

// The thread ids the guest lists in /proc/PID/task.
std::set<int32_t> guest_threads(monarch::dkom::test::Session& s, int32_t pid, std::string& listing)
{
    auto const output = s.guest->shell("ls /proc/" + std::to_string(pid) + "/task");
    REQUIRE(output.has_value());
    listing = *output;
    std::istringstream in { listing };
    std::set<int32_t> tids;
    for (int32_t tid = 0; in >> tid;)
        tids.insert(tid);
    return tids;
}

} // namespace

TEST_CASE("the thread walk finds each thread the guest lists in /proc/PID/task", "[qemu][dkom][linux]")
{
    auto& s = session();
    auto kernel = LinuxKernel::attach(*s.access, s.layout);
    REQUIRE(kernel.has_value());
    // The spinners start their idle thread in the background after boot: wait (bounded) until
    // the guest itself lists both threads of each, so that both sides look at the same moment.
    auto const leaders = kernel->tasks({ .threads = false });
    REQUIRE(leaders.has_value());
    for (auto const& leader : *leaders) {
        if (leader.comm != "spinner")
            continue;
        std::string listing;
        for (int attempt = 0; attempt < 50 && guest_threads(s, leader.pid, listing).size() < 2; ++attempt)
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    auto const tasks = kernel->tasks({ .threads = true });
    REQUIRE(tasks.has_value());
    size_t spinners = 0;
    for (auto const& leader : *tasks) {
        if (leader.comm != "spinner" || leader.pid != leader.tgid)
            continue;
        ++spinners;
        std::string listing;
        auto const theirs = guest_threads(s, leader.pid, listing);
        std::set<int32_t> ours;
        for (auto const& task : *tasks) {
            if (task.tgid == leader.pid)
                ours.insert(task.pid);
        }
        INFO("spinner " << leader.pid << ": guest " << listing);
        CHECK(theirs.size() == 2); // the spinner and its idle thread
        CHECK(ours == theirs);
    }
    CHECK(spinners == 2);
}

// SPDX-License-Identifier: Apache-2.0
// The Linux OS model over a synthetic kernel in fake guest memory: KASLR attach, the task
// walk, and the clear errors a cycle or a garbage task gives (never a hang).
#include "dkom/linux/linux_kernel.h"
#include "fake_physical_memory.h"

#include <catch2/catch.hpp>
#include <cstring>

using namespace monarch;
using namespace monarch::dkom;

namespace {

constexpr uint64_t link_base = 0xffff'ffff'8100'0000;
constexpr uint64_t slide = 0x60'0000; // 6 MiB
constexpr uint64_t image_gpa = 0x40'0000;
constexpr char banner[] = "Linux version 6.1.0-fake";

// A one-vCPU GuestAccess over fake memory, in kernel mode with the fake kernel's CR3.
class FakeGuest final : public GuestAccess {
public:
    explicit FakeGuest(test::FakePhysicalMemory& memory) : m_memory(memory) {}
    Result<void> read_physical(GuestPhysAddr gpa, std::span<std::byte> out) override { return m_memory.read_physical(gpa, out); }
    Result<void> write_physical(GuestPhysAddr gpa, std::span<std::byte const> data) override { return m_memory.write_physical(gpa, data); }
    Result<void> pause() override { m_paused = true; return {}; }
    Result<void> resume() override { m_paused = false; return {}; }
    bool paused() const override { return m_paused; }
    uint32_t vcpu_count() const override { return 1; }
    Result<Registers> read_registers(VcpuId) override { return regs; }
    Result<void> write_registers(VcpuId, Registers const&) override { return fail(Errc::Unsupported, "fake"); }
    Result<void> set_breakpoint(GuestVirtAddr) override { return fail(Errc::Unsupported, "fake"); }
    Result<void> clear_breakpoint(GuestVirtAddr) override { return fail(Errc::Unsupported, "fake"); }
    Result<VcpuId> run_until_breakpoint(std::chrono::milliseconds) override { return fail(Errc::Unsupported, "fake"); }
    Result<VcpuId> run_vcpu_until_breakpoint(VcpuId, std::chrono::milliseconds) override { return fail(Errc::Unsupported, "fake"); }
    Result<void> step(VcpuId) override { return fail(Errc::Unsupported, "fake"); }

    Registers regs;

private:
    test::FakePhysicalMemory& m_memory;
    bool m_paused { false };
};

LinuxLayout fake_layout()
{
    LinuxLayout l;
    l.init_task = link_base + 0x1000;
    l.linux_banner = link_base + 0x100;
    l.per_cpu_offset = link_base + 0x800;
    l.current_task_percpu = 0x20;
    l.banner = banner;
    l.task_struct_size = 0x400;
    l.task_tasks = { 0x10, 16 };
    l.task_pid = { 0x20, 4 };
    l.task_tgid = { 0x24, 4 };
    l.task_real_parent = { 0x28, 8 };
    l.task_comm = { 0x30, 16 };
    l.task_state = { 0x40, 4 };
    l.task_exit_state = { 0x44, 4 };
    l.task_cred = { 0x48, 8 };
    l.task_static_prio = { 0x50, 4 };
    l.task_policy = { 0x54, 4 };
    l.task_sum_exec_runtime = { 0x58, 8 };
    l.task_mm = { 0x60, 8 };
    l.task_signal = { 0x68, 8 };
    l.task_thread_node = { 0x70, 16 };
    l.task_flags = { 0x80, 4 };
    l.signal_thread_head = { 0x10, 16 };
    l.cred_uid = { 0x4, 4 };
    l.mm_pgd = { 0x8, 8 };
    l.list_next = { 0, 8 };
    return l;
}

// The fake kernel: one 2 MiB page of image at link_base + slide, tasks at offsets 0x1000
// (init_task, pid 0), 0x2000 (pid 1) and 0x3000 (pid 7), each with its own signal struct.
struct FakeKernel {
    test::FakePhysicalMemory memory { 16 << 20 };
    FakeGuest guest { memory };
    uint64_t root { memory.new_table() };

    static uint64_t va(uint64_t offset) { return link_base + slide + offset; }
    void put(uint64_t offset, uint64_t value) { memory.put64(image_gpa + offset, value); }
    void put32(uint64_t offset, uint32_t value)
    {
        memory.write_physical(GuestPhysAddr { image_gpa + offset }, std::as_bytes(std::span(&value, 1))).value();
    }

    FakeKernel()
    {
        memory.map(root, 4, link_base + slide, image_gpa, 0x20'0000);
        memory.put_bytes(image_gpa + 0x100, banner);
        put(0x800, 0x10'0000'0000); // __per_cpu_offset[0]: not our GS base (left unused here)
        uint64_t const tasks[] = { 0x1000, 0x2000, 0x3000 };
        int32_t const pids[] = { 0, 1, 7 };
        char const* names[] = { "swapper/0", "init", "spinner" };
        for (size_t i = 0; i < 3; ++i) {
            uint64_t const t = tasks[i];
            uint64_t const signal = 0x8000 + i * 0x100;
            put(t + 0x10, va(tasks[(i + 1) % 3] + 0x10)); // tasks.next: a ring through init_task
            put32(t + 0x20, static_cast<uint32_t>(pids[i]));
            put32(t + 0x24, static_cast<uint32_t>(pids[i]));
            put(t + 0x28, va(i == 2 ? 0x2000 : 0x1000));    // real_parent
            memory.put_bytes(image_gpa + t + 0x30, names[i]);
            put32(t + 0x50, 120);                           // static_prio: nice 0
            put(t + 0x48, va(0x9000));                      // cred (uid 0)
            put(t + 0x68, va(signal));                      // signal
            put(signal + 0x10, va(t + 0x70));               // thread_head.next = the leader
            put(t + 0x70, va(signal + 0x10));               // thread_node.next = the head
        }
        guest.regs.has_system = true;
        guest.regs.cr3 = root;
        guest.regs.cs = 0x10;
    }
};

} // namespace

TEST_CASE("attach finds the slide and the walk lists every task once", "[unit][dkom][linux]")
{
    FakeKernel fake;
    auto kernel = LinuxKernel::attach(fake.guest, fake_layout());
    REQUIRE(kernel.has_value());
    CHECK(kernel->slide() == static_cast<int64_t>(slide));
    CHECK_FALSE(fake.guest.paused()); // attach pauses only for its own reads
    auto const tasks = kernel->tasks();
    REQUIRE(tasks.has_value());
    REQUIRE(tasks->size() == 3);
    CHECK((*tasks)[1].comm == "init");
    CHECK((*tasks)[2].pid == 7);
    CHECK((*tasks)[2].parent_pid == 1);
    CHECK((*tasks)[2].nice == 0);
    CHECK((*tasks)[2].state_letter == 'R');
    auto const missing = kernel->task_by_pid(99);
    REQUIRE_FALSE(missing.has_value());
    CHECK(missing.error().code == Errc::NotFound);
}

TEST_CASE("a task list cycle that skips init_task is an error, not a hang", "[unit][dkom][linux]")
{
    FakeKernel fake;
    fake.put(0x3000 + 0x10, FakeKernel::va(0x2000 + 0x10)); // pid 7 points back to pid 1
    auto kernel = LinuxKernel::attach(fake.guest, fake_layout());
    REQUIRE(kernel.has_value());
    auto const tasks = kernel->tasks();
    REQUIRE_FALSE(tasks.has_value());
    CHECK(tasks.error().code == Errc::Corrupt);
}

TEST_CASE("garbage where a task should be is reported as a wrong profile", "[unit][dkom][linux]")
{
    FakeKernel fake;
    fake.memory.put_bytes(image_gpa + 0x3000 + 0x30, "0123456789abcdefXYZ"); // comm not terminated
    auto kernel = LinuxKernel::attach(fake.guest, fake_layout());
    REQUIRE(kernel.has_value());
    auto const tasks = kernel->tasks();
    REQUIRE_FALSE(tasks.has_value());
    CHECK(tasks.error().code == Errc::Corrupt);
}

TEST_CASE("a pointer outside the kernel half is refused before any read", "[unit][dkom][linux]")
{
    FakeKernel fake;
    fake.put(0x2000 + 0x10, 0x0000'7fff'0000'0010); // a user-space address in tasks.next
    auto kernel = LinuxKernel::attach(fake.guest, fake_layout());
    REQUIRE(kernel.has_value());
    auto const tasks = kernel->tasks();
    REQUIRE_FALSE(tasks.has_value());
    CHECK(tasks.error().code == Errc::Corrupt);
}

TEST_CASE("a walk longer than the limit stops with an error", "[unit][dkom][linux]")
{
    FakeKernel fake;
    auto kernel = LinuxKernel::attach(fake.guest, fake_layout());
    REQUIRE(kernel.has_value());
    auto const tasks = kernel->tasks({ .max_tasks = 2 });
    REQUIRE_FALSE(tasks.has_value());
    CHECK(tasks.error().code == Errc::Corrupt);
}

TEST_CASE("a banner that is nowhere means the profile is of another kernel", "[unit][dkom][linux]")
{
    FakeKernel fake;
    auto layout = fake_layout();
    layout.banner = "Linux version 5.10";
    auto const kernel = LinuxKernel::attach(fake.guest, layout);
    REQUIRE_FALSE(kernel.has_value());
    CHECK(kernel.error().code == Errc::NotFound);
}

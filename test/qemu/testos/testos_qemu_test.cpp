// SPDX-License-Identifier: Apache-2.0
// testos's workloads booted under qemu-system-x86_64 with TCG (no KVM needed): PVH boot on
// microvm and pc, ring-3 output, SMP bring-up, preemption, the benchmarks' report lines, and
// the guest's exit status reaching the shell through isa-debug-exit ((v << 1) | 1).
#include "support/skip.h"
#include "support/subprocess.h"

#include "elf_reader.h"
#include "testos/abi.h"
#include "testos/task_table.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <unistd.h>
#include <string>
#include <vector>

using namespace monarch::test;
using namespace std::chrono_literals;

namespace {

struct Boot {
    std::string machine { "microvm" };
    int cpus { 1 };
    std::vector<std::string> extra {};
    bool debug_exit { true };
};

ProcessResult boot(std::string const& cmdline, Boot const& how = {})
{
    require_program("qemu-system-x86_64");
    std::vector<std::string> argv { "qemu-system-x86_64", "-accel", "tcg", "-M", how.machine, "-kernel", TESTOS_ELF,
        "-append", cmdline, "-nographic", "-nodefaults", "-no-user-config", "-serial", "stdio", "-m", "64M", "-smp",
        std::to_string(how.cpus) };
    if (how.debug_exit)
        argv.insert(argv.end(), { "-device", "isa-debug-exit,iobase=0xf4,iosize=4" });
    argv.insert(argv.end(), how.extra.begin(), how.extra.end());
    auto result = run_process(argv, { .timeout = 30s });
    std::erase(result.output, '\r'); // the guest's serial lines end in CR LF
    return result;
}

// QEMU's isa-debug-exit turns the guest's value v into the host status (v << 1) | 1.
int qemu_status(int guest_status) { return (guest_status << 1) | 1; }

bool contains(std::string const& haystack, std::string const& needle) { return haystack.find(needle) != std::string::npos; }

void require_guest_status(ProcessResult const& result, int guest_status)
{
    INFO(describe(result));
    REQUIRE_FALSE(result.timed_out);
    REQUIRE(result.exited);
    REQUIRE(result.exit_code == qemu_status(guest_status));
    REQUIRE(contains(result.output, "testos: exit status " + std::to_string(guest_status) + "\n"));
}

void require_smp(int cpus, std::string const& machine = "microvm")
{
    auto result = boot("testos.run=smp", { .machine = machine, .cpus = cpus });
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE(contains(result.output, "testos: " + std::to_string(cpus) + " CPUs found"));
    for (int cpu = 0; cpu < cpus; cpu++) {
        INFO("cpu " << cpu);
        REQUIRE(std::regex_search(result.output, std::regex("testos: cpu " + std::to_string(cpu) + " \\(apic [0-9]+\\) online")));
    }
}

} // namespace

TEST_CASE("testos says hello from ring 3 on microvm", "[qemu][testos]")
{
    auto result = boot("testos.run=hello");
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE(contains(result.output, "testos: hello from ring 3\n"));
}

TEST_CASE("testos says hello from ring 3 on pc, and hello is the default workload", "[qemu][testos]")
{
    auto result = boot("console=ttyS0", { .machine = "pc" });
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE(contains(result.output, "testos: hello from ring 3\n"));
}

TEST_CASE("testos brings up 2 vCPUs and every one reports from ring 3", "[qemu][testos]") { require_smp(2); }

TEST_CASE("testos brings up 4 vCPUs and every one reports from ring 3", "[qemu][testos]") { require_smp(4); }

TEST_CASE("testos finds the CPUs through the MP table when there is no ACPI", "[qemu][testos]")
{
    require_smp(2, "microvm,acpi=off");
}

TEST_CASE("testos preempts two spinners on one vCPU: both advance", "[qemu][testos]")
{
    auto result = boot("testos.run=spin:2");
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    std::regex spinner("testos: spinner pid ([0-9]+) counter ([0-9]+)");
    int seen = 0;
    for (auto it = std::sregex_iterator(result.output.begin(), result.output.end(), spinner); it != std::sregex_iterator(); ++it) {
        INFO((*it)[0].str());
        REQUIRE(std::stoull((*it)[2].str()) > 0);
        seen++;
    }
    REQUIRE(seen == 2);
}

// monarch-vmm may have no PIT: the TSC then comes from CPUID or a stated guess, and the LAPIC
// timer must still preempt.
TEST_CASE("testos boots and preempts without a PIT", "[qemu][testos]")
{
    auto result = boot("testos.run=spin:2", { .machine = "microvm,pit=off" });
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE_FALSE(contains(result.output, "calibrated against PIT"));
}

TEST_CASE("testos passes exit:N to the shell", "[qemu][testos]")
{
    for (int status : { 0, 7, 42, 63 }) {
        INFO("exit:" << status);
        require_guest_status(boot("testos.run=exit:" + std::to_string(status)), status);
    }
}

// Without a debug-exit device the status write goes nowhere and the kernel powers off through
// ACPI S5: PM1a_CNT on pc, the hardware-reduced sleep control register on microvm.
TEST_CASE("testos powers off through ACPI S5 when there is no debug-exit device", "[qemu][testos]")
{
    for (char const* machine : { "pc", "microvm" }) {
        auto result = boot("testos.run=exit:3", { .machine = machine, .debug_exit = false });
        INFO(machine << ": " << describe(result));
        REQUIRE_FALSE(result.timed_out);
        REQUIRE(result.exited);
        REQUIRE(result.exit_code == 0); // QEMU's own status after a guest power-off
        REQUIRE(contains(result.output, "testos: exit status 3\n"));
    }
}

TEST_CASE("testos rejects unknown workloads and bad option values with the usage status", "[qemu][testos]")
{
    for (char const* cmdline : { "testos.run=no-such-workload", "testos.run=spin:0", "testos.run=spin:99",
             "testos.run=exit:256", "testos.run=pio-bench:x", "testos.hz=5", "testos.timeout=soon" }) {
        INFO(cmdline);
        require_guest_status(boot(cmdline), TESTOS_EXIT_USAGE);
    }
}

TEST_CASE("testos.timeout= ends a workload that runs too long", "[qemu][testos]")
{
    auto result = boot("testos.run=pio-bench:4000000000 testos.timeout=1");
    require_guest_status(result, TESTOS_EXIT_TIMEOUT);
    REQUIRE(contains(result.output, "testos: testos.timeout=1 expired\n"));
}

TEST_CASE("testos's system calls keep their ABI (selftest workload)", "[qemu][testos]")
{
    auto result = boot("testos.run=selftest");
    require_guest_status(result, TESTOS_EXIT_SUCCESS);
    REQUIRE(contains(result.output, "testos: selftest: write\n"));
    REQUIRE(contains(result.output, "testos: selftest: 0 failures\n"));
}

TEST_CASE("testos pio-bench and mmio-bench report their exits", "[qemu][testos]")
{
    auto pio = boot("testos.run=pio-bench:2000");
    require_guest_status(pio, TESTOS_EXIT_SUCCESS);
    REQUIRE(std::regex_search(pio.output, std::regex("pio-bench: 2000 exits, [0-9]+ ns/exit")));
    auto mmio = boot("testos.run=mmio-bench:200");
    require_guest_status(mmio, TESTOS_EXIT_SUCCESS);
    REQUIRE(std::regex_search(mmio.output, std::regex("mmio-bench: 200 exits, [0-9]+ ns/exit")));
}

// QEMU resets on a triple fault; -no-reboot turns the reset into an exit (status 0, which is
// why the test looks for QEMU's own "Triple fault" log line and for the absence of any status).
TEST_CASE("testos triple-fault ends in a triple fault, not a hang", "[qemu][testos]")
{
    auto result = boot("testos.run=triple-fault", { .extra = { "-no-reboot", "-d", "cpu_reset" } });
    INFO(describe(result));
    REQUIRE_FALSE(result.timed_out);
    REQUIRE(result.exited);
    REQUIRE(contains(result.output, "testos: triple-fault:"));
    REQUIRE(contains(result.output, "Triple fault"));
    REQUIRE_FALSE(contains(result.output, "testos: exit status"));
}

// KVM cannot fetch instructions from MMIO (KVM_EXIT_INTERNAL_ERROR); TCG can, reads zeros there,
// and the guest arranged for that first instruction to raise #GP: a failure either way.
TEST_CASE("testos emulation-failure ends in a failure, not a hang", "[qemu][testos]")
{
    auto result = boot("testos.run=emulation-failure", { .extra = { "-no-reboot" } });
    require_guest_status(result, TESTOS_EXIT_EXCEPTION);
    REQUIRE(contains(result.output, "testos: exception 13 (#GP) error 0 at rip fed00000"));
}

TEST_CASE("testos reports a ring-3 page fault with vector, error code and RIP, then fails", "[qemu][testos]")
{
    auto result = boot("testos.run=user-fault");
    require_guest_status(result, TESTOS_EXIT_EXCEPTION);
    // error 5: a user-mode read of a present page (SDM 4.7, page-fault error code P|U/S).
    REQUIRE(std::regex_search(result.output, std::regex("testos: exception 14 \\(#PF\\) error 5 at rip [0-9a-f]+ \\(ring 3, cpu 0, pid 1\\)")));
}

// The task table read from outside, as an introspecting VMM would: guest RAM lives in a shared
// file, the table's address comes from testos.elf's symbol table, its layout from task_table.h.
TEST_CASE("testos's task table reads back from guest memory as documented", "[qemu][testos]")
{
    auto image = ElfImage::load(TESTOS_ELF);
    REQUIRE(image.has_value());
    auto symbol = image->symbol(TESTOS_TASK_TABLE_SYMBOL);
    REQUIRE(symbol.has_value());
    char path[] = "/tmp/testos-ram-XXXXXX";
    int fd = ::mkstemp(path);
    REQUIRE(fd >= 0);
    ::close(fd);
    auto result = boot("testos.run=spin:2", { .machine = "microvm,memory-backend=ram",
        .extra = { "-object", std::string("memory-backend-file,id=ram,size=64M,share=on,mem-path=") + path } });
    testos_task_table table {};
    {
        std::ifstream ram(path, std::ios::binary);
        ram.seekg(static_cast<std::streamoff>(symbol->value));
        ram.read(reinterpret_cast<char*>(&table), sizeof table);
        REQUIRE(ram.good());
    }
    ::unlink(path);
    require_guest_status(result, TESTOS_EXIT_SUCCESS);

    REQUIRE(table.magic == TESTOS_TASK_TABLE_MAGIC);
    REQUIRE(table.cpu_count == 1);
    REQUIRE(table.tick_hz == 100);
    REQUIRE(table.tsc_khz > 0);
    std::map<uint64_t, uint64_t> printed; // pid -> counter the guest printed
    std::regex spinner("testos: spinner pid ([0-9]+) counter ([0-9]+)");
    for (auto it = std::sregex_iterator(result.output.begin(), result.output.end(), spinner); it != std::sregex_iterator(); ++it)
        printed[std::stoull((*it)[1].str())] = std::stoull((*it)[2].str());
    REQUIRE(printed.size() == 2);
    int spinners = 0, coordinators = 0;
    for (auto const& task : table.tasks) {
        if (task.pid == 0)
            continue;
        std::string name(task.name, strnlen(task.name, sizeof task.name));
        INFO("pid " << task.pid << " " << name << " state " << task.state);
        REQUIRE(task.cpu == 0);
        REQUIRE(task.cr3 % 4096 == 0);
        REQUIRE(task.cr3 > 0x100000);
        REQUIRE(task.cr3 < 64 * 1024 * 1024);
        if (name == "spinner") {
            spinners++;
            REQUIRE(printed.count(task.pid) == 1);
            REQUIRE(task.counter >= printed[task.pid]); // they may run on after the print
            REQUIRE(task.ticks > 0);
            REQUIRE((task.state == TESTOS_TASK_RUNNABLE || task.state == TESTOS_TASK_RUNNING));
        } else if (name == "spin-wait") {
            coordinators++;
            REQUIRE(task.state == TESTOS_TASK_EXITED);
            REQUIRE(task.exit_status == 0);
        }
    }
    REQUIRE(spinners == 2);
    REQUIRE(coordinators == 1);
}

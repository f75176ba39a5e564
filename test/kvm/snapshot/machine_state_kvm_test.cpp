// SPDX-License-Identifier: Apache-2.0
// A whole machine through capture_machine_state and apply_machine_state: testos spinning in
// ring 3 is paused, its state and RAM go into a second VM built from the same config, and that
// VM finishes the workload without booting again; capture -> apply -> capture gives the same
// records on a VM that has not run, the pvpanic device's included. Needs /dev/kvm and testos.
#include "support/skip.h"
#include "vmm/machine/signals.h"
#include "vmm/machine/vm_builder.h"
#include "vmm/snapshot/machine_state.h"
#include "vmm/snapshot/vcpu_state.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <unistd.h>

using namespace monarch;
using namespace monarch::vmm;
using namespace std::chrono_literals;

namespace {

std::string testos_or_skip()
{
    monarch::test::require_kvm();
#ifdef MONARCH_TESTOS_ELF
    return MONARCH_TESTOS_ELF;
#else
    monarch::test::skip("testos.elf is not built in this tree (guests/testos)");
#endif
}

machine::VmConfig config(std::string const& kernel, std::string const& serial)
{
    machine::VmConfig config;
    config.kernel = kernel;
    config.cmdline = "testos.run=spin:2";
    config.memory = 64ull << 20;
    config.cpus = 1;
    config.serial = serial;
    return config;
}

std::unique_ptr<machine::Vmm> build(machine::VmConfig const& config, event::EventLoop& loop)
{
    auto vmm = machine::VmBuilder(config, loop).build();
    REQUIRE(vmm.has_value());
    return std::move(*vmm);
}

void copy_ram(GuestMemory& from, GuestMemory& to)
{
    REQUIRE(from.ranges().size() == to.ranges().size());
    for (auto const& range : from.ranges()) {
        auto source = from.span(range.base, range.size);
        REQUIRE(source.has_value());
        REQUIRE(to.write(range.base, *source).has_value());
    }
}

std::string slurp(std::string const& path)
{
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// Every record but the clock, which runs between two captures.
bool same_records(std::vector<NamedState> const& a, std::vector<NamedState> const& b)
{
    if (a.size() != b.size())
        return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].name != b[i].name)
            return false;
        if (a[i].name != snapshot::RECORD_CLOCK && !a[i].name.starts_with("vcpu") && a[i].bytes != b[i].bytes)
            return false;
    }
    return true;
}

} // namespace

TEST_CASE("testos paused mid-run goes on in a second VM from the captured state", "[kvm][snapshot]")
{
    auto const kernel = testos_or_skip();
    auto const dir = std::string(::getenv("TMPDIR") ? ::getenv("TMPDIR") : "/tmp");
    auto const serial_a = dir + "/machine_state_a." + std::to_string(::getpid());
    auto const serial_b = dir + "/machine_state_b." + std::to_string(::getpid());
    event::EventLoop loop;
    auto first = build(config(kernel, "file:" + serial_a), loop);
    REQUIRE(first->start().has_value());
    // Paused once booted, with the spinners running: the coordinator then sleeps 300 ms of
    // guest time before it reports. Boot time varies (nested KVM is emulated): poll for it.
    auto const deadline = std::chrono::steady_clock::now() + 60s;
    while (slurp(serial_a).find("testos: running spin:2") == std::string::npos && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(2ms);
    first->pause();
    REQUIRE(slurp(serial_a).find("testos: running spin:2") != std::string::npos);
    auto records = snapshot::capture_machine_state(*first);
    REQUIRE(records.has_value());
    auto names = snapshot::record_names(snapshot::shape_of(*first));
    CHECK(records->size() == names.size());

    auto second = build(config(kernel, "file:" + serial_b), loop);
    copy_ram(first->memory(), second->memory());
    first->stop();
    auto applied = snapshot::apply_machine_state(*second, *records);
    INFO((applied ? std::string("applied") : to_string(applied.error())));
    REQUIRE(applied.has_value());

    auto signals = machine::block_termination_signals();
    REQUIRE(signals.has_value());
    int const status = second->run(loop, signals->get());
    auto const before = slurp(serial_a);
    auto const after = slurp(serial_b);
    INFO("first VM:\n" << before << "\nsecond VM:\n" << after);
    CHECK(status == 0);                                               // every spinner's counter advanced
    CHECK(after.find("testos: spinner pid") != std::string::npos);   // the coordinator woke up there
    CHECK(before.find("testos: spinner pid") == std::string::npos);  // ...and not before the pause
    CHECK(after.find("CPUs found") == std::string::npos);            // no second boot
    std::remove(serial_a.c_str());
    std::remove(serial_b.c_str());
}

TEST_CASE("capture, apply and capture again on a VM that has not run give the same records", "[kvm][snapshot]")
{
    auto const kernel = testos_or_skip();
    auto const serial = std::string("off");
    event::EventLoop loop;
    auto first = build(config(kernel, serial), loop);
    auto second = build(config(kernel, serial), loop);
    auto records = snapshot::capture_machine_state(*first);
    REQUIRE(records.has_value());
    REQUIRE(snapshot::apply_machine_state(*second, *records).has_value());
    auto again = snapshot::capture_machine_state(*second);
    REQUIRE(again.has_value());
    CHECK(same_records(*records, *again));
    for (size_t i = 0; i < records->size(); ++i) {
        if (!(*records)[i].name.starts_with("vcpu"))
            continue;
        auto a = snapshot::decode_vcpu((*records)[i].bytes);
        auto b = snapshot::decode_vcpu((*again)[i].bytes);
        REQUIRE(a.has_value());
        REQUIRE(b.has_value());
        // The TSC and Hyper-V's vCPU runtime and reference time counters run between the captures.
        auto running = [](kvm_msr_entry const& e) { return e.index == 0x10 || e.index == 0x40000010 || e.index == 0x40000020; };
        std::erase_if(a->msrs, running);
        std::erase_if(b->msrs, running);
        CHECK(snapshot::same_vcpu_state(*a, *b));
    }
    auto missing = *records;
    missing.pop_back();
    CHECK(snapshot::apply_machine_state(*second, missing).error().code == Errc::Corrupt);
}

TEST_CASE("a VM with pvpanic carries the device's configuration space through capture and apply", "[kvm][snapshot][pvpanic]")
{
    auto const kernel = testos_or_skip();
    auto with_pvpanic = config(kernel, "off");
    with_pvpanic.pvpanic = true;
    event::EventLoop loop;
    auto first = build(with_pvpanic, loop);
    auto second = build(with_pvpanic, loop);
    REQUIRE(first->pvpanic() != nullptr);
    // What a guest may do to the device: turn its memory decoding off.
    std::array<std::byte, 2> command {};
    first->pvpanic()->config_write(pci::config::COMMAND, command);
    auto records = snapshot::capture_machine_state(*first);
    REQUIRE(records.has_value());
    CHECK(std::ranges::count(*records, std::string(snapshot::RECORD_PVPANIC), &NamedState::name) == 1);
    auto applied = snapshot::apply_machine_state(*second, *records);
    INFO((applied ? std::string("applied") : to_string(applied.error())));
    REQUIRE(applied.has_value());
    CHECK(second->pvpanic()->config_state() == first->pvpanic()->config_state());
    auto again = snapshot::capture_machine_state(*second);
    REQUIRE(again.has_value());
    CHECK(same_records(*records, *again));

    // A VM built without the device (another config) refuses the record set.
    auto without = build(config(kernel, "off"), loop);
    CHECK(without->pvpanic() == nullptr);
    CHECK(snapshot::apply_machine_state(*without, *records).error().code == Errc::Corrupt);
}

// SPDX-License-Identifier: Apache-2.0
// GsiRouteTable: the legacy routes stay, MSI routes come and go with the vectors' masks,
// commits are batched (one KVM_SET_GSI_ROUTING per change set, none when nothing changed), and
// a change never waits for a commit's ioctl.
#include "vmm/machine/adapters/kvm_msi_router.h"
#include "vmm/machine/irq_routing.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::machine;

namespace {

struct Recorder {
    std::vector<std::vector<kvm_irq_routing_entry>> commits;
    bool fail_next { false };
    GsiRouteTable::Sink sink()
    {
        return [this](std::span<kvm_irq_routing_entry const> entries) -> Result<void> {
            if (fail_next) {
                fail_next = false;
                return fail(Errc::Sys, "test: KVM_SET_GSI_ROUTING refused");
            }
            commits.emplace_back(entries.begin(), entries.end());
            return {};
        };
    }
};

std::vector<kvm_irq_routing_entry> msi_entries(std::vector<kvm_irq_routing_entry> const& all)
{
    std::vector<kvm_irq_routing_entry> out;
    for (auto const& entry : all)
        if (entry.type == KVM_IRQ_ROUTING_MSI)
            out.push_back(entry);
    return out;
}

} // namespace

TEST_CASE("gsi routes: MSI GSIs start above the IOAPIC pins and are reused after release", "[unit][pci][msi]")
{
    Recorder recorder;
    GsiRouteTable table { legacy_gsi_routing(), recorder.sink() };
    auto first = table.allocate();
    auto second = table.allocate();
    REQUIRE(first.has_value());
    REQUIRE(second.has_value());
    CHECK(first->raw() == IOAPIC_PINS);
    CHECK(second->raw() == IOAPIC_PINS + 1);
    table.release(*first);
    CHECK(table.allocate()->raw() == IOAPIC_PINS);
    for (uint32_t gsi = IOAPIC_PINS + 2; gsi < MSI_GSI_LIMIT; ++gsi)
        REQUIRE(table.allocate().has_value());
    CHECK(table.allocate().error().code == Errc::OutOfRange);
}

TEST_CASE("gsi routes: the table keeps the legacy routes and adds one MSI route per live vector", "[unit][pci][msi]")
{
    Recorder recorder;
    auto const legacy = legacy_gsi_routing();
    GsiRouteTable table { legacy, recorder.sink() };
    auto a = *table.allocate();
    auto b = *table.allocate();
    REQUIRE(table.commit().has_value()); // the first commit installs the legacy routes
    REQUIRE(recorder.commits.size() == 1);
    CHECK(recorder.commits[0].size() == legacy.size());

    table.set_msi_route(b, pci::MsiMessage { 0x1'fee0'1000, 0x4051 });
    table.set_msi_route(a, pci::MsiMessage { 0xfee0'0000, 0x4041 });
    table.set_msi_route(a, pci::MsiMessage { 0xfee0'2000, 0x4042 });
    CHECK(table.dirty());
    REQUIRE(table.commit().has_value());
    REQUIRE(table.commit().has_value()); // nothing changed: no second ioctl
    REQUIRE(recorder.commits.size() == 2);
    auto const& committed = recorder.commits[1];
    CHECK(committed.size() == legacy.size() + 2);
    for (size_t i = 0; i < legacy.size(); ++i) {
        CHECK(committed[i].gsi == legacy[i].gsi);
        CHECK(committed[i].type == KVM_IRQ_ROUTING_IRQCHIP);
    }
    auto const msi = msi_entries(committed);
    REQUIRE(msi.size() == 2);
    CHECK(msi[0].gsi == a.raw());
    CHECK(msi[0].u.msi.address_lo == 0xfee02000);
    CHECK(msi[0].u.msi.address_hi == 0);
    CHECK(msi[0].u.msi.data == 0x4042);
    CHECK(msi[1].gsi == b.raw());
    CHECK(msi[1].u.msi.address_hi == 1);

    // Masking drops a route; setting the same route again changes nothing.
    table.set_msi_route(b, pci::MsiMessage { 0x1'fee0'1000, 0x4051 });
    CHECK_FALSE(table.dirty());
    table.set_msi_route(b, std::nullopt);
    REQUIRE(table.commit().has_value());
    CHECK(msi_entries(recorder.commits.back()).size() == 1);
    table.release(a);
    REQUIRE(table.commit().has_value());
    CHECK(msi_entries(recorder.commits.back()).empty());
}

TEST_CASE("gsi routes: a failed commit stays dirty and is retried", "[unit][pci][msi]")
{
    Recorder recorder;
    GsiRouteTable table { legacy_gsi_routing(), recorder.sink() };
    auto gsi = *table.allocate();
    table.set_msi_route(gsi, pci::MsiMessage { 0xfee00000, 0x30 });
    recorder.fail_next = true;
    CHECK_FALSE(table.commit().has_value());
    CHECK(table.dirty());
    REQUIRE(table.commit().has_value());
    CHECK(msi_entries(recorder.commits.back()).size() == 1);
}

TEST_CASE("gsi routes: routes change while a commit's ioctl runs, and the change waits for the next commit", "[unit][pci][msi]")
{
    // The sink stands for a slow KVM_SET_GSI_ROUTING: it blocks until the test lets it go.
    std::mutex mutex;
    std::condition_variable changed;
    bool in_ioctl = false;
    bool release = false;
    std::vector<std::vector<kvm_irq_routing_entry>> commits;
    GsiRouteTable table { legacy_gsi_routing(), [&](std::span<kvm_irq_routing_entry const> entries) -> Result<void> {
                             std::unique_lock lock { mutex };
                             commits.emplace_back(entries.begin(), entries.end());
                             in_ioctl = true;
                             changed.notify_all();
                             changed.wait(lock, [&] { return release; });
                             in_ioctl = false;
                             return {};
                         } };
    auto gsi = *table.allocate();
    table.set_msi_route(gsi, pci::MsiMessage { 0xfee00000, 0x30 });
    bool committed = false;
    std::thread committer { [&] { committed = table.commit().has_value(); } };
    {
        std::unique_lock lock { mutex };
        changed.wait(lock, [&] { return in_ioctl; });
    }
    // A vCPU thread's update during the ioctl: it returns without waiting for the ioctl.
    std::thread vcpu { [&] { table.set_msi_route(gsi, pci::MsiMessage { 0xfee00000, 0x31 }); } };
    vcpu.join();
    CHECK(table.dirty());
    {
        std::lock_guard lock { mutex };
        CHECK(in_ioctl); // still inside the first commit
        release = true;
    }
    changed.notify_all();
    committer.join();
    CHECK(committed);
    // The first commit had the old vector; the change made during it is still to be committed.
    REQUIRE(commits.size() == 1);
    CHECK(msi_entries(commits[0]).at(0).u.msi.data == 0x30);
    CHECK(table.dirty());
    REQUIRE(table.commit().has_value());
    REQUIRE(commits.size() == 2);
    CHECK(msi_entries(commits[1]).at(0).u.msi.data == 0x31);
    CHECK_FALSE(table.dirty());
}

// SPDX-License-Identifier: Apache-2.0
// The machine's reaction to pvpanic events: a panic sets the ExitLatch to GuestPanicked (as the
// debug-exit and ACPI paths set theirs), a loaded crash kernel leaves the VM running.
#include "vmm/devices/pci/pvpanic.h"
#include "vmm/exit_status.h"
#include "vmm/machine/exit_latch.h"
#include "vmm/machine/pvpanic_wiring.h"

#include <catch2/catch.hpp>
#include <array>
#include <poll.h>

using namespace monarch::vmm;
using namespace monarch::vmm::machine;

namespace {

void write_event(pci::PvPanic& device, uint8_t value)
{
    std::array<std::byte, 1> data { std::byte { value } };
    device.bar_write(pci::PVPANIC_BAR, 0, data);
}

bool latch_readable(ExitLatch const& latch)
{
    pollfd poll_fd { latch.fd(), POLLIN, 0 };
    return ::poll(&poll_fd, 1, 0) == 1;
}

} // namespace

TEST_CASE("pvpanic events: a panic ends the VM with GuestPanicked", "[unit][pci][pvpanic]")
{
    auto latch = ExitLatch::create();
    REQUIRE(latch.has_value());
    pci::PvPanic device { pvpanic_events(*latch) };
    write_event(device, pci::pvpanic_event::PANICKED);
    CHECK(latch->status() == exit_status::GuestPanicked);
    CHECK(exit_status::GuestPanicked == 83);
    CHECK(latch_readable(*latch)); // the main thread is woken
    // A second panic (another vCPU) changes nothing.
    write_event(device, pci::pvpanic_event::PANICKED);
    CHECK(latch->status() == exit_status::GuestPanicked);
}

TEST_CASE("pvpanic events: a loaded crash kernel keeps the VM running", "[unit][pci][pvpanic]")
{
    auto latch = ExitLatch::create();
    REQUIRE(latch.has_value());
    pci::PvPanic device { pvpanic_events(*latch) };
    for (int repeat = 0; repeat < 3; ++repeat)
        write_event(device, pci::pvpanic_event::CRASH_LOADED);
    CHECK_FALSE(latch->requested());
    CHECK_FALSE(latch_readable(*latch));
    // The kdump kernel may panic in turn: that one ends the VM.
    write_event(device, pci::pvpanic_event::PANICKED);
    CHECK(latch->status() == exit_status::GuestPanicked);
}

TEST_CASE("pvpanic events: an end already decided stays", "[unit][pci][pvpanic]")
{
    auto latch = ExitLatch::create();
    REQUIRE(latch.has_value());
    REQUIRE(latch->request(exit_status::Signalled));
    pci::PvPanic device { pvpanic_events(*latch) };
    write_event(device, pci::pvpanic_event::PANICKED);
    CHECK(latch->status() == exit_status::Signalled);
}

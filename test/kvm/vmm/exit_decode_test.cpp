// SPDX-License-Identifier: Apache-2.0
// kvm::decode_exit on hand-filled kvm_run pages (every exit kind the vCPU loop handles, and
// offsets KVM could get wrong), the fault-report formatting, and the ExitLatch.
#include "vmm/kvm/kvm.h"
#include "vmm/kvm/vcpu_exit.h"
#include "vmm/machine/exit_latch.h"
#include "vmm/machine/guest_fault_report.h"
#include "vmm/machine/irq_routing.h"

#include <catch2/catch.hpp>
#include <cstring>
#include "vmm/kvm/kvm_uapi.h"
#include <poll.h>
#include <vector>

using namespace monarch;
using namespace monarch::vmm;
using namespace monarch::vmm::kvm;

namespace {

// A kvm_run "mapping": the struct followed by room for PIO data, as KVM lays it out.
struct FakeRun {
    static constexpr size_t SIZE = 8192;
    std::vector<uint64_t> storage = std::vector<uint64_t>(SIZE / 8, 0);
    kvm_run& run() { return *reinterpret_cast<kvm_run*>(storage.data()); }
    std::byte* bytes() { return reinterpret_cast<std::byte*>(storage.data()); }
};

} // namespace

TEST_CASE("a port write exit points at its data inside the page", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_IO;
    run.io.direction = KVM_EXIT_IO_OUT;
    run.io.port = 0x3f8;
    run.io.size = 1;
    run.io.count = 3;
    run.io.data_offset = 4096;
    std::memcpy(page.bytes() + 4096, "abc", 3);
    auto exit = decode_exit(run, FakeRun::SIZE);
    auto const* io = std::get_if<exit::Io>(&exit);
    REQUIRE(io);
    CHECK(io->direction == exit::Direction::Out);
    CHECK(io->port == 0x3f8);
    CHECK(io->width == 1);
    CHECK(io->count == 3);
    REQUIRE(io->data.size() == 3);
    CHECK(io->data.data() == page.bytes() + 4096);
    CHECK(std::memcmp(io->data.data(), "abc", 3) == 0);
}

TEST_CASE("a port exit whose data lies outside the page is not trusted", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_IO;
    run.io.direction = KVM_EXIT_IO_IN;
    run.io.size = 4;
    run.io.count = 2;
    run.io.data_offset = FakeRun::SIZE - 4; // 8 bytes needed, 4 left
    CHECK(std::holds_alternative<exit::Unknown>(decode_exit(run, FakeRun::SIZE)));
    run.io.data_offset = FakeRun::SIZE + 16;
    CHECK(std::holds_alternative<exit::Unknown>(decode_exit(run, FakeRun::SIZE)));
    run.io.data_offset = 4096;
    run.io.size = 0;
    CHECK(std::holds_alternative<exit::Unknown>(decode_exit(run, FakeRun::SIZE)));
}

TEST_CASE("a rep port exit may end exactly at the mapping's end, never wrap past it", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_IO;
    run.io.direction = KVM_EXIT_IO_IN;
    run.io.size = 4;
    run.io.count = 2;
    run.io.data_offset = FakeRun::SIZE - 8; // exactly the 8 bytes needed
    auto exit = decode_exit(run, FakeRun::SIZE);
    auto const* io = std::get_if<exit::Io>(&exit);
    REQUIRE(io);
    CHECK(io->data.data() + io->data.size() == page.bytes() + FakeRun::SIZE);
    // 4 * 0x40000001 is 4 in 32-bit arithmetic: the length must be computed without wrapping.
    run.io.data_offset = 4096;
    run.io.count = 0x40000001;
    CHECK(std::holds_alternative<exit::Unknown>(decode_exit(run, FakeRun::SIZE)));
}

TEST_CASE("an MMIO read exit exposes the data bytes to fill", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_MMIO;
    run.mmio.phys_addr = 0xfed00000;
    run.mmio.len = 4;
    run.mmio.is_write = 0;
    auto exit = decode_exit(run, FakeRun::SIZE);
    auto const* mmio = std::get_if<exit::Mmio>(&exit);
    REQUIRE(mmio);
    CHECK(mmio->direction == exit::Direction::In);
    CHECK(mmio->address == 0xfed00000);
    REQUIRE(mmio->data.size() == 4);
    CHECK(reinterpret_cast<uint8_t*>(mmio->data.data()) == run.mmio.data);
    run.mmio.len = 200; // nonsense length: clamped to the 8-byte data field
    auto clamped = decode_exit(run, FakeRun::SIZE);
    CHECK(std::get<exit::Mmio>(clamped).data.size() == 8);
}

TEST_CASE("an emulation failure carries KVM's instruction bytes when flagged", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
    run.emulation_failure.suberror = KVM_INTERNAL_ERROR_EMULATION;
    run.emulation_failure.ndata = 3;
    run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
    run.emulation_failure.insn_size = 3;
    uint8_t bytes[] = { 0x0f, 0xc7, 0x0e };
    std::memcpy(run.emulation_failure.insn_bytes, bytes, 3);
    auto exit = decode_exit(run, FakeRun::SIZE);
    auto const* failure = std::get_if<exit::EmulationFailure>(&exit);
    REQUIRE(failure);
    REQUIRE(failure->instruction);
    CHECK(*failure->instruction == std::vector<uint8_t> { 0x0f, 0xc7, 0x0e });
    CHECK(machine::format_bytes(*failure->instruction) == "0f c7 0e");

    run.emulation_failure.flags = 0; // an older KVM: no bytes, the VMM reads guest memory instead
    CHECK_FALSE(std::get<exit::EmulationFailure>(decode_exit(run, FakeRun::SIZE)).instruction);
    run.emulation_failure.flags = KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES;
    run.emulation_failure.ndata = 1; // flag set but the bytes not covered by ndata
    CHECK_FALSE(std::get<exit::EmulationFailure>(decode_exit(run, FakeRun::SIZE)).instruction);
    run.emulation_failure.ndata = 3;
    run.emulation_failure.insn_size = 200; // clamped to the 15-byte field
    CHECK(std::get<exit::EmulationFailure>(decode_exit(run, FakeRun::SIZE)).instruction->size() == 15);
}

TEST_CASE("other internal errors keep their suberror and data", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_INTERNAL_ERROR;
    run.internal.suberror = KVM_INTERNAL_ERROR_DELIVERY_EV;
    run.internal.ndata = 2;
    run.internal.data[0] = 0x80000b0e;
    run.internal.data[1] = 0x1234;
    auto exit = decode_exit(run, FakeRun::SIZE);
    auto const* internal = std::get_if<exit::InternalError>(&exit);
    REQUIRE(internal);
    CHECK(internal->suberror == KVM_INTERNAL_ERROR_DELIVERY_EV);
    CHECK(internal->data == std::vector<uint64_t> { 0x80000b0e, 0x1234 });
    run.internal.ndata = 1000; // clamped to the 16-word array
    CHECK(std::get<exit::InternalError>(decode_exit(run, FakeRun::SIZE)).data.size() == 16);
}

TEST_CASE("HLT, SHUTDOWN, system events, failed entries, EINTR and unknown exits decode", "[unit][kvm]")
{
    FakeRun page;
    auto& run = page.run();
    run.exit_reason = KVM_EXIT_HLT;
    CHECK(std::holds_alternative<exit::Hlt>(decode_exit(run, FakeRun::SIZE)));
    run.exit_reason = KVM_EXIT_SHUTDOWN;
    CHECK(std::holds_alternative<exit::Shutdown>(decode_exit(run, FakeRun::SIZE)));
    run.exit_reason = KVM_EXIT_SYSTEM_EVENT;
    run.system_event.type = KVM_SYSTEM_EVENT_RESET;
    CHECK(std::get<exit::SystemEvent>(decode_exit(run, FakeRun::SIZE)).type == KVM_SYSTEM_EVENT_RESET);
    run.exit_reason = KVM_EXIT_FAIL_ENTRY;
    run.fail_entry.hardware_entry_failure_reason = 0x21;
    run.fail_entry.cpu = 3;
    auto entry = std::get<exit::FailEntry>(decode_exit(run, FakeRun::SIZE));
    CHECK(entry.hardware_reason == 0x21);
    CHECK(entry.cpu == 3);
    run.exit_reason = KVM_EXIT_INTR;
    CHECK(std::holds_alternative<exit::Interrupted>(decode_exit(run, FakeRun::SIZE)));
    run.exit_reason = 9999;
    CHECK(std::get<exit::Unknown>(decode_exit(run, FakeRun::SIZE)).reason == 9999);
}

TEST_CASE("the triple-fault register line names every register", "[unit][kvm]")
{
    kvm_regs regs {};
    kvm_sregs sregs {};
    regs.rip = 0xffffffff81000000;
    regs.rsp = 0x8ff0;
    sregs.cr0 = 0x80050033;
    sregs.cr3 = 0x9000;
    sregs.cr4 = 0x20;
    sregs.efer = 0x500;
    CHECK(machine::format_register_line(regs, sregs)
        == "rip=0xffffffff81000000 rsp=0x8ff0 cr0=0x80050033 cr3=0x9000 cr4=0x20 efer=0x500");
}

TEST_CASE("the exit latch keeps the first status and wakes its fd", "[unit][vmm]")
{
    auto latch = machine::ExitLatch::create();
    REQUIRE(latch);
    CHECK_FALSE(latch->requested());
    pollfd before { latch->fd(), POLLIN, 0 };
    CHECK(::poll(&before, 1, 0) == 0);
    CHECK(latch->request(7));
    CHECK_FALSE(latch->request(0));
    CHECK(latch->status() == 7);
    pollfd after { latch->fd(), POLLIN, 0 };
    CHECK(::poll(&after, 1, 0) == 1);
}

TEST_CASE("legacy GSI routing sends the PIT to IOAPIC pin 2 and leaves the cascade alone", "[unit][vmm]")
{
    auto routes = machine::legacy_gsi_routing();
    auto pins_of = [&](uint32_t gsi, uint32_t irqchip) {
        std::vector<uint32_t> pins;
        for (auto const& route : routes)
            if (route.gsi == gsi && route.type == KVM_IRQ_ROUTING_IRQCHIP && route.u.irqchip.irqchip == irqchip)
                pins.push_back(route.u.irqchip.pin);
        return pins;
    };
    CHECK(pins_of(0, KVM_IRQCHIP_IOAPIC) == std::vector<uint32_t> { 2 });
    CHECK(pins_of(0, KVM_IRQCHIP_PIC_MASTER) == std::vector<uint32_t> { 0 });
    CHECK(pins_of(2, KVM_IRQCHIP_IOAPIC).empty());
    CHECK(pins_of(2, KVM_IRQCHIP_PIC_MASTER).empty());
    CHECK(pins_of(4, KVM_IRQCHIP_IOAPIC) == std::vector<uint32_t> { 4 });   // COM1
    CHECK(pins_of(4, KVM_IRQCHIP_PIC_MASTER) == std::vector<uint32_t> { 4 });
    CHECK(pins_of(9, KVM_IRQCHIP_PIC_SLAVE) == std::vector<uint32_t> { 1 }); // the SCI
    CHECK(pins_of(9, KVM_IRQCHIP_IOAPIC) == std::vector<uint32_t> { 9 });
    CHECK(pins_of(23, KVM_IRQCHIP_IOAPIC) == std::vector<uint32_t> { 23 });
    CHECK(routes.size() == 7 + 8 + 23);
}

TEST_CASE("opening KVM where there is none says what is missing", "[unit][kvm]")
{
    auto absent = Kvm::open("/nonexistent/kvm");
    REQUIRE_FALSE(absent);
    CHECK(absent.error().code == Errc::NotFound);
    CHECK(absent.error().context == NO_DEV_KVM_MESSAGE);
    // A device that is not KVM refuses KVM's first ioctl.
    auto not_kvm = Kvm::open("/dev/null");
    REQUIRE_FALSE(not_kvm);
    CHECK(not_kvm.error().code == Errc::Sys);
    CHECK(not_kvm.error().context == "KVM_GET_API_VERSION");
}
